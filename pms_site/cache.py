"""The read cache of the hot endpoints: the book, live risk, attribution, the morning pack.

- One key function per data set; each data set has a tier (`PMS_CACHE_TTLS`, seconds).
- Invalidation by generation: each data set has a generation number in the cache, and a
  payload is valid only if it was computed under the current one. A change sets a new
  generation (one SET, no key scan); a payload computed while a change commits carries the
  old generation and is never served.
- A data set is computed by its selector (a value: dataclasses of Decimals and dates) and
  shown by its serializer. The HTTP edge stores and reads the JSON bytes of the answer,
  ready to send; readers inside (the dashboard) store and read the value, under a key of
  its own. Each form is stored by the first reader that wants it, with its generation and
  the time it was computed: pickling a large book's value costs more than rendering it,
  so the writes' refreshes and the HTTP reads never pay for it. A hit is one MGET
  (generation + payload), no database query; an HTTP hit sends the stored bytes as they
  are, the cache fields after them.
- A cold key is computed once: the first request takes a lock (SET NX), the others wait
  for its result, then compute themselves if it does not come.
- The cache never fails a request. Any cache error opens a breaker for a few seconds:
  requests go to the database without touching the cache, the error is logged once, and
  the cache is tried again afterwards. A process that sees the cache come back makes
  every data set stale before it reads again: another process may have written during
  the outage and lost its invalidation, so no payload older than that write is served.
"""

import functools
import logging
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django import db
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import post_delete, post_save
from django.http import HttpResponse
from prometheus_client import Counter
from rest_framework.renderers import JSONRenderer
from rest_framework.serializers import Serializer

from briefing.models import MorningPack
from core.signals import data_changed
from portfolio.models import (
    CapitalFlow,
    FundTerms,
    FxRate,
    Instrument,
    PortfolioSnapshot,
    Position,
    PositionSnapshot,
    Price,
    Strategy,
    Trade,
)
from risk.models import RiskLimit, RiskSnapshot

logger = logging.getLogger("pms.cache")

CACHE_READS = Counter(
    "pms_cache_reads",
    "Reads of a cached data set: hit, miss (computed and stored) or bypass (cache down).",
    ["dataset", "result"],
)


@functools.cache
def _counted(dataset: str, result: str) -> Any:
    """The counter of one (data set, result): bound once, not looked up on every read."""
    return CACHE_READS.labels(dataset, result)


# Which writes make which data sets stale, declared once: a write of rows of the model (one
# by one, which sends Django's model signals, or in bulk by a service, which sends
# `core.signals.data_changed` with the model as sender) makes these data sets stale once it
# commits. "market" is the market matrices that `core.memo` keeps.
_BOOK = ("book", "risk", "attribution")
_MARKET = ("market", *_BOOK)
_SNAPSHOTS = ("attribution", "risk")  # the risk snapshots give the drawdown's peak
INVALIDATES: dict[type[Model], tuple[str, ...]] = {
    Price: _MARKET,
    FxRate: _MARKET,
    Instrument: _BOOK,
    Strategy: _BOOK,
    CapitalFlow: _BOOK,
    FundTerms: _BOOK,  # the live day's carry and fees
    Position: _BOOK,  # marks included
    Trade: _BOOK,
    RiskLimit: ("risk",),
    RiskSnapshot: _SNAPSHOTS,
    PortfolioSnapshot: ("book", *_SNAPSHOTS),  # the live day starts from the last close's
    PositionSnapshot: _SNAPSHOTS,
    MorningPack: ("morning_pack",),
}
ALL_DATASETS = frozenset(d for datasets in INVALIDATES.values() for d in datasets)
BREAKER_SECONDS = 5.0
LOCK_SECONDS = 30
WAIT_SECONDS = 5.0
POLL_SECONDS = 0.02


def ttl(dataset: str) -> int:
    return int(settings.PMS_CACHE_TTLS[dataset])


# --- The registry: one entry per data set -------------------------------------------------


@dataclass(frozen=True)
class DataSet:
    """A cached data set: its parameters with their defaults filled in (the one place a
    default is chosen), the key of a set of parameters, the selector that computes its
    value and the serializer that shows it."""

    params: Callable[..., dict[str, Any]]
    key: Callable[..., str]
    compute: Callable[..., Any]
    serializer: type[Serializer]

    def rendered(self, value: Any) -> bytes:
        """The JSON of the answer without its closing brace: the cache fields follow it."""
        return render(self.serializer(value).data)


REGISTRY: dict[str, DataSet] = {}


def register(
    name: str,
    *,
    key: Callable[..., str],
    compute: Callable[..., Any],
    serializer: type[Serializer],
    params: Callable[..., dict[str, Any]] = lambda **params: params,
) -> None:
    REGISTRY[name] = DataSet(params, key, compute, serializer)


