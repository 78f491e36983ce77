"""CMS SignedData verification (jukicard.pki.cms).

Valid vectors come from ``cryptography``'s PKCS7SignatureBuilder; tampered ones are built
by hand with asn1crypto (and re-signed, so only the check under test can catch them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import pytest
from asn1crypto import cms
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from jukicard.errors import UsageError, ValidationError
from jukicard.pki.certs import Certificate
from jukicard.pki.cms import (
    MalformedCmsError,
    SignedData,
    SignerNotFoundError,
    UnsupportedCmsAlgorithmError,
    looks_like_cms,
    verify_cms,
)
from jukicard.pki.signatures import SignatureInvalidError, WeakHashError, WeakKeyError

CONTENT = b"jukicard CMS content\nline 2\n"
DER = serialization.Encoding.DER


@pytest.fixture(scope="module")
def signer() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "cms signer")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x1234)
        .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2034, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                       critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def builder_cms(signer, *options: pkcs7.PKCS7Options, encoding=DER, data=CONTENT) -> bytes:
    cert, key = signer
    opts = [pkcs7.PKCS7Options.Binary, *options]
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(data)
        .add_signer(cert, key, hashes.SHA256())
        .sign(encoding, opts)
    )


def attr(name: str, value) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": name, "values": [value]})


def hand_cms(
    signer,
    *,
    content: bytes = CONTENT,
    detached: bool = False,
    attrs: list | None | str = "default",
    digest: str = "sha256",
    sig_alg: str = "rsassa_pkcs1v15",
    sid: str = "issuer_serial",
    include_cert: bool = True,
    content_type: str = "data",
    corrupt_signature: bool = False,
) -> bytes:
    """Build a SignedData by hand; the signature is always computed over what is encoded."""
    cert, key = signer
    acert = ax509.Certificate.load(cert.public_bytes(DER))
    md = hashlib.new(digest, content).digest()
    if attrs == "default":
        attrs = [
            attr("content_type", content_type),
            attr("signing_time", cms.Time({"utc_time": dt.datetime(2025, 1, 2, 3, 4, 5,
                                                                   tzinfo=dt.UTC)})),
            attr("message_digest", md),
        ]
    hash_cls = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384}[digest]
    if attrs is not None:
        signed_attrs = cms.CMSAttributes(attrs)
        to_sign = signed_attrs.dump()
    else:
        signed_attrs = None
        to_sign = content
    signature = key.sign(to_sign, padding.PKCS1v15(), hash_cls())
    if corrupt_signature:
        signature = signature[:-1] + bytes([signature[-1] ^ 1])
    if sid == "issuer_serial":
        sid_value = cms.SignerIdentifier({"issuer_and_serial_number": {
            "issuer": acert.issuer, "serial_number": acert.serial_number}})
        version = "v1"
    else:
        sid_value = cms.SignerIdentifier({"subject_key_identifier": acert.key_identifier})
        version = "v3"
    si = {
        "version": version,
        "sid": sid_value,
        "digest_algorithm": {"algorithm": digest},
        "signature_algorithm": {"algorithm": sig_alg},
        "signature": signature,
    }
    if signed_attrs is not None:
        si["signed_attrs"] = signed_attrs
    sd = {
        "version": "v1",
        "digest_algorithms": [{"algorithm": digest}],
        "encap_content_info": {"content_type": content_type,
                               "content": None if detached else content},
        "signer_infos": [si],
    }
    if include_cert:
        sd["certificates"] = [acert]
    return cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump()


# --------------------------------------------------------------------------- builder vectors
def test_attached_with_signed_attributes(signer) -> None:
    res = verify_cms(builder_cms(signer))
    assert res.content == CONTENT
    assert res.content_type == "data"
    (s,) = res.signers
    assert s.certificate == signer[0]
    assert s.signed_attributes is True
    assert s.digest_algorithm == "sha256"
    assert s.signing_time is not None and s.signing_time.tzinfo is not None
    assert res.certificates == (signer[0],)


def test_attached_pem(signer) -> None:
    pem = builder_cms(signer, encoding=serialization.Encoding.PEM)
    assert pem.startswith(b"-----BEGIN")
    assert verify_cms(pem).content == CONTENT


def test_detached(signer) -> None:
    data = builder_cms(signer, pkcs7.PKCS7Options.DetachedSignature)
    assert SignedData.parse(data).detached
    assert verify_cms(data, detached_content=CONTENT).content == CONTENT
    with pytest.raises(SignatureInvalidError) as ei:
        verify_cms(data, detached_content=CONTENT + b"x")
    assert ei.value.reason == "bad-signature"
    with pytest.raises(UsageError):
        verify_cms(data)


def test_attached_content_given_twice_is_usage_error(signer) -> None:
    with pytest.raises(UsageError):
        verify_cms(builder_cms(signer), detached_content=CONTENT)


def test_no_attributes_signature_over_content(signer) -> None:
    data = builder_cms(signer, pkcs7.PKCS7Options.NoAttributes)
    (s,) = verify_cms(data).signers
    assert s.signed_attributes is False and s.signing_time is None


def test_no_attributes_detached_tampered_content(signer) -> None:
    data = builder_cms(signer, pkcs7.PKCS7Options.NoAttributes,
                       pkcs7.PKCS7Options.DetachedSignature)
    assert verify_cms(data, detached_content=CONTENT).signers
    with pytest.raises(SignatureInvalidError):
        verify_cms(data, detached_content=CONTENT.replace(b"2", b"3"))


def test_looks_like_cms(signer) -> None:
    assert looks_like_cms(builder_cms(signer))
    assert not looks_like_cms(b"\x00" * 256)
    assert not looks_like_cms(signer[0].public_bytes(DER))
    der = builder_cms(signer)
    assert looks_like_cms(der[:40])  # framed as SignedData: parse() reports the damage
    assert not looks_like_cms(b"\x30")
    # damaged armour with a CMS label is a CMS (parse() reports malformed-cms)
    assert looks_like_cms(b"-----BEGIN PKCS7-----\n!!!\n-----END PKCS7-----\n")
    assert looks_like_cms(b"  -----BEGIN CMS-----\nAAAA\n")
    with pytest.raises(MalformedCmsError):
        SignedData.parse(b"-----BEGIN PKCS7-----\n!!!\n-----END PKCS7-----\n")


def test_huge_sets_are_counted_before_they_are_built() -> None:
    """A SignedData whose certificate or SignerInfo set holds a million empty values is
    refused by counting value headers (at most the cap + 1 of them), not by building a
    million asn1crypto objects (issue 9 review)."""
    from jukicard.pki.der import count_values

    tiny = b"\x30\x00" * 1_000_000
    assert count_values(tiny, 256) == 257
    assert count_values(b"\x30\x00" * 3, 256) == 3
    with pytest.raises(ValueError):
        count_values(b"\x30\x05\x00", 10)

    def signed_data(certs: bytes, signers: bytes) -> bytes:
        def tlv(tag: int, body: bytes) -> bytes:
            n = len(body)
            size = n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")
            return bytes([tag]) + (bytes([0x80 | len(size)]) + size if n > 127
                                   else bytes([n])) + body
        sd = tlv(0x30, tlv(0x02, b"\x01") + tlv(0x31, b"") +
                 tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d010701"))) +
                 tlv(0xA0, certs) + tlv(0x31, signers))
        return tlv(0x30, tlv(0x06, bytes.fromhex("2a864886f70d010702")) + tlv(0xA0, sd))

    with pytest.raises(MalformedCmsError, match="certificates"):
        SignedData.parse(signed_data(tiny, b""))
    with pytest.raises(MalformedCmsError, match="SignerInfos"):
        SignedData.parse(signed_data(b"", tiny))


def test_bytes_round_trip(signer) -> None:
    data = builder_cms(signer)
    assert bytes(SignedData.parse(data)) == data


# --------------------------------------------------------------------------- hand-built vectors
def test_hand_built_baseline_verifies(signer) -> None:
    assert verify_cms(hand_cms(signer)).signers[0].signing_time == dt.datetime(
        2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert verify_cms(hand_cms(signer, attrs=None)).signers[0].signed_attributes is False
    assert verify_cms(hand_cms(signer, detached=True), detached_content=CONTENT)


def test_subject_key_identifier_sid(signer) -> None:
    assert verify_cms(hand_cms(signer, sid="ski")).signers[0].certificate == signer[0]


def test_signer_certificate_missing(signer) -> None:
    data = hand_cms(signer, include_cert=False)
    with pytest.raises(SignerNotFoundError) as ei:
        verify_cms(data)
    assert ei.value.reason == "signer-not-found"
    res = verify_cms(data, extra_certificates=[signer[0].public_bytes(DER)])
    assert res.signers[0].certificate == signer[0]


def test_wrong_certificate_does_not_match(signer) -> None:
    other_key = rsa.generate_private_key(65537, 2048)
    cert, _ = signer
    # same issuer and serial, other key: found by sid, but the signature fails
    impostor = (
        x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer)
        .public_key(other_key.public_key()).serial_number(cert.serial_number)
        .not_valid_before(cert.not_valid_before_utc).not_valid_after(cert.not_valid_after_utc)
        .sign(other_key, hashes.SHA256())
    )
    data = hand_cms(signer, include_cert=False)
    with pytest.raises(SignatureInvalidError):
        verify_cms(data, extra_certificates=[impostor])


def test_message_digest_mismatch(signer) -> None:
    bad = [attr("content_type", "data"), attr("message_digest", b"\x00" * 32)]
    with pytest.raises(SignatureInvalidError):
        verify_cms(hand_cms(signer, attrs=bad))


def test_content_type_attribute_mismatch(signer) -> None:
    md = hashlib.sha256(CONTENT).digest()
    bad = [attr("content_type", "signed_data"), attr("message_digest", md)]
    with pytest.raises(SignatureInvalidError):
        verify_cms(hand_cms(signer, attrs=bad))


@pytest.mark.parametrize("missing", ["content_type", "message_digest"])
def test_required_attribute_missing(signer, missing: str) -> None:
    md = hashlib.sha256(CONTENT).digest()
    attrs = [a for a in (attr("content_type", "data"), attr("message_digest", md))
             if a["type"].native != missing]
    with pytest.raises(MalformedCmsError) as ei:
        verify_cms(hand_cms(signer, attrs=attrs))
    assert ei.value.reason == "malformed-cms"


def test_duplicate_message_digest_attribute(signer) -> None:
    md = hashlib.sha256(CONTENT).digest()
    attrs = [attr("content_type", "data"), attr("message_digest", md),
             attr("message_digest", md)]
    with pytest.raises(MalformedCmsError):
        verify_cms(hand_cms(signer, attrs=attrs))


def test_corrupted_signature(signer) -> None:
    with pytest.raises(SignatureInvalidError):
        verify_cms(hand_cms(signer, corrupt_signature=True))
    with pytest.raises(SignatureInvalidError):
        verify_cms(hand_cms(signer, attrs=None, corrupt_signature=True))


def test_tampered_attached_content(signer) -> None:
    data = hand_cms(signer)
    tampered = data.replace(b"line 2", b"line 3")
    assert tampered != data
    with pytest.raises(SignatureInvalidError):
        verify_cms(tampered)


def test_signing_time_changed_after_signing(signer) -> None:
    # a signed attribute other than the digest altered: only the signature can catch it
    data = hand_cms(signer)
    ci = cms.ContentInfo.load(data)
    si = ci["content"]["signer_infos"][0]
    attrs = [a for a in si["signed_attrs"] if a["type"].native != "signing_time"]
    attrs.append(attr("signing_time", cms.Time({"utc_time": dt.datetime(
        2020, 1, 1, tzinfo=dt.UTC)})))
    si["signed_attrs"] = cms.CMSAttributes(attrs)
    tampered = ci.dump(force=True)
    assert tampered != data
    with pytest.raises(SignatureInvalidError):
        verify_cms(tampered)


def test_unsupported_signature_algorithm(signer) -> None:
    with pytest.raises(UnsupportedCmsAlgorithmError) as ei:
        verify_cms(hand_cms(signer, sig_alg="sha256_ecdsa"))
    assert ei.value.reason == "unsupported-algorithm"


def test_signature_algorithm_hash_mismatch(signer) -> None:
    with pytest.raises(MalformedCmsError):
        verify_cms(hand_cms(signer, sig_alg="sha384_rsa"))


def test_sha1_needs_allow_sha1(signer) -> None:
    data = hand_cms(signer, digest="sha1")
    with pytest.raises(WeakHashError):
        verify_cms(data)
    assert verify_cms(data, allow_sha1=True).signers[0].weak_hash is True


def test_min_key_size(signer) -> None:
    with pytest.raises(WeakKeyError):
        verify_cms(hand_cms(signer), min_key_size=3072)
    assert verify_cms(hand_cms(signer), min_key_size=2048)


def test_no_signer_infos(signer) -> None:
    ci = cms.ContentInfo.load(hand_cms(signer))
    ci["content"]["signer_infos"] = cms.SignerInfos([])
    with pytest.raises(MalformedCmsError):
        verify_cms(ci.dump(force=True))


@pytest.mark.parametrize("cut", [1, 10, 100, 500])
def test_truncated(signer, cut: int) -> None:
    with pytest.raises(MalformedCmsError):
        verify_cms(hand_cms(signer)[:-cut])


def test_trailing_garbage(signer) -> None:
    with pytest.raises(MalformedCmsError):
        verify_cms(hand_cms(signer) + b"\x00\x00")


@pytest.mark.parametrize("blob", [b"", b"\x30\x00", b"\x04\x03abc", b"-----BEGIN PKCS7-----\n!!\n"])
def test_garbage(blob: bytes) -> None:
    with pytest.raises(MalformedCmsError):
        verify_cms(blob)


def test_not_signed_data() -> None:
    data = cms.ContentInfo({"content_type": "data", "content": b"x"}).dump()
    with pytest.raises(MalformedCmsError):
        verify_cms(data)


# --------------------------------------------------------------------------- with a validator
@dataclass
class FakeResult:
    valid: bool
    reason: str | None = None

    def raise_for_status(self) -> None:
        if not self.valid:
            raise ValidationError("path invalid", reason=self.reason)


class FakeValidator:
    def __init__(self, valid: bool) -> None:
        self.valid = valid
        self.calls: list[tuple[x509.Certificate, dt.datetime, object]] = []

    def validate(self, cert, at):
        self.calls.append((cert, at))
        return FakeResult(self.valid, None if self.valid else "revoked")


def test_validator_is_called_with_signer_cert_and_time(signer) -> None:
    v = FakeValidator(True)
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    res = verify_cms(builder_cms(signer), validator=v, at=at)
    assert [r.valid for r in res.validations] == [True]
    assert v.calls == [(Certificate.from_cryptography(signer[0]), at)]


def test_cms_certificates_become_intermediates(signer) -> None:
    # a real Validator whose anchor issued an intermediate carried only in the CMS
    from jukicard.pki.policy import RevocationRule, ValidationPolicy
    from jukicard.pki.validate import Validator

    root_key = rsa.generate_private_key(65537, 2048)
    mid_key = rsa.generate_private_key(65537, 2048)
    ee_key = rsa.generate_private_key(65537, 2048)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def issue(subject, issuer, key, signing_key, ca: bool) -> x509.Certificate:
        b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
             .not_valid_after(dt.datetime(2034, 1, 1, tzinfo=dt.UTC)))
        if ca:
            b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                              False, False), critical=True)
        # the key identifiers of the RFC 5280 profile (checked by the strict default policy)
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        if subject != issuer:
            b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                signing_key.public_key()), False)
        return b.sign(signing_key, hashes.SHA256())

    root = issue("root", "root", root_key, root_key, True)
    mid = issue("mid", "root", mid_key, root_key, True)
    ee = issue("ee", "mid", ee_key, mid_key, False)
    data = (pkcs7.PKCS7SignatureBuilder().set_data(CONTENT)
            .add_signer(ee, ee_key, hashes.SHA256()).add_certificate(mid)
            .sign(DER, [pkcs7.PKCS7Options.Binary]))
    v = Validator(ValidationPolicy.permissive([Certificate.from_cryptography(root)],
                                              revocation=RevocationRule.NONE))
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    res = verify_cms(data, validator=v, at=at)
    assert res.validations[0].valid and len(res.validations[0].path) == 3
    assert len(list(v.pool)) == 0  # the caller's validator is not modified
    nocerts = (pkcs7.PKCS7SignatureBuilder().set_data(CONTENT)
               .add_signer(ee, ee_key, hashes.SHA256())
               .sign(DER, [pkcs7.PKCS7Options.Binary]))
    with pytest.raises(ValidationError):
        verify_cms(nocerts, validator=v, at=at)


def test_validator_failure_raises_or_is_returned(signer) -> None:
    with pytest.raises(ValidationError) as ei:
        verify_cms(builder_cms(signer), validator=FakeValidator(False))
    assert ei.value.reason == "revoked"
    res = verify_cms(builder_cms(signer), validator=FakeValidator(False), raise_on_invalid=False)
    assert res.validations[0].valid is False


def test_signature_checked_before_validator(signer) -> None:
    v = FakeValidator(True)
    with pytest.raises(SignatureInvalidError):
        verify_cms(hand_cms(signer, corrupt_signature=True), validator=v)
    assert v.calls == []


# --------------------------------------------------------------------------- bounded work
def _with(der: bytes, *, signer_copies: int = 1, cert_copies: int = 1) -> bytes:
    """``der`` (a one-signer SignedData) with its SignerInfo and certificate repeated."""
    info = cms.ContentInfo.load(der)
    sd = info["content"]
    si = sd["signer_infos"][0]
    cert = sd["certificates"][0]
    sd_new = cms.SignedData({
        "version": sd["version"].native,
        "digest_algorithms": sd["digest_algorithms"],
        "encap_content_info": sd["encap_content_info"],
        "certificates": [cert] * cert_copies,
        "signer_infos": [si] * signer_copies,
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": sd_new}).dump()


def test_too_many_signer_infos_is_malformed(signer) -> None:
    """Each SignerInfo costs a signature check and a path validation: a CMS with more than
    MAX_SIGNER_INFOS is refused at parse time (issue 9 review)."""
    from jukicard.pki.cms import MAX_SIGNER_INFOS

    SignedData.parse(_with(hand_cms(signer), signer_copies=MAX_SIGNER_INFOS))
    with pytest.raises(MalformedCmsError, match="SignerInfos"):
        SignedData.parse(_with(hand_cms(signer), signer_copies=MAX_SIGNER_INFOS + 1))


def test_too_many_certificates_is_malformed(signer) -> None:
    from jukicard.pki.cms import MAX_CMS_CERTIFICATES

    SignedData.parse(_with(hand_cms(signer), cert_copies=MAX_CMS_CERTIFICATES))
    with pytest.raises(MalformedCmsError, match="certificates"):
        SignedData.parse(_with(hand_cms(signer), cert_copies=MAX_CMS_CERTIFICATES + 1))


def test_repeated_signer_infos_hash_the_content_once(signer, monkeypatch) -> None:
    import jukicard.pki.cmssigner as cms_module  # the SignerInfo checks hash the content

    calls: list[str] = []
    real = hashlib.new

    def counting(name: str, data: bytes = b"", **kw):  # type: ignore[no-untyped-def]
        if data is CONTENT or data == CONTENT:
            calls.append(name)
        return real(name, data, **kw)

    parsed = SignedData.parse(_with(hand_cms(signer), signer_copies=5))
    monkeypatch.setattr(cms_module.hashlib, "new", counting)
    result = parsed.verify()
    assert len(result.signers) == 5
    assert calls == ["sha256"]
