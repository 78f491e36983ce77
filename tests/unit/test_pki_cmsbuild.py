"""CMS SignedData building (jukicard.pki.cmsbuild) with the test PKI.

A SOFTWARE signer holding the test key ``vectors/pki/keys/ee-r1-sign.pem`` stands in for the
card (every test using it says so in its name): it receives the DigestInfo the host built and
returns the PKCS#1 v1.5 signature, as the JPKI card does with host hashing.  The results are
checked by jukicard's own verifier and by ``openssl cms -verify`` (a tool nobody here wrote).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms as acms
from asn1crypto import tsp as atsp
from asn1crypto import x509 as ax509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from jukicard.errors import CardError, UsageError
from jukicard.pki.cms import MalformedCmsError, SignedData, verify_cms
from jukicard.pki.cmsbuild import (
    CmsSignerFailedError,
    CmsSignerOutputError,
    SigningScheme,
    build_signed_data,
)
from jukicard.pki.signatures import (
    SignatureInvalidError,
    WeakHashError,
    load_certificate,
    parse_digest_info,
)

PKI = Path(__file__).resolve().parents[2] / "vectors" / "pki"
CONTENT = b"application form\r\n\x00\xffbinary tail\n"
WHEN = dt.datetime(2026, 6, 1, 9, 30, tzinfo=dt.UTC)

CERT = load_certificate((PKI / "ee" / "r1-sign.cer").read_bytes())
ROOT = load_certificate((PKI / "ca" / "sign-2023.cer").read_bytes())
OTHER_ROOT = load_certificate((PKI / "ca" / "auth-2023.cer").read_bytes())


def _key(name: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key((PKI / "keys" / name).read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


KEY = _key("ee-r1-sign.pem")


class SoftwareCardSigner:
    """Stands in for the card: PKCS#1 v1.5 over the host-built DigestInfo; counts calls."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self.key = key
        self.blocks: list[bytes] = []

    def __call__(self, digest_info: bytes) -> bytes:
        self.blocks.append(digest_info)
        name, digest = parse_digest_info(digest_info)
        algo = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(),
                "sha512": hashes.SHA512()}[name]
        return self.key.sign(digest, padding.PKCS1v15(), utils.Prehashed(algo))


def _build(signer=None, **kw) -> bytes:
    kw.setdefault("certificate", CERT)
    kw.setdefault("ca_certificates", [ROOT])
    kw.setdefault("signing_time", WHEN)
    return build_signed_data(CONTENT, signer=signer or SoftwareCardSigner(KEY), **kw)


# -- jukicard's own verifier ----------------------------------------------------------------

@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize("attached", [False, True])
def test_software_card_signer_cms_accepted_by_jukicard_verifier(hash_name, attached):
    signer = SoftwareCardSigner(KEY)
    der = _build(signer, hash_name=hash_name, attached=attached)
    assert len(signer.blocks) == 1  # the card (and its PIN) is asked exactly once
    sd = SignedData.parse(der)
    assert sd.detached is not attached
    res, signers = sd.verify_document(CONTENT)
    assert signers == [CERT]
    (s,) = res.signers
    assert s.digest_algorithm == hash_name and s.signed_attributes
    assert s.signing_time == WHEN
    assert set(sd.certificates) == {CERT, ROOT}
    # the signed block is the DigestInfo of the DER signed attributes
    si = sd._signed_data["signer_infos"][0]
    name, digest = parse_digest_info(signer.blocks[0])
    assert name == hash_name
    assert digest == hashlib.new(hash_name, si["signed_attrs"].untag().dump()).digest()


def test_software_card_signer_cms_carries_ess_signing_certificate_v2():
    """CAdES-BES: signingCertificateV2 names the signer cert by SHA-256 and issuerSerial."""
    info = acms.ContentInfo.load(_build())
    attrs = {a["type"].native: a["values"] for a in
             info["content"]["signer_infos"][0]["signed_attrs"]}
    assert set(attrs) == {"content_type", "message_digest", "signing_time",
                          "signing_certificate_v2"}
    (scv2,) = attrs["signing_certificate_v2"]
    assert isinstance(scv2, atsp.SigningCertificateV2)
    (cid,) = scv2["certs"]
    der = CERT.public_bytes(serialization.Encoding.DER)
    assert cid["hash_algorithm"]["algorithm"].native == "sha256"
    assert cid["cert_hash"].native == hashlib.sha256(der).digest()
    asn = ax509.Certificate.load(der)
    assert cid["issuer_serial"]["serial_number"].native == asn.serial_number
    assert cid["issuer_serial"]["issuer"][0].chosen == asn.issuer


def test_software_card_signer_tampered_content_rejected_by_jukicard():
    der = _build()
    flipped = bytearray(CONTENT)
    flipped[3] ^= 0x01
    with pytest.raises(SignatureInvalidError):
        verify_cms(der, detached_content=bytes(flipped))
    # attached: flip one byte of the content inside the CMS
    att = _build(attached=True)
    i = att.index(CONTENT)
    bad = bytearray(att)
    bad[i + 3] ^= 0x01
    with pytest.raises(SignatureInvalidError):
        verify_cms(bytes(bad))


# -- openssl cms -verify --------------------------------------------------------------------

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl not installed")


def _openssl_verify(tmp_path: Path, der: bytes, content: bytes | None,
                    root=ROOT) -> subprocess.CompletedProcess[bytes]:
    p7s = tmp_path / "doc.p7s"
    p7s.write_bytes(der)
    ca = tmp_path / "root.pem"
    ca.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    out = tmp_path / "out.bin"
    cmd = [str(OPENSSL), "cms", "-verify", "-binary", "-inform", "DER", "-in", str(p7s),
           "-CAfile", str(ca), "-purpose", "any", "-out", str(out)]
    if content is not None:
        doc = tmp_path / "doc.bin"
        doc.write_bytes(content)
        cmd += ["-content", str(doc)]
    res = subprocess.run(cmd, capture_output=True, check=False)
    if res.returncode == 0:
        assert out.read_bytes() == (content if content is not None else CONTENT)
    return res


