"""Settings of the HTTP benchmark: the product's, plus the floor view; BENCH_UNCACHED=1
puts a cache that stores nothing in front, so every request computes its answer."""

import os

from pms_site.settings import *  # noqa: F403 — the product's settings, unchanged but these

ROOT_URLCONF = "bench_urls"
if os.environ.get("BENCH_UNCACHED") == "1":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
