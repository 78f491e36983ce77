"""``jukicard signature verify`` through ``jukicard.cli.main.main`` (exit codes + JSON)."""

from __future__ import annotations

import hashlib
import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import pkcs7

from jukicard.cli.main import main

PKI = Path(__file__).resolve().parents[2] / "vectors" / "pki"
AT = "2026-06-01T00:00:00Z"
DATA = b"document to sign\n"


def run_json(*argv) -> tuple[int, dict]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main([str(a) for a in argv] + ["--json"])
    out = buf.getvalue()
    return rc, json.loads(out)  # usage errors too print a JSON error object


def key(rid: str):
    return serialization.load_pem_private_key(
        (PKI / f"keys/ee-{rid}-sign.pem").read_bytes(), password=None)


def leaf(rid: str) -> x509.Certificate:
    return x509.load_der_x509_certificate((PKI / f"ee/{rid}-sign.cer").read_bytes())


@pytest.fixture
def files(tmp_path):
    (tmp_path / "data").write_bytes(DATA)
    sig = key("r1").sign(DATA, padding.PKCS1v15(), hashes.SHA256())
    (tmp_path / "sig").write_bytes(sig)
    (tmp_path / "digest").write_bytes(hashlib.sha256(DATA).digest())
    return tmp_path


def chain_args(anchor: str = "ca/sign-2023.cer", crl: str = "crl/sign-2023.crl") -> list:
    return ["--anchor", PKI / anchor, "--crl", PKI / crl, "--at", AT]


# --------------------------------------------------------------------------- raw PKCS#1
def test_raw_signature_message_mode(files) -> None:
    rc, res = run_json("signature", "verify", files / "data", files / "sig",
                       "--cert", PKI / "ee/r1-sign.cer")
    assert rc == 0 and res["valid"] is True
    assert res["signature"]["format"] == "pkcs1v15" and res["signature"]["mode"] == "message"
    assert res["certificate"] is None


def test_raw_signature_digest_mode(files) -> None:
    rc, res = run_json("signature", "verify", files / "digest", files / "sig",
                       "--cert", PKI / "ee/r1-sign.cer", "--digest")
    assert rc == 0 and res["signature"]["mode"] == "digest"


def test_raw_mode_card_signed_bytes_as_is(files) -> None:
    # the card signs a DigestInfo as given: --raw with the DigestInfo bytes verifies too
    from jukicard.pki.signatures import build_digest_info

    (files / "di").write_bytes(build_digest_info("sha256", hashlib.sha256(DATA).digest()))
    rc, res = run_json("signature", "verify", files / "di", files / "sig",
                       "--cert", PKI / "ee/r1-sign.cer", "--raw")
    assert rc == 0 and res["signature"]["mode"] == "raw"


def test_tampered_data_and_wrong_cert(files) -> None:
    (files / "other").write_bytes(DATA + b"x")
    rc, res = run_json("signature", "verify", files / "other", files / "sig",
                       "--cert", PKI / "ee/r1-sign.cer")
    assert rc == 5 and res["reason"] == "bad-signature" and res["valid"] is False
    rc, res = run_json("signature", "verify", files / "data", files / "sig",
                       "--cert", PKI / "ee/r2-sign.cer")
    assert rc == 5 and res["reason"] == "bad-signature"


def test_hash_option(files) -> None:
    """The hash comes from the signature's DigestInfo (issue 8, defect 3: without --hash a
    SHA-384 signature was "bad"); an explicit --hash must agree with it."""
    sig = key("r1").sign(DATA, padding.PKCS1v15(), hashes.SHA384())
    (files / "sig384").write_bytes(sig)
    rc, res = run_json("signature", "verify", files / "data", files / "sig384",
                       "--cert", PKI / "ee/r1-sign.cer")
    assert rc == 0 and res["signature"]["hash"] == "sha384"
    rc, res = run_json("signature", "verify", files / "data", files / "sig384",
                       "--cert", PKI / "ee/r1-sign.cer", "--hash", "sha384")
    assert rc == 0 and res["signature"]["hash"] == "sha384"
    rc, res = run_json("signature", "verify", files / "data", files / "sig384",
                       "--cert", PKI / "ee/r1-sign.cer", "--hash", "sha256")
    assert rc == 5 and res["reason"] == "bad-signature"
    assert "sha384" in res["message"] and "--hash" in res["message"]


