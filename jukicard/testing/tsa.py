"""A local RFC 3161 time-stamp server for tests and demos (TEST material only).

::

    python -m jukicard.testing.tsa [--host 127.0.0.1] [--port 0] [--root-out ROOT.pem]

prints its URL (``http://127.0.0.1:PORT/tsa``) on stdout and serves until interrupted
(Ctrl-C or SIGTERM); in
tests it is a context manager::

    with TsaServer() as tsa:
        build_pades(..., tsa_url=tsa.url)
        trust tsa.root_der

The tokens are made by a tool nobody here wrote: ``openssl ts -reply`` (OpenSSL's RFC 3161
responder), signing with a TSA certificate (extendedKeyUsage timeStamping, critical;
keyUsage digitalSignature) under a throw-away test root.  Both keys and certificates are
generated with ``cryptography`` when the server is made (nothing is read from or kept on
disk after :meth:`TsaServer.close`), so every run has its own TSA.

``mode`` makes the server misbehave for the failure tests: ``"ok"`` (default),
``"http-error"`` (503), ``"garbage"`` (a reply that is not DER), ``"rejection"`` (a
well-formed PKIStatus ``rejection``), ``"wrong-content-type"``, ``"huge"`` (a reply larger
than any client should read), ``"stall"`` (never answers until closed).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import http.server
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from asn1crypto import tsp as _tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TsaServer", "MODES", "main"]

MODES = ("ok", "http-error", "garbage", "rejection", "wrong-content-type", "huge", "stall")
#: Largest time-stamp query read (a query is ~100 bytes).
MAX_QUERY = 8 * 1024
_HUGE = 4 * 1024 * 1024

_OPENSSL_CONFIG = """\
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/root.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1.1
other_policies = 1.3.6.1.4.1.99999.1.2
digests = sha256, sha384, sha512
accuracy = secs:1
clock_precision_digits = 0
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jukicard TEST"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _make_pki(now: _dt.datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate,
                                          rsa.RSAPrivateKey, x509.Certificate]:
    """A test root and a TSA certificate under it (2048-bit RSA, valid ±1 year)."""
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start, end = now - _dt.timedelta(days=1), now + _dt.timedelta(days=365)
    root_name = _name("jukicard TEST time-stamp root")
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                         False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()),
                           critical=False)
            .sign(root_key, hashes.SHA256()))
    tsa = (x509.CertificateBuilder().subject_name(_name("jukicard TEST TSA"))
           .issuer_name(root_name).public_key(tsa_key.public_key())
           .serial_number(x509.random_serial_number())
           .not_valid_before(start).not_valid_after(end)
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                        False, False), critical=True)
           .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                          critical=True)
           .add_extension(x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()),
                          critical=False)
           .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
               root_key.public_key()), critical=False)
           .sign(root_key, hashes.SHA256()))
    return root_key, root, tsa_key, tsa


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        pass  # quiet: tests read stdout

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        owner = self.server.owner
        try:
            length = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        if not 0 < length <= MAX_QUERY:
            self.send_error(413 if length > MAX_QUERY else 411)
            return
        query = self.rfile.read(length)
        status, ctype, body = owner.answer(query)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _HttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    owner: TsaServer


class TsaServer:
    """An RFC 3161 server on ``host:port`` (``port=0``: any free port) in a thread.

    :param host: address to listen on (default loopback).
    :param port: port (0 = pick a free one; see :attr:`url`).
    :param mode: one of :data:`MODES` (how the server answers).
    :param openssl: the ``openssl`` executable (default: found on ``PATH``).
    :raises RuntimeError: ``openssl`` is not installed or lacks ``ts``.
    :raises ValueError: an unknown ``mode``.

    :ivar root_der: the test root certificate (DER) to trust for the tokens.
    :ivar certificate_der: the TSA certificate (DER).
    :ivar requests: how many queries were answered (observability for tests).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, mode: str = "ok",
                 openssl: str | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        found = openssl or shutil.which("openssl")
        if found is None:
            raise RuntimeError("openssl is not installed (needed for `openssl ts -reply`)")
        self.openssl = found
        self.mode = mode
        self.requests = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._dir = tempfile.TemporaryDirectory(prefix="jukicard-tsa-")
        work = Path(self._dir.name)
        _root_key, root, tsa_key, tsa = _make_pki(_dt.datetime.now(_dt.UTC))
        pem = serialization.Encoding.PEM
        (work / "root.pem").write_bytes(root.public_bytes(pem))
        (work / "tsa.pem").write_bytes(tsa.public_bytes(pem))
        (work / "tsa.key").write_bytes(tsa_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (work / "serial").write_text("01\n")
        (work / "tsa.cnf").write_text(_OPENSSL_CONFIG.format(dir=work))
        self.root_der = root.public_bytes(serialization.Encoding.DER)
        self.certificate_der = tsa.public_bytes(serialization.Encoding.DER)
        self._work = work
        self._httpd = _HttpServer((host, port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT/tsa`` (any path is served)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/tsa"

    # ----------------------------------------------------------------- answering
    def answer(self, query: bytes) -> tuple[int, str, bytes]:
        """``(HTTP status, content type, body)`` for one DER ``TimeStampReq``."""
        with self._lock:
            self.requests += 1
        reply = "application/timestamp-reply"
        if self.mode == "stall":
            self._closed.wait()
            return 503, "text/plain", b"closed"
        if self.mode == "http-error":
            return 503, "text/plain", b"time-stamping is down"
        if self.mode == "garbage":
            return 200, reply, b"\x30\x82\xff\xffnot a time-stamp reply"
        if self.mode == "huge":
            return 200, reply, b"\x30\x84\x00\x40\x00\x00" + bytes(_HUGE)
        if self.mode == "rejection":
            resp = _tsp.TimeStampResp({"status": {"status": "rejection",
                                                  "status_string": ["test rejection"]}})
            return 200, reply, resp.dump()
        body = self._openssl_reply(query)
        if body is None:
            return 400, "text/plain", b"bad query"
        return 200, ("text/plain" if self.mode == "wrong-content-type" else reply), body

    def _openssl_reply(self, query: bytes) -> bytes | None:
        with self._lock, tempfile.TemporaryDirectory(dir=self._work) as tmp:
            q, r = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
            q.write_bytes(query)
            done = subprocess.run(
                [self.openssl, "ts", "-reply", "-config", str(self._work / "tsa.cnf"),
                 "-queryfile", str(q), "-out", str(r)],
                capture_output=True, check=False, timeout=60)
            if done.returncode != 0 or not r.exists():
                return None
            return r.read_bytes()

    # ----------------------------------------------------------------- life cycle
    def start(self) -> TsaServer:
        """Serve in a daemon thread; returns ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever,
                                            name="jukicard-test-tsa", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and delete the keys."""
        self._closed.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        self._dir.cleanup()

    def __enter__(self) -> TsaServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m jukicard.testing.tsa``: print the URL, serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m jukicard.testing.tsa",
                                     description="local RFC 3161 test TSA (openssl ts)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=MODES, default="ok")
    parser.add_argument("--root-out", metavar="PEM",
                        help="write the test root certificate (PEM) here")
    args = parser.parse_args(argv)
    server = TsaServer(args.host, args.port, mode=args.mode)
    if args.root_out:
        Path(args.root_out).write_bytes(x509.load_der_x509_certificate(server.root_der)
                                        .public_bytes(serialization.Encoding.PEM))
    print(server.url, flush=True)

    def _stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt  # SIGTERM ends it like Ctrl-C: keys deleted

    signal.signal(signal.SIGTERM, _stop)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
