"""``jukicard cert verify`` driven through ``jukicard.cli.main.main`` (exit codes + JSON).

Uses the generated JPKI test PKI (``vectors/pki``, see its manifest) and NIST PKITS
(``vectors/pkits``).  Other tools drive the validator through exactly these commands.
"""

from __future__ import annotations

import datetime as dt
import http.server
import io
import json
import threading
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from jukicard.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
PKI = ROOT / "vectors" / "pki"
PKITS = ROOT / "vectors" / "pkits"
AT = "2026-06-01T00:00:00Z"

# vectors/pki and vectors/pkits are committed: a missing file fails, never skips


def run(*argv: str | Path) -> tuple[int, str]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main([str(a) for a in argv])
    return rc, buf.getvalue()


def run_json(*argv: str | Path) -> tuple[int, dict]:
    rc, out = run(*argv, "--json")
    return rc, json.loads(out)


def verify(leaf: str, anchor: str, *crls: str, extra: tuple[str, ...] = (), at: str = AT
           ) -> tuple[int, dict]:
    args: list[str | Path] = ["cert", "verify", PKI / leaf, "--anchor", PKI / anchor]
    for c in crls:
        args += ["--crl", PKI / c]
    if at:
        args += ["--at", at]
    return run_json(*args, *extra)


# --------------------------------------------------------------------------- JPKI test PKI
def test_valid_sign_certificate() -> None:
    rc, res = verify("ee/r1-sign.cer", "ca/sign-2023.cer", "crl/sign-2023.crl",
                     extra=("--jpki-profile", "--allow-test-anchors"))
    assert rc == 0
    assert res["valid"] is True and res["reason"] == "ok"
    assert res["at"] == AT
    assert len(res["path"]) == 2 and "JPKI for digital signature" in res["path"][0]
    assert [r["state"] for r in res["revocation"]] == ["good"]
    assert "1.2.392.200149.8.5.1.1.20" in res["policies"]


def test_sign_certificate_subject_not_printed() -> None:
    # the leaf's subject (prefecture/city) is personal: only serial + fingerprint appear
    rc, res = verify("ee/r1-sign.cer", "ca/sign-2023.cer", "crl/sign-2023.crl")
    assert rc == 0
    assert res["path"][1].startswith("certificate serial")
    assert "Tokyo" not in json.dumps(res) and "Chiyoda" not in json.dumps(res)


def test_revoked_sign_certificate() -> None:
    rc, res = verify("ee/r2-sign.cer", "ca/sign-2023.cer", "crl/sign-2023.crl")
    assert rc == 5
    assert res["valid"] is False and res["reason"] == "revoked"
    (rev,) = res["revocation"]
    assert rev["state"] == "revoked"
    assert rev["revocation_reason"] == "affiliationChanged"
    assert rev["revoked_at"] == "2026-05-10T03:00:00Z"


def test_auth_cert_of_revoked_sign_cert_holder_stays_valid() -> None:
    rc, _ = verify("ee/r2-auth.cer", "ca/auth-2023.cer", "crl/auth-2023.crl",
                   extra=("--jpki-profile", "--usage", "auth", "--allow-test-anchors"))
    assert rc == 0


def test_stale_crl_is_never_valid() -> None:
    rc, res = verify("ee/r1-sign.cer", "ca/sign-2023.cer", "crl/sign-2023-stale.crl")
    assert rc == 5 and res["reason"] == "crl-stale-nextUpdate-passed"


def test_crl_signed_by_wrong_key() -> None:
    rc, res = verify("ee/r1-auth.cer", "ca/auth-2023.cer", "crl/auth-2023-wrongkey.crl")
    assert rc == 5 and res["valid"] is False
    assert res["reason"] in ("bad-crl-signature", "revocation-status-undetermined")


def test_no_crl_is_undetermined_and_no_revocation_passes() -> None:
    rc, res = verify("ee/r1-auth.cer", "ca/auth-2023.cer")
    assert rc == 5 and res["reason"] == "revocation-status-undetermined"
    rc, res = verify("ee/r1-auth.cer", "ca/auth-2023.cer", extra=("--no-revocation",))
    assert rc == 0 and res["revocation"][0]["state"] is None