@needs_openssl
@pytest.mark.parametrize("hash_name", ["sha256", "sha512"])
def test_software_card_signer_detached_cms_accepted_by_openssl(tmp_path, hash_name):
    res = _openssl_verify(tmp_path, _build(hash_name=hash_name), CONTENT)
    assert res.returncode == 0, res.stderr.decode(errors="replace")


@needs_openssl
def test_software_card_signer_attached_cms_accepted_by_openssl(tmp_path):
    res = _openssl_verify(tmp_path, _build(attached=True, hash_name="sha384"), None)
    assert res.returncode == 0, res.stderr.decode(errors="replace")


@needs_openssl
def test_software_card_signer_cms_openssl_rejects_flipped_byte_and_wrong_root(tmp_path):
    """The acceptance above is not vacuous: openssl rejects one flipped byte (detached and
    attached) and a trust anchor that did not issue the signer."""
    flipped = bytearray(CONTENT)
    flipped[3] ^= 0x01
    assert _openssl_verify(tmp_path, _build(), bytes(flipped)).returncode != 0
    att = bytearray(_build(attached=True))
    att[att.index(CONTENT) + 3] ^= 0x01
    assert _openssl_verify(tmp_path, bytes(att), None).returncode != 0
    assert _openssl_verify(tmp_path, _build(), CONTENT, root=OTHER_ROOT).returncode != 0


# -- a signer that misbehaves ---------------------------------------------------------------

def test_signer_with_wrong_key_raises_typed_error_and_returns_nothing():
    """A signer holding another key (the auth key, a different card): typed error."""
    wrong = SoftwareCardSigner(_key("ee-r1-auth.pem"))
    with pytest.raises(CmsSignerOutputError):
        _build(wrong)
    assert len(wrong.blocks) == 1


@pytest.mark.parametrize("mangle", [
    lambda sig: sig[:-1] + bytes([sig[-1] ^ 1]),  # one bit
    lambda sig: sig[:-1],  # short
    lambda sig: b"",
])
def test_signer_returning_damaged_signature_raises_typed_error(mangle):
    good = SoftwareCardSigner(KEY)
    with pytest.raises(CmsSignerOutputError):
        _build(lambda block: mangle(good(block)))


def test_signer_returning_non_bytes_raises_typed_error():
    with pytest.raises(CmsSignerOutputError):
        _build(lambda block: None)  # type: ignore[arg-type,return-value]


def test_signer_raising_foreign_exception_is_wrapped_card_errors_pass():
    def broken(block: bytes) -> bytes:
        raise RuntimeError("driver")

    with pytest.raises(CmsSignerFailedError):
        _build(broken)

    def card_says_no(block: bytes) -> bytes:
        raise CardError(0x6982, b"")

    with pytest.raises(CardError):
        _build(card_says_no)


def test_bad_arguments_are_usage_errors_before_the_signer_is_called():
    signer = SoftwareCardSigner(KEY)
    with pytest.raises(WeakHashError):
        _build(signer, hash_name="sha1")
    with pytest.raises(UsageError):
        _build(signer, hash_name="sha224")  # known to the verifier, not for new signatures
    with pytest.raises(UsageError):
        _build(signer, hash_name="md5")
    with pytest.raises(UsageError):
        _build(signer, signing_time=dt.datetime(2026, 6, 1))
    with pytest.raises(UsageError):
        build_signed_data("text", signer=signer, certificate=CERT)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        _build(signer, scheme="pss")
    assert signer.blocks == []


def test_default_scheme_is_pkcs1v15_over_digest_info():
    assert SigningScheme("pkcs1v15-digest-info") is SigningScheme.PKCS1V15_DIGEST_INFO


def test_malformed_signing_certificate_v2_value_is_malformed_cms_not_value_error():
    """Guard: cmsbuild imports ``asn1crypto.tsp``, which registers signingCertificateV2 for
    every CMS parsed afterwards; a value that is not a SEQUENCE must still end in a typed
    rejection (``SignedData.parse`` decodes the attributes), never a bare ``ValueError``."""
    from asn1crypto import core as acore

    info = acms.ContentInfo.load(_build())
    sd = info["content"]
    si = sd["signer_infos"][0]
    bad_attr = acore.Sequence(contents=acore.ObjectIdentifier(
        "1.2.840.113549.1.9.16.2.47").dump() + acore.SetOf(
        contents=acore.Integer(5).dump()).dump())
    kept = [a.dump() for a in si["signed_attrs"]
            if a["type"].native != "signing_certificate_v2"]
    attrs_der = acore.SetOf(contents=b"".join(sorted(kept + [bad_attr.dump()]))).dump()
    signature = KEY.sign(attrs_der, padding.PKCS1v15(), hashes.SHA256())
    new_si = acms.SignerInfo({
        "version": "v1", "sid": si["sid"], "digest_algorithm": si["digest_algorithm"],
        "signed_attrs": acms.CMSAttributes.load(attrs_der),
        "signature_algorithm": si["signature_algorithm"], "signature": signature})
    der = acms.ContentInfo({"content_type": "signed_data", "content": acms.SignedData({
        "version": "v1", "digest_algorithms": sd["digest_algorithms"],
        "encap_content_info": sd["encap_content_info"], "certificates": sd["certificates"],
        "signer_infos": [new_si]})}).dump()
    with pytest.raises(MalformedCmsError):
        SignedData.parse(der).verify(detached_content=CONTENT)