def test_sha1_needs_allow_sha1(files) -> None:
    sig = key("r1").sign(DATA, padding.PKCS1v15(), hashes.SHA1())
    (files / "sig1").write_bytes(sig)
    rc, _ = run_json("signature", "verify", files / "data", files / "sig1",
                     "--cert", PKI / "ee/r1-sign.cer", "--hash", "sha1")
    assert rc == 2
    rc, res = run_json("signature", "verify", files / "data", files / "sig1",
                       "--cert", PKI / "ee/r1-sign.cer", "--hash", "sha1", "--allow-sha1")
    assert rc == 0 and res["signature"]["weak_hash"] is True


def test_raw_signature_without_cert_is_usage_error(files) -> None:
    rc, _ = run_json("signature", "verify", files / "data", files / "sig")
    assert rc == 2


def test_with_chain_valid_and_revoked(files) -> None:
    rc, res = run_json("signature", "verify", files / "data", files / "sig",
                       "--cert", PKI / "ee/r1-sign.cer", *chain_args(), "--jpki-profile",
                       "--usage", "sign", "--allow-test-anchors")
    assert rc == 0 and res["certificate"]["valid"] is True and res["at"] == AT
    sig2 = key("r2").sign(DATA, padding.PKCS1v15(), hashes.SHA256())
    (files / "sig2").write_bytes(sig2)
    rc, res = run_json("signature", "verify", files / "data", files / "sig2",
                       "--cert", PKI / "ee/r2-sign.cer", *chain_args())
    assert rc == 5
    assert res["signature"]["valid"] is True
    assert res["certificate"]["reason"] == "revoked" and res["reason"] == "revoked"


def test_with_chain_sign_used_as_auth(files) -> None:
    rc, res = run_json("signature", "verify", files / "data", files / "sig",
                       "--cert", PKI / "ee/r1-sign.cer", *chain_args(), "--usage", "auth",
                       "--allow-test-anchors")
    assert rc == 5 and res["reason"] == "jpki-profile-violation"


def test_juki_key_rejected_by_jpki_profile(files) -> None:
    k = serialization.load_pem_private_key((PKI / "keys/ee-juki1-sign.pem").read_bytes(), None)
    (files / "sigj").write_bytes(k.sign(DATA, padding.PKCS1v15(), hashes.SHA256()))
    rc, _ = run_json("signature", "verify", files / "data", files / "sigj",
                     "--cert", PKI / "ee/juki1-sign.cer")
    assert rc == 0
    rc, res = run_json("signature", "verify", files / "data", files / "sigj",
                       "--cert", PKI / "ee/juki1-sign.cer", "--min-rsa-bits", "2048")
    assert rc == 5 and res["reason"] == "weak-key"
    # the JPKI profile never passes a self-made certificate: without --anchor it was a usage
    # error (issue 8 review); since issue 9 the jpki preset validates against the bundled
    # J-LIS roots, and the RSA-1024 key fails its 2048-bit minimum first
    rc, res = run_json("signature", "verify", files / "data", files / "sigj",
                       "--cert", PKI / "ee/juki1-sign.cer", "--jpki-profile")
    assert rc == 5 and res["reason"] == "weak-key"


# --------------------------------------------------------------------------- CMS
def make_cms(rid: str, *opts, encoding=serialization.Encoding.DER) -> bytes:
    return (pkcs7.PKCS7SignatureBuilder().set_data(DATA)
            .add_signer(leaf(rid), key(rid), hashes.SHA256())
            .sign(encoding, [pkcs7.PKCS7Options.Binary, *opts]))


