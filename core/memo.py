"""Values derived from stored data and kept between reads: a matrix of market moves that is a
function of the prices and FX rates alone is computed once, not at every read.

`remember(dataset, key, compute)` returns the bytes `compute()` gives, or those it gave
before for the same key if `dataset`'s data has not changed since. The apps call it; the
site plugs in where the bytes are kept (`pms_site.cache.remember`, set at start-up: in the
cache, under the data set's generation, which a committed write of that data replaces).
Without a store, as in a bare script, each call computes.
"""

from collections.abc import Callable

Store = Callable[[str, str, Callable[[], bytes]], bytes]


def _compute(dataset: str, key: str, compute: Callable[[], bytes]) -> bytes:
    return compute()


store: Store = _compute


def remember(dataset: str, key: str, compute: Callable[[], bytes]) -> bytes:
    return store(dataset, key, compute)
