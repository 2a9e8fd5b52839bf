"""Shared infrastructure without models or domain rules: errors, the fund's calendar, the
input rules, batch writes, roles, signals, charts, base API and admin classes,
formatting. The apps import it; it imports no app."""
