"""Requests at the same moment, for the PostgreSQL tests of row locks: each call in its
own thread and database connection, all released together."""

import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection


def at_once(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together; their results, in finishing order. An
    exception in any of them fails the test."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results.append(call())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def statuses_at_once(clients: Sequence[Any], post: Callable[[int, Any], Any]) -> list[int]:
    """`post(i, client)` for every client at once: the answers' status codes."""
    calls = [lambda i=i, client=client: post(i, client) for i, client in enumerate(clients)]
    return [answer.status_code for answer in at_once(calls)]