def test_expired_ca() -> None:
    # RFC 5280 does not check the anchor's own validity; the JPKI profile does
    rc, res = verify("ee/r3-sign.cer", "ca/sign-2015.cer", "crl/sign-2015.crl",
                     extra=("--jpki-profile", "--allow-test-anchors"))
    assert rc == 5
    assert res["reason"] in ("certificate-expired", "jpki-profile-violation")
    if res["reason"] == "jpki-profile-violation":
        assert "ca-expired" in res["message"]


def test_at_before_expiry_of_old_generation() -> None:
    rc, _ = verify("ee/r3-sign.cer", "ca/sign-2015.cer", extra=("--no-revocation",),
                   at="2024-01-01T09:00:00+09:00")
    assert rc == 0


def test_sign_certificate_used_as_auth() -> None:
    rc, res = verify("ee/r1-sign.cer", "ca/sign-2023.cer", "crl/sign-2023.crl",
                     extra=("--usage", "auth", "--allow-test-anchors"))
    assert rc == 5 and res["reason"] == "jpki-profile-violation"
    assert "wrong-usage" in res["message"]


def test_wrong_anchor_kind() -> None:
    rc, res = verify("ee/r1-sign.cer", "ca/auth-2023.cer", "crl/auth-2023.crl")
    assert rc == 5 and res["valid"] is False


def test_juki_rsa1024_needs_relaxed_policy() -> None:
    rc, res = verify("ee/juki1-sign.cer", "ca/sign-2019.cer", "crl/sign-2019.crl",
                     extra=("--jpki-profile", "--allow-test-anchors"))
    assert rc == 5 and res["reason"] in ("key-too-small", "jpki-profile-violation")
    rc, res = verify("ee/juki1-sign.cer", "ca/sign-2019.cer", "crl/sign-2019.crl")
    assert rc == 0, res  # generic RFC 5280 policy: RSA >= 1024
    rc, res = verify("ee/juki1-sign.cer", "ca/sign-2019.cer", "crl/sign-2019.crl",
                     extra=("--min-rsa-bits", "2048"))
    assert rc == 5 and res["reason"] == "key-too-small"


def test_policy_options() -> None:
    rc, _ = verify("ee/r1-auth.cer", "ca/auth-2023.cer", "crl/auth-2023.crl",
                   extra=("--policy", "1.2.392.200149.8.5.1.3.30", "--explicit-policy"))
    assert rc == 0
    rc, res = verify("ee/r1-auth.cer", "ca/auth-2023.cer", "crl/auth-2023.crl",
                     extra=("--policy", "1.2.392.200149.8.5.1.1.20", "--explicit-policy"))
    assert rc == 5 and res["reason"] == "no-acceptable-explicit-policy"


def test_default_at_is_now_and_printed() -> None:
    rc, res = verify("ee/r1-auth.cer", "ca/auth-2023.cer", extra=("--no-revocation",), at="")
    at = dt.datetime.fromisoformat(res["at"].replace("Z", "+00:00"))
    assert at.tzinfo is not None and at.year >= 2025
    assert rc in (0, 5)  # depends on today's date vs. the test certificate's validity


def test_text_output(tmp_path) -> None:
    rc, out = run("cert", "verify", PKI / "ee/r2-sign.cer", "--anchor", PKI / "ca/sign-2023.cer",
                  "--crl", PKI / "crl/sign-2023.crl", "--at", AT)
    assert rc == 5
    assert "valid: no" in out and "reason: revoked" in out and f"at: {AT}" in out


