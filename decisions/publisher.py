"""Handing routing decisions to the broker without ever slowing an answer, or losing one.

Answers only put their record on a bounded in-process queue. One daemon thread publishes
from it to Celery. Whatever goes wrong, the record is written straight to the database
instead (`decision_write` is idempotent on the record's uid, so a record the worker also
stored is not doubled):

- the broker refuses or does not answer within its socket timeout: this record is written
  directly, and the broker counts as down for `DECISION_BROKER_PAUSE` seconds, during which
  every record is written directly without trying (a hung broker costs one timeout, not one
  per decision);
- the queue is full (`DECISION_QUEUE_SIZE`): the caller writes the record directly (spill);
- the process ends (SIGTERM, exit): whatever is still queued is written directly.

Clock and the publish call are injectable, so tests need no sleeps.
"""

from __future__ import annotations

import atexit
import logging
import queue
import signal
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings

from decisions.services import decision_write
from decisions.tasks import record_decision, record_decisions
from routerweb import clock as clocks
from routerweb.db import recycling_connections

log = logging.getLogger(__name__)

Payload = dict[str, Any]
_STOP = object()


# Each message names what it carries (`argsrepr`, shown by the worker's logs and monitoring
# tools) instead of Celery building a repr of the records themselves: walking a run of
# decisions for it was a tenth of this thread's CPU.


def _publish_to_celery(payload: Payload) -> None:
    record_decision.apply_async(
        args=[payload], retry=False, argsrepr=f"[decision {payload.get('uid')}]"
    )


def _publish_many_to_celery(payloads: list[Payload]) -> None:
    record_decisions.apply_async(
        args=[payloads], retry=False, argsrepr=f"[{len(payloads)} decisions]"
    )


def _write(payload: Payload) -> None:
    recycling_connections(decision_write)(payload)


class DecisionPublisher:
    def __init__(
        self,
        *,
        maxsize: int,
        pause: float,
        publish: Callable[[Payload], None] = _publish_to_celery,
        publish_many: Callable[[list[Payload]], None] = _publish_many_to_celery,
        write: Callable[[Payload], None] = _write,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
        self._pause = pause
        self._publish = publish
        self._publish_many = publish_many
        self._write = write
        self._clock = clock or (lambda: clocks.current().monotonic())
        self._broker_down_until = 0.0
        self._thread: threading.Thread | None = None
        # Taken off the queue, not yet stored: one record, or a run submitted together.
        self._inflight: Payload | list[Payload] | None = None
        self._start_lock = threading.Lock()
        self.spilled = 0  # records written by the caller because the queue was full

    # --- producer side (request threads, the /v1 logging thread) ----------------------------

    def submit(self, payload: Payload) -> None:
        """Queue a record; never blocks. A full queue writes it here and now."""
        self._ensure_thread()
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self.spilled += 1
            log.warning("decision queue full; writing decision %s directly", payload.get("uid"))
            self._write_safely(payload)

    def submit_many(self, payloads: list[Payload]) -> None:
        """Queue a run of records as one item, published as one broker message."""
        self._ensure_thread()
        try:
            self._queue.put_nowait(list(payloads))
        except queue.Full:
            self.spilled += len(payloads)
            log.warning("decision queue full; writing %s decisions directly", len(payloads))
            self._write_safely(payloads)

    # --- the publishing thread ---------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="decision-publisher", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                self._inflight = item
                self._handle(item)
            finally:
                self._inflight = None
                self._queue.task_done()

    def _handle(self, item: Payload | list[Payload]) -> None:
        if self._clock() < self._broker_down_until:
            self._write_safely(item)
            return
        try:
            if isinstance(item, list):
                self._publish_many(item)
            else:
                self._publish(item)
        except Exception as exc:  # kombu/redis raise many types for "broker unreachable"
            self._broker_down_until = self._clock() + self._pause
            log.warning(
                "broker unreachable (%s); writing routing decision %s directly, and the next "
                "ones for %ss",
                exc,
                ", ".join(str(p.get("uid")) for p in _records(item)),
                self._pause,
            )
            self._write_safely(item)

    def _write_safely(self, item: Payload | list[Payload]) -> None:
        for payload in _records(item):
            try:
                self._write(payload)
            except Exception:
                log.exception("could not write routing decision %s", payload.get("uid"))

    # --- waiting and shutdown ----------------------------------------------------------------

    def flush(self) -> None:
        """Block until every queued record is published or written (tests, orderly stops)."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.join()

    def drain(self) -> int:
        """Write whatever is still queued straight to the database, in this thread; returns
        how many. Run at process exit: no broker round trip stands between a record and the
        database when the process is about to end."""
        drained = 0
        inflight = self._inflight
        if inflight is not None:
            # Possibly mid-publish on the publishing thread, which dies with the process;
            # writing it too is safe (decision_write is idempotent on the uid).
            self._write_safely(inflight)
            drained += len(_records(inflight))
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return drained
            try:
                if item is not _STOP:
                    self._write_safely(item)
                    drained += len(_records(item))
            finally:
                self._queue.task_done()

    def pending(self) -> int:
        return self._queue.qsize()


def _records(item: Payload | list[Payload]) -> list[Payload]:
    return item if isinstance(item, list) else [item]


_publisher: DecisionPublisher | None = None
_publisher_lock = threading.Lock()


def publisher() -> DecisionPublisher:
    global _publisher
    if _publisher is None:
        with _publisher_lock:
            if _publisher is None:
                _publisher = DecisionPublisher(
                    maxsize=settings.DECISION_QUEUE_SIZE, pause=settings.DECISION_BROKER_PAUSE
                )
    return _publisher


def _drain_at_exit() -> None:
    if _publisher is not None:
        drained = _publisher.drain()
        if drained:
            log.info("wrote %s queued routing decisions directly at shutdown", drained)


def install_shutdown_drain() -> None:
    """From DecisionsConfig.ready (the main thread, before any server installs handlers)."""
    atexit.register(_drain_at_exit)
    # A bare SIGTERM ends a process without running atexit. Servers that handle it
    # themselves (uvicorn, Celery) exit normally, so atexit runs; elsewhere (a management
    # command, a plain script) turn SIGTERM into a normal exit.
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _exit_on_sigterm)
        except ValueError:  # not the main interpreter
            pass


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)