@pytest.mark.parametrize("encoding", [serialization.Encoding.DER, serialization.Encoding.PEM])
def test_cms_detached_autodetected(files, encoding) -> None:
    (files / "p7s").write_bytes(make_cms("r1", pkcs7.PKCS7Options.DetachedSignature,
                                         encoding=encoding))
    rc, res = run_json("signature", "verify", files / "data", files / "p7s", *chain_args())
    assert rc == 0, res
    assert res["signature"]["format"] == "cms" and res["signature"]["detached"] is True
    assert res["certificate"]["valid"] is True
    (files / "other").write_bytes(b"other")
    rc, res = run_json("signature", "verify", files / "other", files / "p7s")
    assert rc == 5 and res["reason"] == "bad-signature"


def test_cms_attached_must_match_file(files) -> None:
    (files / "p7m").write_bytes(make_cms("r1"))
    rc, _ = run_json("signature", "verify", files / "data", files / "p7m")
    assert rc == 0
    (files / "other").write_bytes(b"other")
    rc, res = run_json("signature", "verify", files / "other", files / "p7m")
    assert rc == 5 and res["reason"] == "bad-signature"


def test_cms_revoked_signer(files) -> None:
    (files / "p7s").write_bytes(make_cms("r2", pkcs7.PKCS7Options.DetachedSignature))
    rc, res = run_json("signature", "verify", files / "data", files / "p7s", *chain_args())
    assert rc == 5 and res["signature"]["valid"] is True
    assert res["certificate"]["reason"] == "revoked"


def test_cms_with_digest_option_is_usage_error(files) -> None:
    (files / "p7s").write_bytes(make_cms("r1", pkcs7.PKCS7Options.DetachedSignature))
    rc, _ = run_json("signature", "verify", files / "data", files / "p7s", "--digest")
    assert rc == 2


def test_damaged_or_over_limit_cms_is_malformed_cms(files) -> None:
    """A file framed as CMS SignedData is judged as CMS: a truncated one, or one with more
    SignerInfos than the cap, is malformed-cms (exit 5), not "a raw signature needs --cert"
    (issue 9 review)."""
    from asn1crypto import cms

    der = make_cms("r1", pkcs7.PKCS7Options.DetachedSignature)
    (files / "cut.p7s").write_bytes(der[: len(der) // 2])
    rc, res = run_json("signature", "verify", files / "data", files / "cut.p7s")
    assert rc == 5 and res["reason"] == "malformed-cms", res
    info = cms.ContentInfo.load(der)
    sd = info["content"]
    many = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData({
        "version": sd["version"].native, "digest_algorithms": sd["digest_algorithms"],
        "encap_content_info": sd["encap_content_info"], "certificates": sd["certificates"],
        "signer_infos": [sd["signer_infos"][0]] * 17})}).dump()
    (files / "many.p7s").write_bytes(many)
    rc, res = run_json("signature", "verify", files / "data", files / "many.p7s",
                       *chain_args())
    assert rc == 5 and res["reason"] == "malformed-cms", res
    assert "SignerInfos" in res["message"]


@pytest.mark.parametrize("blob", [b"", b"\x30\x03\x02\x01\x01", b"\x00" * 256])
def test_garbage_signature_file(files, blob: bytes) -> None:
    (files / "junk").write_bytes(blob)
    rc, res = run_json("signature", "verify", files / "data", files / "junk",
                       "--cert", PKI / "ee/r1-sign.cer")
    assert rc == 5 and res["valid"] is False and res["reason"] == "bad-signature"


def test_malformed_cert(files) -> None:
    """A --cert that is no certificate is a usage error naming the option (issue 8 review:
    it was "signature invalid", exit 5)."""
    (files / "bad.cer").write_bytes(b"\x30\x82\x01")
    rc, res = run_json("signature", "verify", files / "data", files / "sig",
                       "--cert", files / "bad.cer")
    assert rc == 2 and res["error"]["option"] == "--cert"
    assert res["error"]["path"] == str(files / "bad.cer")


def test_prehashed_equals_card_signature(files) -> None:
    d = hashlib.sha256(DATA).digest()
    assert key("r1").sign(d, padding.PKCS1v15(), Prehashed(hashes.SHA256())) == \
        (files / "sig").read_bytes()


