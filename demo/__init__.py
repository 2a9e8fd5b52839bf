"""The demo fund: seeded markets, trades and signals, and `load_demo` that books them
through every app's services. Nothing imports it."""