def params(name: str, **given: Any) -> dict[str, Any]:
    """The parameters of data set `name`: `given`, with the defaults filled in."""
    return REGISTRY[name].params(**given)


def compute(name: str, **given: Any) -> Any:
    """The value of data set `name` computed now by its selector, without the cache."""
    return REGISTRY[name].compute(**params(name, **given))


def key(name: str, **given: Any) -> str:
    """The cache key of data set `name` for `given` parameters (defaults filled in)."""
    return REGISTRY[name].key(**params(name, **given))


def _generation_key(dataset: str) -> str:
    return f"generation:{dataset}"


def _value_key(key: str) -> str:
    """Where the value of the answer stored at `key` is kept."""
    return f"value:{key}"


# --- The breaker: a cache that is down costs nothing after the first error ---------------


class Breaker:
    """Every cache call goes through `call`: an error opens the breaker for
    BREAKER_SECONDS, during which calls return `default` at once; the first error and
    the recovery are logged, not each request."""

    def __init__(self) -> None:
        self.open_until = 0.0
        self.failing = False
        self.lock = threading.Lock()

    def call(self, operation: Callable[[], Any], default: Any = None) -> Any:
        if time.monotonic() < self.open_until:
            return default
        try:
            result = operation()
            if self.failing:
                self._recover()
                result = operation()  # what was read before the bump may be stale
        except Exception as error:  # any backend error: the database answers instead
            with self.lock:
                self.open_until = time.monotonic() + BREAKER_SECONDS
                if not self.failing:
                    self.failing = True
                    logger.warning(
                        "Cache unavailable (%s: %s); serving from the database, retrying "
                        "every %.0f s.",
                        type(error).__name__,
                        error,
                        BREAKER_SECONDS,
                    )
            return default
        return result

    def _recover(self) -> None:
        """Back after an outage: any process may have written meanwhile, its invalidation
        lost, so every data set is made stale before anything is read again."""
        with self.lock:
            self.failing = False
        logger.warning("Cache available again: every cached data set made stale.")
        _bump(ALL_DATASETS)

    @property
    def available(self) -> bool:
        return time.monotonic() >= self.open_until


breaker = Breaker()


def reset() -> None:
    """Forget the breaker's state (tests switch cache servers)."""
    global breaker
    breaker = Breaker()


# --- Generations and payloads ------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    generation: int
    computed_at: float  # time.time()
    # The JSON answer without its cache fields and closing brace, ready to send (or
    # `remember`'s bytes); under a value key, the selector's value.
    content: Any


def _bump(datasets: Iterable[str]) -> None:
    """New generations: what was cached for `datasets` is stale. If the cache cannot be
    written, nothing is remembered: the first process to reach it again bumps them all."""
    values = {_generation_key(d): secrets.randbits(62) for d in set(datasets)}

    def write() -> bool:
        cache.set_many(values, timeout=None)
        return True

    breaker.call(write, default=False)


def _generation(dataset: str, current: Any) -> int | None:
    """The data set's generation, created if the cache has none (new, evicted, restarted)."""
    if current is not None:
        return int(current)
    key = _generation_key(dataset)
    breaker.call(lambda: cache.add(key, secrets.randbits(62), timeout=None))
    value = breaker.call(lambda: cache.get(key))
    return None if value is None else int(value)


def _read(dataset: str, key: str) -> tuple[int | None, Payload | None]:
    """(current generation, payload if valid) in one round trip."""
    found = breaker.call(lambda: cache.get_many([_generation_key(dataset), key]), default=None)
    if found is None:
        return None, None
    generation = found.get(_generation_key(dataset))
    payload = found.get(key)
    if payload is not None and generation is not None and payload.generation == int(generation):
        return int(generation), payload
    return _generation(dataset, generation), None


def _store(dataset: str, key: str, generation: int, content: Any) -> None:
    payload = Payload(generation, time.time(), content)
    breaker.call(lambda: cache.set(key, payload, timeout=ttl(dataset)))


def render(data: Any) -> bytes:
    """The JSON of an answer without its closing brace: the cache fields follow it."""
    return JSONRenderer().render(data)[:-1]