def _two_signer_cms(first: str, second: str) -> bytes:
    """A detached CMS with two SignerInfos in the given order (asn1crypto keeps it)."""
    from asn1crypto import cms as acms

    parts = [acms.ContentInfo.load(make_cms(r, pkcs7.PKCS7Options.DetachedSignature))
             for r in (first, second)]
    sd = parts[0]["content"]
    sd["certificates"] = [c for p in parts for c in p["content"]["certificates"]]
    sis = [p["content"]["signer_infos"][0].dump() for p in parts]
    sd["signer_infos"] = [p["content"]["signer_infos"][0] for p in parts]
    der = acms.ContentInfo({"content_type": "signed_data", "content": sd}).dump()
    # asn1crypto sorts a SET OF on encoding: put the SignerInfos back in the order asked
    for a, b in ((sis[0], sis[1]), (sis[1], sis[0])):
        if a + b in der:
            return der.replace(a + b, sis[0] + sis[1])
    raise AssertionError("SignerInfos not found")


@pytest.mark.parametrize("order", [("r1", "r2"), ("r2", "r1")])
def test_cms_every_signer_is_validated(files, order) -> None:
    # two SignerInfos over the same content, r1 (valid) and r2 (revoked sign cert): the
    # path of every signer is validated, not only the first one's
    (files / "p7s").write_bytes(_two_signer_cms(*order))
    rc, res = run_json("signature", "verify", files / "data", files / "p7s", *chain_args())
    assert res["signature"]["valid"] is True and len(res["signature"]["signers"]) == 2
    assert rc == 5 and res["valid"] is False and res["reason"] == "revoked"
    expected = [r == "r1" for r in order]
    assert [c["valid"] for c in res["certificates"]] == expected


def _auth_cms(files):
    auth_key = serialization.load_pem_private_key(
        (PKI / "keys/ee-r1-auth.pem").read_bytes(), password=None)
    auth_cert = x509.load_der_x509_certificate((PKI / "ee/r1-auth.cer").read_bytes())
    (files / "p7s").write_bytes(
        pkcs7.PKCS7SignatureBuilder().set_data(DATA)
        .add_signer(auth_cert, auth_key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary,
                                           pkcs7.PKCS7Options.DetachedSignature]))
    return chain_args("ca/auth-2023.cer", "crl/auth-2023.crl")


def test_cms_with_auth_certificate_refused_under_jpki_profile(files) -> None:
    # a CMS document signature is made with the sign certificate (署名用); the auth
    # certificate (利用者証明用) path is fine on its own but not as a document signer
    chain = _auth_cms(files)
    rc, res = run_json("signature", "verify", files / "data", files / "p7s", *chain)
    assert rc == 0, res  # generic RFC 5280: no JPKI usage rule
    rc, res = run_json("signature", "verify", files / "data", files / "p7s", *chain,
                       "--jpki-profile", "--allow-test-anchors")
    assert rc == 5 and res["reason"] == "jpki-profile-violation"
    assert "wrong-usage" in res["certificate"]["message"]
    rc, res = run_json("signature", "verify", files / "data", files / "p7s", *chain,
                       "--jpki-profile", "--usage", "auth", "--allow-test-anchors")
    assert rc == 0, res


def test_raw_signature_with_auth_key_keeps_either_usage(files) -> None:
    # raw card signatures are made with either key (auth: challenge signing), so no
    # default usage applies to them
    auth_key = serialization.load_pem_private_key(
        (PKI / "keys/ee-r1-auth.pem").read_bytes(), password=None)
    (files / "siga").write_bytes(auth_key.sign(DATA, padding.PKCS1v15(), hashes.SHA256()))
    rc, res = run_json("signature", "verify", files / "data", files / "siga",
                       "--cert", PKI / "ee/r1-auth.cer",
                       *chain_args("ca/auth-2023.cer", "crl/auth-2023.crl"), "--jpki-profile",
                       "--allow-test-anchors")
    assert rc == 0, res
