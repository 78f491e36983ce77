"""A TEST HTTP server that drips its reply (shared by the CRL fetcher and TSA client tests).

It stands in for a hostile or broken server: it reads the request, sends ``lead`` (a status
line, maybe headers), then ``drip`` every ``interval`` seconds ``count`` times — each byte
well inside the client's socket timeout, so only an overall deadline stops the client —
and then hangs up.  :attr:`DripServer.completed` counts the connections that got every
drip: a client bounded by a deadline hangs up first, so a test asserts it stays 0 (an
ordering, not a timing).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class DripServer:
    """:ivar url: ``http://127.0.0.1:<port>``, without a path.
    :ivar completed: connections that got all ``count`` drips before the server hung up."""

    url: str
    completed: int = 0


@contextmanager
def dripping_server(lead: bytes, *, drip: bytes = b"X", count: int = 30,
                    interval: float = 0.1) -> Iterator[DripServer]:
    """Serve on 127.0.0.1 (ephemeral port) in a thread while the block runs.

    :param lead: sent at once after the request is read.
    :param drip: sent every ``interval`` seconds, ``count`` times.
    :returns: (yields) the server's URL and its count of completed drips.
    """
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.2)  # accept() wakes up to see ``stop``
    stop = threading.Event()
    server = DripServer(f"http://127.0.0.1:{srv.getsockname()[1]}")

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                try:
                    conn.recv(65536)
                    conn.sendall(lead)
                    for _ in range(count):
                        if stop.wait(interval):
                            break
                        conn.sendall(drip)
                    else:
                        server.completed += 1
                except OSError:  # the client hung up
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join()
        srv.close()