class PreparedResponse(HttpResponse):
    """JSON sent as stored: the payload's bytes, then the cache fields, as two chunks of one
    response. Joining them would copy the payload (hundreds of kilobytes for a large book) on
    every hit; gunicorn writes each chunk to a TCP_NODELAY socket, so the small second one
    does not wait on the first one's ACK. Content-Length is set here, so that nothing
    downstream joins them to count."""

    def __init__(self, head: bytes, computed_at: float | None) -> None:
        super().__init__(content_type="application/json")
        if computed_at is None:
            tail = b',"cached":false,"cache_age_seconds":null}'
        else:
            age = repr(round(max(time.time() - computed_at, 0.0), 3))  # a JSON number
            tail = b',"cached":true,"cache_age_seconds":' + age.encode() + b"}"
        self._container = [head, tail]
        self.headers["Content-Length"] = str(len(head) + len(tail))


def read(name: str, **given: Any) -> HttpResponse:
    """The answer of data set `name` for `given` parameters: from the cache when the
    payload is current, else computed once by its selector and stored."""
    head, computed_at = _fetch(name, given, as_value=False)
    return PreparedResponse(head, computed_at)


@dataclass(frozen=True)
class Cached:
    """A data set's value, and whether it came from the cache."""

    value: Any
    cached: bool


def read_value(name: str, **given: Any) -> Cached:
    """The value of data set `name` for `given` parameters, as `read` finds or computes it:
    what the readers inside the application (the dashboard) use, never the JSON."""
    found, computed_at = _fetch(name, given, as_value=True)
    return Cached(found, computed_at is not None)


def hit(name: str, **given: Any) -> HttpResponse | None:
    """The answer of data set `name` if the cache holds it current (one MGET), else None."""
    _, payload = _read(name, key(name, **given))
    if payload is None:
        return None
    _counted(name, "hit").inc()
    return PreparedResponse(payload.content, payload.computed_at)


def _fetch(name: str, given: dict[str, Any], *, as_value: bool) -> tuple[Any, float | None]:
    """The bytes of data set `name`'s answer (or, with `as_value`, its value) and the time
    they were computed, from the cache; when not current there, computed once (the first
    request takes a lock, the others wait for its result) and stored, with None."""
    dataset = REGISTRY[name]
    filled = dataset.params(**given)
    stored_as = dataset.key(**filled)
    wanted = _value_key(stored_as) if as_value else stored_as

    def computed() -> Any:
        found = dataset.compute(**filled)
        return found if as_value else dataset.rendered(found)

    generation, payload = _read(name, wanted)
    if payload is not None:
        _counted(name, "hit").inc()
        return payload.content, payload.computed_at
    if generation is None:  # no cache: straight to the database
        _counted(name, "bypass").inc()
        return computed(), None
    lock = f"lock:{wanted}"
    if breaker.call(lambda: cache.add(lock, 1, timeout=LOCK_SECONDS), default=False):
        _counted(name, "miss").inc()
        try:
            content = computed()
            _store(name, wanted, generation, content)
        finally:
            breaker.call(lambda: cache.delete(lock))
        return content, None
    # Another request is computing it: wait for its result rather than compute again.
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline and breaker.available:
        time.sleep(POLL_SECONDS)
        _, payload = _read(name, wanted)
        if payload is not None:
            _counted(name, "hit").inc()
            return payload.content, payload.computed_at
    _counted(name, "miss").inc()
    return computed(), None


def remember(dataset: str, key: str, compute: Callable[[], bytes]) -> bytes:
    """`core.memo`'s store: bytes computed once per generation of `dataset` (a market
    matrix: "market"), read with that generation in one MGET. Inside a transaction that
    has changed `dataset` (its invalidation waits for the commit) the bytes are computed
    from what the transaction sees, neither read nor stored."""
    if _pending(dataset):
        return compute()
    generation, payload = _read(dataset, key)
    if payload is not None:
        _counted(dataset, "hit").inc()
        return payload.content  # type: ignore[no-any-return]
    value = compute()
    if generation is None:
        _counted(dataset, "bypass").inc()
    else:
        _counted(dataset, "miss").inc()
        _store(dataset, key, generation, value)
    return value


# --- Invalidation, after commit ------------------------------------------------------------


class _Flush:
    """The data sets one transaction has made stale, invalidated once when it commits.
    Django holds it among the transaction's on-commit callbacks and drops it on a rollback
    (of the transaction, or of the savepoint it was scheduled in). The thread keeps only a
    weak reference to it, dead once Django has dropped it: the writes of the next
    transaction schedule a flush of their own rather than join one that will never run."""

    def __init__(self, datasets: Iterable[str]) -> None:
        self.datasets = set(datasets)
        self.done = False

    def __call__(self) -> None:
        self.done = True
        invalidate(self.datasets)


_scheduled = threading.local()  # .flush: a weak reference to this thread's _Flush


def _open_flush() -> _Flush | None:
    """The flush the current transaction has scheduled, if it has neither run nor been
    dropped with a rollback."""
    reference = getattr(_scheduled, "flush", None)
    flush = reference() if reference is not None else None
    return None if flush is None or flush.done else flush


