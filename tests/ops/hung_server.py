"""A TCP server on loopback that accepts connections, reads what it is sent and never answers
(a hung Redis or broker). It counts the requests it swallowed."""

from __future__ import annotations

import socket
import threading


class HungServer:
    def __init__(self, *, give_up_after: float = 3.0) -> None:
        # `give_up_after` only bounds how long a client without timeouts is held (so a test
        # of code lacking them fails instead of hanging); nothing asserts on it.
        self._give_up_after = give_up_after
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        self.requests = 0
        self._lock = threading.Condition()
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._swallow, args=(conn,), daemon=True).start()

    def _swallow(self, conn: socket.socket) -> None:
        conn.settimeout(self._give_up_after)
        with conn:
            while not self._closed.is_set():
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                with self._lock:
                    self.requests += 1
                    self._lock.notify_all()

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> int:
        """Wait until `count` requests arrived (the server thread may lag the client's
        timeout); returns how many did. A bound on waiting, not a measurement."""
        with self._lock:
            self._lock.wait_for(lambda: self.requests >= count, timeout)
            return self.requests

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
