"""``cert verify --fetch-crls``: CRLs fetched from the certificate's own http distribution
point, served by a local http.server on 127.0.0.1 (ephemeral port, in a thread)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import pytest
from test_pki_factory import AT, NB, Pki, dn, make_cert

from jukicard.cli.main import main


class _Crls(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).hits.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/pkix-crl")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served() -> Iterator[tuple[str, type[_Crls]]]:
    handler = type("Handler", (_Crls,), {"files": {}, "hits": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def _run(tmp_path: Path, pki: Pki, ee_der: bytes, *extra: str) -> tuple[int, dict]:
    files = {"root.cer": pki.root.der, "ca.cer": pki.ca.der, "ee.cer": ee_der,
             "root.crl": pki.root_crl().der}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    out = StringIO()
    with redirect_stdout(out):
        rc = main(["cert", "verify", str(tmp_path / "ee.cer"),
                   "--anchor", str(tmp_path / "root.cer"),
                   "--intermediate", str(tmp_path / "ca.cer"),
                   "--crl", str(tmp_path / "root.crl"),
                   "--at", AT.isoformat(), "--json", *extra])
    return rc, json.loads(out.getvalue())


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki("fetch")


def test_revocation_found_at_the_certificates_distribution_point(
    served: tuple[str, type[_Crls]], pki: Pki, tmp_path: Path
) -> None:
    base, handler = served
    ee = make_cert(dn("EE 130"), pki.ee_key, pki.ca, pki.ca_key, serial=130,
                   crl_dp_urls=[base + "/sub.crl"])
    handler.files["/sub.crl"] = pki.ca_crl([(130, NB, None)]).der
    rc, out = _run(tmp_path, pki, ee.der, "--fetch-crls")
    assert (rc, out["reason"]) == (5, "revoked")
    assert handler.hits == ["/sub.crl"]


def test_good_status_from_the_fetched_crl(
    served: tuple[str, type[_Crls]], pki: Pki, tmp_path: Path
) -> None:
    base, handler = served
    ee = make_cert(dn("EE 131"), pki.ee_key, pki.ca, pki.ca_key, serial=131,
                   crl_dp_urls=[base + "/sub.crl"])
    handler.files["/sub.crl"] = pki.ca_crl([(999, NB, None)]).der
    rc, out = _run(tmp_path, pki, ee.der, "--fetch-crls", "--crl-cache", str(tmp_path / "c"))
    assert (rc, out["valid"]) == (0, True)


def test_without_the_flag_nothing_is_fetched_and_status_is_undetermined(
    served: tuple[str, type[_Crls]], pki: Pki, tmp_path: Path
) -> None:
    base, handler = served
    ee = make_cert(dn("EE 132"), pki.ee_key, pki.ca, pki.ca_key, serial=132,
                   crl_dp_urls=[base + "/sub.crl"])
    handler.files["/sub.crl"] = pki.ca_crl().der
    rc, out = _run(tmp_path, pki, ee.der)
    assert (rc, out["reason"]) == (5, "revocation-status-undetermined")
    assert handler.hits == []


def test_unreachable_distribution_point_fails_closed(
    served: tuple[str, type[_Crls]], pki: Pki, tmp_path: Path
) -> None:
    base, handler = served
    ee = make_cert(dn("EE 133"), pki.ee_key, pki.ca, pki.ca_key, serial=133,
                   crl_dp_urls=[base + "/missing.crl"])
    rc, out = _run(tmp_path, pki, ee.der, "--fetch-crls")
    assert (rc, out["valid"], out["reason"]) == (5, False, "revocation-status-undetermined")
