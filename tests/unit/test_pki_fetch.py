"""HttpCrlFetcher against a local http.server on 127.0.0.1 (ephemeral port, in a thread)."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from drip_server import dripping_server

from jukicard.errors import IndeterminateError, UsageError
from jukicard.pki.fetch import CrlFetchError, HttpCrlFetcher

UTC = dt.UTC
T0 = dt.datetime(2025, 6, 1, tzinfo=UTC)
DER = serialization.Encoding.DER


# --------------------------------------------------------------------------- PKI material
@dataclass
class Ca:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    def crl(self, this_update: dt.datetime, next_update: dt.datetime | None = None,
            serials: tuple[int, ...] = (), key: rsa.RSAPrivateKey | None = None) -> bytes:
        b = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
             .last_update(this_update))
        b = b.next_update(next_update or this_update + dt.timedelta(days=1))
        for s in serials:
            b = b.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(s).revocation_date(this_update)
                .build())
        return b.sign(key or self.key, hashes.SHA256()).public_bytes(DER)


@pytest.fixture(scope="module")
def ca() -> Ca:
    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "fetch test CA")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(T0 - dt.timedelta(days=365)).not_valid_after(T0 + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Ca(key, cert)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


# --------------------------------------------------------------------------- local server
@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    send_length: bool = True
    delay: float = 0.0
    stream: Callable[[], Iterator[bytes]] | None = None


class Server:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        routes, hits = self.routes, self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:  # noqa: N802
                hits[self.path] = hits.get(self.path, 0) + 1
                route = routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                if route.delay:
                    time.sleep(route.delay)
                try:
                    self.send_response(route.status)
                    for k, v in route.headers.items():
                        self.send_header(k, v)
                    if route.stream is None and route.send_length:
                        self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    if route.stream is not None:
                        for chunk in route.stream():
                            self.wfile.write(chunk)
                    else:
                        self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def _shared_server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def server(_shared_server: Server) -> Server:
    _shared_server.routes.clear()
    _shared_server.hits.clear()
    return _shared_server


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + dt.timedelta(hours=1))


def fetcher(tmp_path, clock, **kw) -> HttpCrlFetcher:
    kw.setdefault("timeout", 5)
    return HttpCrlFetcher(tmp_path / "cache", proxies={}, clock=clock, **kw)


# --------------------------------------------------------------------------- tests
def test_fetch_der_and_cache_hit(server, tmp_path, clock, ca) -> None:
    crl = ca.crl(T0, serials=(5, 6))
    server.routes["/a.crl"] = Route(crl)
    f = fetcher(tmp_path, clock)
    assert f.fetch(server.url("/a.crl")) == crl
    assert f.fetch(server.url("/a.crl")) == crl
    assert server.hits["/a.crl"] == 1 and f.downloads == 1
    meta = f.cached(server.url("/a.crl"))
    assert meta is not None and meta.next_update == T0 + dt.timedelta(days=1)
    # a new fetcher on the same directory uses the cache too
    f2 = fetcher(tmp_path, clock)
    assert f2.fetch(server.url("/a.crl")) == crl
    assert server.hits["/a.crl"] == 1


def test_pem_body_is_returned_as_der(server, tmp_path, clock, ca) -> None:
    crl = ca.crl(T0)
    pem = x509.load_der_x509_crl(crl).public_bytes(serialization.Encoding.PEM)
    server.routes["/p.crl"] = Route(pem)
    assert fetcher(tmp_path, clock).fetch(server.url("/p.crl")) == crl


def test_refetch_after_next_update(server, tmp_path, clock, ca) -> None:
    old = ca.crl(T0)
    server.routes["/r.crl"] = Route(old)
    f = fetcher(tmp_path, clock)
    assert f.fetch(server.url("/r.crl")) == old
    new = ca.crl(T0 + dt.timedelta(days=1), serials=(9,))
    server.routes["/r.crl"] = Route(new)
    clock.now = T0 + dt.timedelta(days=1, hours=1)  # past the old nextUpdate
    assert f.fetch(server.url("/r.crl")) == new
    assert server.hits["/r.crl"] == 2
    assert f.fetch(server.url("/r.crl")) == new
    assert server.hits["/r.crl"] == 2


def test_stale_cache_and_failing_server(server, tmp_path, clock, ca) -> None:
    crl = ca.crl(T0)
    server.routes["/s.crl"] = Route(crl)
    f = fetcher(tmp_path, clock)
    f.fetch(server.url("/s.crl"))
    server.routes["/s.crl"] = Route(b"oops", status=500)
    clock.now = T0 + dt.timedelta(days=2)
    with pytest.raises(CrlFetchError) as ei:
        f.fetch(server.url("/s.crl"))
    assert ei.value.reason == "crl-fetch-failed"
    assert isinstance(ei.value, IndeterminateError)
    lenient = fetcher(tmp_path, clock, allow_stale=True)
    assert lenient.fetch(server.url("/s.crl")) == crl


def test_issuer_signature_checked_on_download(server, tmp_path, clock, ca, other_key) -> None:
    forged = ca.crl(T0, key=other_key)
    server.routes["/f.crl"] = Route(forged)
    f = fetcher(tmp_path, clock)
    with pytest.raises(CrlFetchError) as ei:
        f.fetch(server.url("/f.crl"), issuer=ca.cert)
    assert ei.value.reason == "bad-crl-signature"
    assert f.cached(server.url("/f.crl")) is None  # nothing cached
    # without an issuer it is returned (the validator checks the signature later)
    assert f.fetch(server.url("/f.crl")) == forged


def test_issuer_map_and_der_issuer(server, tmp_path, clock, ca) -> None:
    crl = ca.crl(T0)
    server.routes["/m.crl"] = Route(crl)
    url = server.url("/m.crl")
    f = fetcher(tmp_path, clock, issuers={url: ca.cert.public_bytes(DER)})
    assert f.fetch(url) == crl


def test_cache_reverified_with_issuer_on_load(server, tmp_path, clock, ca, other_key) -> None:
    forged = ca.crl(T0, key=other_key)
    server.routes["/c.crl"] = Route(forged)
    url = server.url("/c.crl")
    fetcher(tmp_path, clock).fetch(url)  # cached without an issuer check
    good = ca.crl(T0, serials=(1,))
    server.routes["/c.crl"] = Route(good)
    # with the issuer, the forged cached copy is discarded and the good one downloaded
    assert fetcher(tmp_path, clock).fetch(url, issuer=ca.cert) == good
    assert server.hits["/c.crl"] == 2


@pytest.mark.parametrize("damage", ["flip", "truncate", "meta-json", "meta-url", "meta-missing",
                                    "garbage"])
def test_damaged_cache_is_discarded(server, tmp_path, clock, ca, damage: str) -> None:
    crl = ca.crl(T0)
    server.routes["/d.crl"] = Route(crl)
    url = server.url("/d.crl")
    f = fetcher(tmp_path, clock)
    f.fetch(url)
    crl_path, meta_path = f.cache_paths(url)
    if damage == "flip":
        data = bytearray(crl_path.read_bytes())
        data[-5] ^= 0xFF
        crl_path.write_bytes(bytes(data))
    elif damage == "truncate":
        crl_path.write_bytes(crl_path.read_bytes()[:40])
    elif damage == "meta-json":
        meta_path.write_text("{not json")
    elif damage == "meta-url":
        meta = json.loads(meta_path.read_text())
        meta["url"] = "http://127.0.0.1:1/elsewhere"
        meta_path.write_text(json.dumps(meta))
    elif damage == "meta-missing":
        meta_path.unlink()
    elif damage == "garbage":
        # consistent metadata for bytes that are not a CRL
        import hashlib
        junk = b"\x30\x03\x02\x01\x01"
        crl_path.write_bytes(junk)
        meta = json.loads(meta_path.read_text())
        meta.update(sha256=hashlib.sha256(junk).hexdigest(), size=len(junk))
        meta_path.write_text(json.dumps(meta))
    assert f.cached(url) is None
    assert f.fetch(url) == crl
    assert server.hits["/d.crl"] == 2


def test_no_temporary_files_left(server, tmp_path, clock, ca) -> None:
    server.routes["/t.crl"] = Route(ca.crl(T0))
    f = fetcher(tmp_path, clock)
    f.fetch(server.url("/t.crl"))
    names = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(names) == 2 and not any(n.endswith(".tmp") for n in names)
    assert {n.rsplit(".", 1)[1] for n in names} == {"crl", "json"}


def test_not_a_crl(server, tmp_path, clock, ca) -> None:
    server.routes["/x.crl"] = Route(ca.cert.public_bytes(DER))
    f = fetcher(tmp_path, clock)
    with pytest.raises(CrlFetchError) as ei:
        f.fetch(server.url("/x.crl"))
    assert ei.value.reason == "malformed-crl"
    assert f.cached(server.url("/x.crl")) is None


@pytest.mark.parametrize("status", [301, 404, 500])
def test_http_errors(server, tmp_path, clock, status: int) -> None:
    server.routes["/e.crl"] = Route(b"", status=status)
    with pytest.raises(CrlFetchError):
        fetcher(tmp_path, clock).fetch(server.url("/e.crl"))


def test_size_limit_from_content_length(server, tmp_path, clock, ca) -> None:
    crl = ca.crl(T0, serials=tuple(range(1, 200)))
    server.routes["/big.crl"] = Route(crl)
    with pytest.raises(CrlFetchError) as ei:
        fetcher(tmp_path, clock, max_bytes=1000).fetch(server.url("/big.crl"))
    assert "limit" in str(ei.value)


def test_size_limit_while_streaming(server, tmp_path, clock) -> None:
    sent: list[int] = []

    def endless() -> Iterator[bytes]:
        for _ in range(10_000):
            sent.append(1)
            yield b"\x30" * 65536

    server.routes["/stream.crl"] = Route(stream=endless)
    with pytest.raises(CrlFetchError) as ei:
        fetcher(tmp_path, clock, max_bytes=200_000).fetch(server.url("/stream.crl"))
    assert "limit" in str(ei.value)
    assert len(sent) < 10_000  # the client stopped reading long before the end


def test_socket_timeout(server, tmp_path, clock, ca) -> None:
    server.routes["/slow.crl"] = Route(ca.crl(T0), delay=1.0)
    with pytest.raises(CrlFetchError):
        fetcher(tmp_path, clock, timeout=0.2).fetch(server.url("/slow.crl"))


def test_deadline_bounds_dripping_headers(tmp_path, clock) -> None:
    """A TEST server sends a status line, then one header byte every 0.1 s (100 bytes, each
    well inside the 5 s socket timeout).  Old code: the deadline was checked only between
    body chunks, never while the headers arrived, so the fetch waited until the server hung
    up after its last byte (hours at 9 s per byte) and only then reported the deadline:
    the server completed its drip.  Now a timer shuts the connection down at the 1 s
    deadline, long before the server is done."""
    with dripping_server(b"HTTP/1.1 200 OK\r\n", count=100) as server:
        url = f"{server.url}/drip.crl"
        with pytest.raises(CrlFetchError, match=r"exceeded the 1s deadline") as ei:
            fetcher(tmp_path, clock, timeout=5, deadline=1).fetch(url)
    assert ei.value.reason == "crl-fetch-failed"
    assert ei.value.url == url
    assert server.completed == 0  # the client hung up first


def test_deadline_bounds_a_dripping_body(tmp_path, clock) -> None:
    """A TEST server sends complete headers (a 100000-byte body announced), then one body
    byte every 0.1 s (100 bytes, each well inside the 5 s socket timeout).  Old code: one
    64 KiB read waited for its whole chunk, so the deadline check between chunks ran only
    after the server hung up (a body of 64 KiB one byte per 9 s: a week) and only then
    reported the deadline: the server completed its drip.  Now a timer shuts the
    connection down at the 1 s deadline, long before the server is done."""
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\n"
            b"Content-Length: 100000\r\n\r\n")
    with dripping_server(head, drip=b"\x30", count=100) as server:
        with pytest.raises(CrlFetchError, match=r"exceeded the 1s deadline") as ei:
            fetcher(tmp_path, clock, timeout=5, deadline=1).fetch(f"{server.url}/drip.crl")
    assert ei.value.reason == "crl-fetch-failed"
    assert server.completed == 0  # the client hung up first


def test_redirect_to_http_followed(server, tmp_path, clock, ca) -> None:
    crl = ca.crl(T0)
    server.routes["/final.crl"] = Route(crl)
    server.routes["/moved.crl"] = Route(status=302, headers={"Location": server.url("/final.crl")})
    assert fetcher(tmp_path, clock).fetch(server.url("/moved.crl")) == crl


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x.crl"])
def test_redirect_to_other_scheme_refused(server, tmp_path, clock, target: str) -> None:
    server.routes["/evil.crl"] = Route(status=302, headers={"Location": target})
    with pytest.raises(CrlFetchError):
        fetcher(tmp_path, clock).fetch(server.url("/evil.crl"))


def test_redirect_count_is_per_request(server, tmp_path, clock, ca) -> None:
    crl = ca.crl(T0)
    server.routes["/final.crl"] = Route(crl)
    server.routes["/hop.crl"] = Route(status=302, headers={"Location": server.url("/final.crl")})
    f = fetcher(tmp_path, clock, max_redirects=1)
    for _ in range(3):  # each fetch follows one redirect: never "too many" overall
        f.fetch(server.url("/hop.crl"))
        f._discard(*f.cache_paths(server.url("/hop.crl")))
    assert server.hits["/final.crl"] == 3


def test_redirect_loop(server, tmp_path, clock) -> None:
    server.routes["/loop.crl"] = Route(status=302, headers={"Location": server.url("/loop.crl")})
    with pytest.raises(CrlFetchError):
        fetcher(tmp_path, clock, max_redirects=2).fetch(server.url("/loop.crl"))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x.crl",
                                 "ldap://127.0.0.1/cn=x", "", "http://", "http://a b/x.crl",
                                 "http://127.0.0.1:99999/x.crl", "/relative.crl"])
def test_bad_urls(tmp_path, clock, url: str) -> None:
    with pytest.raises(CrlFetchError):
        fetcher(tmp_path, clock).fetch(url)


def test_connection_refused(tmp_path, clock) -> None:
    s = Server()
    url = s.url("/gone.crl")
    s.close()
    with pytest.raises(CrlFetchError):
        fetcher(tmp_path, clock).fetch(url)


def test_no_cache_dir(server, clock, ca) -> None:
    server.routes["/n.crl"] = Route(ca.crl(T0))
    f = HttpCrlFetcher(None, proxies={}, clock=clock)
    f.fetch(server.url("/n.crl"))
    f.fetch(server.url("/n.crl"))
    assert server.hits["/n.crl"] == 2
    with pytest.raises(UsageError):
        f.cache_paths(server.url("/n.crl"))


def test_bad_constructor_arguments(tmp_path) -> None:
    with pytest.raises(UsageError):
        HttpCrlFetcher(tmp_path, timeout=0)
    with pytest.raises(UsageError):
        HttpCrlFetcher(tmp_path, max_bytes=0)