def changed(model: type[Model]) -> None:
    """Rows of `model` are being written: once the transaction commits (at once outside
    one), the data sets INVALIDATES gives for it are invalidated and the book refreshed.
    Several writes in one transaction invalidate once."""
    flush = _open_flush()
    if flush is not None:
        flush.datasets.update(INVALIDATES[model])
        return
    flush = _Flush(INVALIDATES[model])
    _scheduled.flush = weakref.ref(flush)
    transaction.on_commit(flush)


def _on_write(sender: type[Model], **kwargs: Any) -> None:
    changed(sender)


def connect() -> None:
    """Invalidate on every write of INVALIDATES' models: their model signals for rows saved
    or deleted one by one (the API, the admin), `data_changed` for the services' bulk
    writes."""
    for model in INVALIDATES:
        post_save.connect(_on_write, sender=model, dispatch_uid="pms-cache")
        post_delete.connect(_on_write, sender=model, dispatch_uid="pms-cache")
    data_changed.connect(_on_write, dispatch_uid="pms-cache")


def _pending(dataset: str) -> bool:
    """The current transaction has changed `dataset`: its invalidation waits for the commit."""
    flush = _open_flush()
    return flush is not None and dataset in flush.datasets


def invalidate(datasets: Iterable[str]) -> None:
    datasets = set(datasets)
    _bump(datasets)
    if "book" in datasets:
        refresh_book()


def warm(name: str, *, value: Any = None, keep_value: bool = True, **given: Any) -> None:
    """Compute data set `name` for `given` parameters now (or store `value`, already
    computed by its selector), so that its first reader hits: the pipelines' steps,
    write-through. Both its forms are stored, the HTTP edge's bytes and, unless not
    `keep_value`, the dashboard's value."""
    dataset = REGISTRY[name]
    filled = dataset.params(**given)
    stored_as = dataset.key(**filled)
    generation, _ = _read(name, stored_as)
    if generation is not None:
        found = dataset.compute(**filled) if value is None else value
        _store(name, stored_as, generation, dataset.rendered(found))
        if keep_value:
            _store(name, _value_key(stored_as), generation, found)


def refresh_book() -> None:
    """Write-through: the book computed again and stored, beside the writer (whose change
    has committed) rather than on its path, so that the next GET /api/book/ is a hit with
    the figures just committed. While it computes it holds the key's lock: a reader that
    comes meanwhile waits for its result, as for any cold key."""
    in_background(_refresh_book)


def _refresh_book() -> None:
    stored_as = key("book")
    taken = breaker.call(lambda: cache.add(f"lock:{stored_as}", 1, timeout=LOCK_SECONDS))
    try:
        # The bytes alone: pickling a large book's value costs more than rendering it,
        # and the API's readers wait for this refresh; the dashboard computes its value
        # on its first read after the write.
        warm("book", keep_value=False)
    finally:
        if taken:
            breaker.call(lambda: cache.delete(f"lock:{stored_as}"))


class Background:
    """One worker thread per process that runs refreshes after the writes that asked for
    them. A refresh asked for while the same one is queued joins it: a burst of writes
    computes the book once more, not once per write. One asked for while it runs runs
    again after it, since what the running one read may predate the write. The interpreter
    waits for the worker before it exits, so a command's last refresh is stored; a forked
    child starts a worker of its own."""

    def __init__(self) -> None:
        self.forget()

    def forget(self) -> None:
        self.lock = threading.Lock()
        self.queued: set[Callable[[], None]] = set()
        self.executor: ThreadPoolExecutor | None = None
        self.last: Future[None] | None = None

    def __call__(self, job: Callable[[], None]) -> None:
        with self.lock:
            if job in self.queued:
                return
            self.queued.add(job)
            if self.executor is None:
                self.executor = ThreadPoolExecutor(1, thread_name_prefix="pms-cache")
            self.last = self.executor.submit(self._run, job)

    def _run(self, job: Callable[[], None]) -> None:
        with self.lock:
            self.queued.discard(job)
        try:
            job()
        except Exception:  # the key stays cold: its next reader computes it
            logger.exception("Cache refresh failed; the next read computes it.")
        finally:
            db.connections.close_all()  # the worker thread's own connections

    def wait(self) -> None:
        """Until every refresh asked for so far has run."""
        if self.last is not None:
            self.last.result()


background = Background()
os.register_at_fork(after_in_child=background.forget)

# How a refresh is run: beside the caller. The test suite swaps it for an immediate call: the
# worker's connection would not see the rows of a test that never commits.
in_background: Callable[[Callable[[], None]], None] = background
