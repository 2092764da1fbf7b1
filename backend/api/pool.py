"""A small, thread-safe pool of autocommit Postgres connections for the API.

FastAPI runs synchronous routes in a thread pool; each request borrows one connection and gives it
back. Opening a connection per request would cost a TCP/TLS handshake and a backend start each
time; a pool keeps `size` of them open. A connection that comes back broken (the server restarted,
a network blip) is discarded and replaced on the next borrow. psycopg_pool would do the same with
more features; this avoids a dependency for the one thing the API needs.

Connections are autocommit: each action opens its own transaction (`conn.transaction()`), so a
request never leaves one open. Failures to connect are ours and raise.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


class ConnectionPool:
    def __init__(self, url: str, *, size: int = 8, timeout: float = 30.0) -> None:
        self._url = url
        self._size = size
        self._timeout = timeout
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._opened = 0
        self._lock = threading.Lock()
        self._closed = False

    def _open(self) -> psycopg.Connection:
        return psycopg.connect(self._url, autocommit=True)

    def _borrow(self) -> psycopg.Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._opened < self._size:
                self._opened += 1
                try:
                    return self._open()
                except Exception:
                    self._opened -= 1
                    raise
        try:
            return self._idle.get(timeout=self._timeout)
        except queue.Empty:
            raise TimeoutError(f"no database connection free within {self._timeout:.0f} s") from None

    def _give_back(self, conn: psycopg.Connection) -> None:
        healthy = not conn.closed and not conn.broken
        if healthy and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            try:
                conn.rollback()
            except psycopg.Error:
                healthy = False
        if healthy and not self._closed:
            self._idle.put(conn)
            return
        conn.close()
        with self._lock:
            self._opened -= 1

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        conn = self._borrow()
        try:
            yield conn
        finally:
            self._give_back(conn)

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