def test_pem_inputs_and_bundle(tmp_path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    def pem_cert(rel: str) -> bytes:
        return x509.load_der_x509_certificate((PKI / rel).read_bytes()).public_bytes(Encoding.PEM)

    bundle = tmp_path / "anchors.pem"
    bundle.write_bytes(pem_cert("ca/auth-2019.cer") + pem_cert("ca/sign-2023.cer"))
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(pem_cert("ee/r1-sign.cer"))
    crl = tmp_path / "crl.pem"
    crl.write_bytes(x509.load_der_x509_crl((PKI / "crl/sign-2023.crl").read_bytes())
                    .public_bytes(Encoding.PEM))
    rc, res = run_json("cert", "verify", leaf, "--anchor", bundle, "--crl", crl, "--at", AT)
    assert rc == 0, res


# --------------------------------------------------------------------------- CRL by URL
class _CrlServer:
    def __init__(self, body: bytes) -> None:
        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path != "/sign.crl":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_crl_by_url_and_cache(tmp_path, monkeypatch) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    srv = _CrlServer((PKI / "crl/sign-2023.crl").read_bytes())
    try:
        rc, res = verify("ee/r2-sign.cer", "ca/sign-2023.cer",
                         extra=("--crl", srv.url + "/sign.crl", "--crl-cache",
                                str(tmp_path / "cache")))
        assert rc == 5 and res["reason"] == "revoked"
        assert len(list((tmp_path / "cache").glob("*.crl"))) == 1
        rc, res = verify("ee/r1-sign.cer", "ca/sign-2023.cer",
                         extra=("--crl", srv.url + "/missing.crl"))
        assert rc == 5 and res["reason"] == "revocation-status-undetermined"
        assert res["problems"] and "missing.crl" in res["problems"][0]
    finally:
        srv.close()


# --------------------------------------------------------------------------- usage / malformed
def test_anchor_is_required() -> None:
    rc, out = run("cert", "verify", "x.cer")
    assert rc == 2 and out == ""


def test_missing_file_is_usage_error(tmp_path) -> None:
    rc, _ = run("cert", "verify", tmp_path / "nope.cer", "--anchor", PKI / "ca/auth-2023.cer")
    assert rc == 2
    rc, _ = run("cert", "verify", PKI / "ee/r1-auth.cer", "--anchor", tmp_path / "nope.cer")
    assert rc == 2


@pytest.mark.parametrize("at", ["yesterday", "2026-13-01T00:00:00Z", "2026-06-01T25:00"])
def test_bad_at_is_usage_error(at: str) -> None:
    rc, _ = run("cert", "verify", PKI / "ee/r1-auth.cer", "--anchor", PKI / "ca/auth-2023.cer",
                "--at", at)
    assert rc == 2


def test_malformed_certificate_gives_json(tmp_path) -> None:
    bad = tmp_path / "bad.cer"
    bad.write_bytes((PKI / "ee/r1-auth.cer").read_bytes()[:100])
    rc, res = run_json("cert", "verify", bad, "--anchor", PKI / "ca/auth-2023.cer", "--at", AT)
    assert rc == 5 and res["valid"] is False and res["reason"] == "malformed-certificate"


def test_malformed_anchor_and_crl(tmp_path) -> None:
    """A broken --anchor or --crl file is the operator's mistake: exit 2, naming the option
    and the file (issue 8 review; it was a "malformed" validation result, exit 5)."""
    bad = tmp_path / "bad.der"
    bad.write_bytes(b"\x30\x82\xff\xff\x00")
    rc, res = run_json("cert", "verify", PKI / "ee/r1-auth.cer", "--anchor", bad, "--at", AT)
    assert rc == 2 and res["error"]["option"] == "--anchor" and res["error"]["path"] == str(bad)
    rc, res = run_json("cert", "verify", PKI / "ee/r1-auth.cer", "--anchor",
                       PKI / "ca/auth-2023.cer", "--crl", bad, "--at", AT)
    assert rc == 2 and res["error"]["option"] == "--crl" and res["error"]["path"] == str(bad)


# --------------------------------------------------------------------------- cert group
def test_cert_group_is_one_static_click_group() -> None:
    """One group per module, its commands added by static import (no registry of module
    names, no import hook)."""
    import jukicard.cli.cert as cert_cli
    from jukicard.cli.main import cli

    assert cli.commands["cert"] is cert_cli.cert
    assert list(cert_cli.cert.commands) == ["verify", "export"]
    assert not hasattr(cert_cli, "CERT_EXTENSION_MODULES")
    assert not hasattr(cert_cli, "cert_subparsers")


# --------------------------------------------------------------------------- NIST PKITS
def _pkits_cases() -> list[dict]:
    return json.loads((PKITS / "pkits-index.json").read_text())["cases"]


def _pkits_argv(index: dict, case: dict) -> list[str | Path]:
    argv: list[str | Path] = ["cert", "verify", PKITS / case["ee_cert"],
                              "--anchor", PKITS / index["trust_anchor"],
                              "--at", index["recommended_validation_time"]]
    for i in case["intermediates"]:
        argv += ["--intermediate", PKITS / i]
    for c in case["crls"]:
        argv += ["--crl", PKITS / c]
    pp = case.get("policy_params") or {}
    for p in pp.get("user_initial_policy_set", []):
        argv += ["--policy", p]
    flags = {"initial_explicit_policy": "--explicit-policy",
             "initial_policy_mapping_inhibit": "--inhibit-mapping",
             "initial_any_policy_inhibit": "--inhibit-any-policy"}
    argv += [flag for key, flag in flags.items() if pp.get(key)]
    return argv


def _pkits_params() -> list:
    """The index entries, with the entries of ``test_pkits.LENIENT_ENTRIES`` (their PKITS
    certificates break an RFC 5280 §4 rule the test is not about) flagged to run with
    ``--lenient``, as ``test_pkits.py`` runs them with ``Conformance.LENIENT``."""
    from test_pkits import LENIENT_ENTRIES, case_id

    return [pytest.param(c, case_id(c) in LENIENT_ENTRIES,
                         id=f"{c['pkits_id']}-{c['name']}-v{c.get('variant', 0)}")
            for c in _pkits_cases()]


@pytest.mark.parametrize(("case", "lenient"), _pkits_params())
def test_pkits_through_cli(case: dict, lenient: bool) -> None:
    index = json.loads((PKITS / "pkits-index.json").read_text())
    rc, res = run_json(*_pkits_argv(index, case), *(["--lenient"] if lenient else []))
    expected_valid = case["expected"] == "valid"
    assert rc == (0 if expected_valid else 5), (res["reason"], res["message"])
    assert res["valid"] is expected_valid
    if not expected_valid and case["relevance"] == "core" and case.get("reason"):
        assert res["reason"] == case["reason"]
    if expected_valid:
        assert len(res["path"]) == len(res["path_sha256"]) >= 2
    assert res["conformance"] == ("lenient" if lenient else "strict")


def test_lenient_entries_are_refused_by_the_strict_default() -> None:
    """Issue 9: without ``--lenient`` the CLI applies the RFC 5280 profile, and a valid PKITS
    entry whose certificates break it (here 4.6.4: a CA with non-critical basicConstraints)
    is refused with that rule's reason; with ``--lenient`` it validates."""
    from test_pkits import LENIENT_ENTRIES, case_id

    index = json.loads((PKITS / "pkits-index.json").read_text())
    case = next(c for c in _pkits_cases()
                if c["expected"] == "valid" and case_id(c) in LENIENT_ENTRIES
                and c["pkits_id"] == "4.6.4")
    rc, res = run_json(*_pkits_argv(index, case))
    assert rc == 5 and res["reason"] == LENIENT_ENTRIES[case_id(case)][0]
    rc, res = run_json(*_pkits_argv(index, case), "--lenient")
    assert rc == 0 and res["valid"] is True


def test_max_chain_depth_limits_the_path() -> None:
    """Issue 9: ``--max-chain-depth 0`` allows no CA between anchor and certificate, so a
    PKITS path through an intermediate is not built (path-building-limit)."""
    index = json.loads((PKITS / "pkits-index.json").read_text())
    case = next(c for c in _pkits_cases() if c["pkits_id"] == "4.1.1")
    rc, res = run_json(*_pkits_argv(index, case))
    assert rc == 0
    rc, res = run_json(*_pkits_argv(index, case), "--max-chain-depth", "0")
    assert rc == 5 and res["reason"] == "path-building-limit"
