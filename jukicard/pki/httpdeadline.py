"""An overall deadline for one HTTP(S) exchange made with :mod:`urllib.request`.

A socket timeout bounds each wait for a byte, not the exchange: a server that drips its
reply (its headers, its body or its TLS handshake) one byte inside each timeout holds the
caller for as long as it likes.  :class:`HttpDeadline` closes that hole for the CRL fetcher
(:mod:`jukicard.pki.fetch`) and the RFC 3161 client (:mod:`jukicard.pki.tsaclient`):

* the opener it builds (:meth:`HttpDeadline.opener`) makes every HTTP and HTTPS connection
  of the exchange (redirects and proxy tunnels included) *watched*: each socket is watched
  through a duplicate descriptor, which stays valid when TLS takes the original over;
* a timer started when the deadline is entered (``with deadline:``) shuts every watched
  connection down when it fires, which ends any blocked read (TLS handshake, status line,
  headers or body);
  :attr:`HttpDeadline.expired` then tells the caller that whatever it got (an error, an
  ``IncompleteRead``, a short body) is the deadline's doing.

Only the standard library is imported: the CRL path stays light (no pyHanko).

Not covered: name resolution (``getaddrinfo`` cannot be interrupted) and the TCP connect,
which happen before a socket exists to watch; each is bounded by the resolver and the
socket timeout respectively.
"""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.request
from typing import Any

__all__ = ["HttpDeadline", "read_capped"]


class HttpDeadline:
    """Shuts the connections of one exchange down when ``seconds`` have passed.

    Use once per exchange::

        deadline = HttpDeadline(30.0)
        opener = deadline.opener(other_handler)
        with deadline, opener.open(req, timeout=10.0) as resp:
            body = read_capped(resp, limit)
        if deadline.expired:
            ...  # the reply was cut at the deadline

    :param seconds: the longest the exchange may take, from ``__enter__``.

    :ivar expired: ``True`` once the deadline has passed (set by the timer thread).
    """

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def opener(self, *handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
        """:func:`urllib.request.build_opener` with ``handlers`` and this deadline's HTTP
        and HTTPS handlers (which replace urllib's defaults).

        :param handlers: further handlers (redirect policy, proxies...).
        """
        return urllib.request.build_opener(*handlers, _WatchedHttp(self), _WatchedHttps(self))

    def watch(self, sock: socket.socket) -> socket.socket:
        """Watch ``sock`` (shut down at once if the deadline has already passed).

        :returns: ``sock`` itself.
        """
        dup = sock.dup()
        with self._lock:
            self._socks.append(dup)
            if self.expired:
                _shutdown(dup)
        return sock

    def connection(self, base: type[http.client.HTTPConnection]) -> Any:
        """A subclass of ``base`` whose sockets this deadline watches."""
        deadline = self
        untyped: Any = base

        class Watched(untyped):  # type: ignore[misc, unused-ignore]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                me: Any = self  # http.client's _create_connection is unannotated
                create = me._create_connection
                me._create_connection = lambda *a, **kw: deadline.watch(create(*a, **kw))

        return Watched

    def _expire(self) -> None:
        # shut down under the lock: ``__exit__`` cannot close a descriptor in between
        with self._lock:
            self.expired = True
            for sock in self._socks:
                _shutdown(sock)

    def __enter__(self) -> HttpDeadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            socks, self._socks = self._socks, []
            for sock in socks:
                sock.close()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Watched:
    """Mixin for urllib's HTTP(S) handlers: their connections are watched by a deadline
    (the connection arguments urllib passes, TLS context included, are kept)."""

    def __init__(self, deadline: HttpDeadline) -> None:
        super().__init__()
        self._deadline = deadline

    def do_open(self, http_class: Any, req: Any, **http_conn_args: Any) -> Any:
        untyped: Any = super()  # the handler's do_open, after this mixin in the MRO
        return untyped.do_open(self._deadline.connection(http_class), req, **http_conn_args)


class _WatchedHttp(_Watched, urllib.request.HTTPHandler):
    """urllib's HTTP handler, watched."""


class _WatchedHttps(_Watched, urllib.request.HTTPSHandler):
    """urllib's HTTPS handler (default TLS context), watched."""


def read_capped(resp: Any, max_bytes: int, chunk: int = 16 * 1024) -> bytes | None:
    """Read the body of ``resp`` to its end, in ``chunk``-byte reads.

    :param resp: an open :class:`http.client.HTTPResponse` (or anything with ``read(n)``).
    :param max_bytes: the largest body accepted.
    :returns: the body, or ``None`` as soon as more than ``max_bytes`` have arrived (the
        rest is not read).
    :raises OSError: / :raises http.client.HTTPException: from the read (a reset, a cut
        body: under a deadline, check :attr:`HttpDeadline.expired`).
    """
    chunks: list[bytes] = []
    total = 0
    while True:
        data = resp.read(chunk)
        if not data:
            return b"".join(chunks)
        total += len(data)
        if total > max_bytes:
            return None
        chunks.append(data)
