"""``cert verify`` / ``signature verify`` with ``--preset jpki|rfc5280`` and the production
J-LIS anchors (issue 9), through :func:`jukicard.cli.main.main`, and the
:class:`~jukicard.services.verify.VerifyOptions` behind them.

The test PKI (``vectors/pki``) is a test anchor: the jpki preset refuses it unless
``--allow-test-anchors`` (or its fingerprint is declared with ``--production-anchor``), and
without ``--anchor`` the jpki preset validates against the bundled J-LIS roots, to which no
test certificate chains.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from jukicard.cli.main import main
from jukicard.errors import UsageError
from jukicard.pki import load_certificate
from jukicard.services.verify import VerifyOptions

ROOT = Path(__file__).resolve().parents[2]
PKI = ROOT / "vectors" / "pki"
REAL_SIGN_2023 = ROOT / "jukicard" / "pki" / "anchors" / "sign_ca_2023.pem"
AT = "2026-06-01T00:00:00Z"
TEST_ROOT = PKI / "ca/sign-2023.cer"
TEST_ROOT_SHA256 = load_certificate(TEST_ROOT.read_bytes()).fingerprint
CHAIN = ("--anchor", TEST_ROOT, "--crl", PKI / "crl/sign-2023.crl", "--at", AT)


def run(*argv: object) -> tuple[int, dict, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main([str(a) for a in argv] + ["--json"])
    return rc, json.loads(out.getvalue()), err.getvalue()


def verify(*argv: object) -> tuple[int, dict, str]:
    return run("cert", "verify", PKI / "ee/r1-sign.cer", *argv)


# --------------------------------------------------------------------------- cert verify
def test_default_preset_is_rfc5280_and_trusts_the_given_anchor() -> None:
    rc, res, _ = verify(*CHAIN)
    assert rc == 0 and res["preset"] == "rfc5280" and "anchor" not in res
    rc, res, _ = verify(*CHAIN, "--preset", "rfc5280")
    assert rc == 0 and res["preset"] == "rfc5280"


@pytest.mark.parametrize("jpki", [("--preset", "jpki"), ("--jpki-profile",),
                                  ("--usage", "sign")], ids=" ".join)
def test_jpki_preset_refuses_a_test_anchor(jpki: tuple[str, ...]) -> None:
    rc, res, err = verify(*CHAIN, *jpki)
    assert rc == 2
    error = res["error"]
    assert error["option"] == "--anchor" and error["path"] == str(TEST_ROOT)
    assert "--allow-test-anchors" in error["message"] and TEST_ROOT_SHA256 in error["message"]
    assert "Traceback" not in err


@pytest.mark.parametrize("jpki", [("--preset", "jpki"), ("--jpki-profile",),
                                  ("--usage", "sign")], ids=" ".join)
def test_jpki_preset_with_test_anchors_allowed(jpki: tuple[str, ...]) -> None:
    rc, res, _ = verify(*CHAIN, *jpki, "--allow-test-anchors")
    assert rc == 0, res
    assert res["preset"] == "jpki"
    # rests on a test anchor
    assert res["anchor"] == {"id": None, "production": False, "source": "test"}


def test_jpki_profile_is_a_synonym_of_preset_jpki() -> None:
    results = [verify(*CHAIN, *flag, "--allow-test-anchors")[1]
               for flag in (("--preset", "jpki"), ("--jpki-profile",),
                            ("--preset", "jpki", "--jpki-profile"))]
    assert results[0] == results[1] == results[2]
    # the JPKI policy really applies: an RSA-1024 住基カード-era certificate is refused
    juki = ("cert", "verify", PKI / "ee/juki1-sign.cer", "--anchor", PKI / "ca/sign-2019.cer",
            "--crl", PKI / "crl/sign-2019.crl", "--at", AT, "--allow-test-anchors")
    for flag in (("--preset", "jpki"), ("--jpki-profile",)):
        rc, res, _ = run(*juki, *flag)
        assert rc == 5 and res["reason"] in ("key-too-small", "jpki-profile-violation")


def test_jpki_preset_without_anchor_uses_the_bundled_roots() -> None:
    """A chain from the test PKI is refused under the production preset: no path to any
    bundled J-LIS root (before issue 9, ``--anchor`` was required: exit 2)."""
    rc, res, _ = verify("--preset", "jpki", "--crl", PKI / "crl/sign-2023.crl", "--at", AT)
    assert rc == 5 and res["valid"] is False
    assert res["reason"] == "no-valid-issuer-or-name-chaining"
    assert res["preset"] == "jpki" and "anchor" not in res  # the path reaches no anchor


def test_a_real_root_given_as_anchor_is_production() -> None:
    rc, res, _ = run("cert", "verify", REAL_SIGN_2023, "--preset", "jpki", "--anchor",
                     REAL_SIGN_2023, "--no-revocation", "--at", AT)
    assert rc == 5  # a root is no JPKI end-entity certificate, but it was not refused (2)
    assert res["anchor"] == {"id": "jlis-sign-2023", "production": True, "source": "manifest"}


def test_production_anchor_declares_one_fingerprint() -> None:
    colons = ":".join(TEST_ROOT_SHA256[i:i + 2] for i in range(0, 64, 2)).upper()
    rc, res, _ = verify(*CHAIN, "--preset", "jpki", "--production-anchor", colons)
    assert rc == 0, res
    assert res["anchor"] == {"id": None, "production": True, "source": "declared"}
    other = "00" * 32
    rc, res, _ = verify(*CHAIN, "--preset", "jpki", "--production-anchor", other)
    assert rc == 2 and "--allow-test-anchors" in res["error"]["message"]


@pytest.mark.parametrize(("argv", "words"), [
    (("--allow-test-anchors",), "--preset jpki only"),
    (("--production-anchor", TEST_ROOT_SHA256), "--preset jpki only"),
    (("--preset", "rfc5280", "--jpki-profile"), "--preset rfc5280"),
    (("--preset", "rfc5280", "--usage", "sign"), "--preset rfc5280"),
    (("--preset", "jpki", "--production-anchor", "abc"), "not a SHA-256 fingerprint"),
], ids=["allow-without-jpki", "production-without-jpki", "rfc5280+jpki-profile",
        "rfc5280+usage", "bad-fingerprint"])
def test_preset_option_conflicts_are_usage_errors(argv: tuple[str, ...], words: str) -> None:
    rc, res, _ = verify(*CHAIN, *argv)
    assert rc == 2 and words in res["error"]["message"]


def test_trust_options_without_anchor_are_usage_errors() -> None:
    """Nothing is silently ignored: the bundled roots are all production anchors."""
    for extra in (("--allow-test-anchors",), ("--production-anchor", TEST_ROOT_SHA256)):
        rc, res, _ = verify("--preset", "jpki", "--at", AT, *extra)
        assert rc == 2 and "only with --anchor" in res["error"]["message"]


def test_rfc5280_still_needs_an_anchor() -> None:
    rc, res, _ = verify("--at", AT)
    assert rc == 2 and "--anchor" in res["error"]["message"]
    assert "--preset jpki" in res["error"]["message"]


# --------------------------------------------------------------------------- signature verify
@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path]:
    key = serialization.load_pem_private_key((PKI / "keys/ee-r1-sign.pem").read_bytes(), None)
    (tmp_path / "data").write_bytes(b"document\n")
    (tmp_path / "sig").write_bytes(key.sign(b"document\n", padding.PKCS1v15(), hashes.SHA256()))
    return tmp_path / "data", tmp_path / "sig"


def test_signature_verify_jpki_without_anchor_validates_the_certificate(
        signed: tuple[Path, Path]) -> None:
    """``--jpki-profile`` without ``--anchor`` was a usage error (issue 8 review, finding
    6); now the certificate is validated against the bundled J-LIS roots, and a test
    certificate is invalid (exit 5), never "signature valid" alone."""
    data, sig = signed
    for flag in (("--preset", "jpki"), ("--jpki-profile",), ("--usage", "sign")):
        rc, res, _ = run("signature", "verify", data, sig, "--cert", PKI / "ee/r1-sign.cer",
                         "--at", AT, *flag)
        assert rc == 5 and res["valid"] is False
        assert res["signature"]["valid"] is True
        assert res["certificate"]["reason"] == "no-valid-issuer-or-name-chaining"
        assert res["certificate"]["preset"] == "jpki"


def test_signature_verify_jpki_with_a_test_anchor(signed: tuple[Path, Path]) -> None:
    data, sig = signed
    base = ("signature", "verify", data, sig, "--cert", PKI / "ee/r1-sign.cer", *CHAIN,
            "--preset", "jpki")
    rc, res, _ = run(*base)
    assert rc == 2 and res["error"]["option"] == "--anchor"
    rc, res, _ = run(*base, "--allow-test-anchors")
    assert rc == 0, res
    assert res["certificate"]["anchor"] == {"id": None, "production": False, "source": "test"}


def test_signature_verify_rfc5280_preset_without_anchor_is_a_usage_error(
        signed: tuple[Path, Path]) -> None:
    data, sig = signed
    rc, res, _ = run("signature", "verify", data, sig, "--cert", PKI / "ee/r1-sign.cer",
                     "--preset", "rfc5280")
    assert rc == 2 and "--preset" in res["error"]["message"]
    rc, res, _ = run("signature", "verify", data, sig, "--cert", PKI / "ee/r1-sign.cer")
    assert rc == 0 and "not validated" in res["message"]  # unchanged without a preset


# --------------------------------------------------------------------------- VerifyOptions
def test_verify_options_preset_fields() -> None:
    assert not VerifyOptions().jpki and not VerifyOptions().validates_path
    assert VerifyOptions(preset="jpki").jpki and VerifyOptions(preset="jpki").validates_path
    assert VerifyOptions(jpki_profile=True).jpki and VerifyOptions(usage="auth").jpki
    assert not VerifyOptions(preset="rfc5280").jpki
    opts = VerifyOptions(preset="jpki", anchors=("a.cer",),
                         production_anchors=[TEST_ROOT_SHA256.upper()])
    assert opts.production_anchors == (TEST_ROOT_SHA256,)
    with pytest.raises(UsageError):
        VerifyOptions(preset="x509")
    with pytest.raises(UsageError):  # one string where a sequence belongs
        VerifyOptions(preset="jpki", anchors=("a.cer",), production_anchors=TEST_ROOT_SHA256)


@pytest.mark.parametrize("extra", [(), ("--anchor", TEST_ROOT, "--allow-test-anchors")])
def test_a_damaged_bundled_set_gives_one_result_shape(monkeypatch, extra) -> None:
    """A tampered installation is reported as a result with reason trust-anchor-integrity
    (exit 5), with or without --anchor (issue 9 verification review: one case printed an
    error envelope instead)."""
    from jukicard.pki import anchors as production

    def damaged(*_a: object, **_k: object) -> None:
        raise production.AnchorIntegrityError("sign_ca_2023.pem does not match the manifest",
                                              "sign_ca_2023.pem")

    monkeypatch.setattr(production, "load", damaged)
    monkeypatch.setattr(production, "bundled", damaged)
    rc, res, _ = run("cert", "verify", PKI / "ee/r1-sign.cer", "--preset", "jpki", *extra,
                     "--no-revocation", "--at", AT)
    assert rc == 5
    assert res["valid"] is False and res["reason"] == "trust-anchor-integrity", res
