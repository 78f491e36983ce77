"""Strict CMS verification (issue 13): the ESS signing-certificate attributes, a signer
certificate swapped in the bag, two SignerInfos one of them bad, attributes repeated or not
DER, SignerInfo versions, unsigned attributes.  Vectors are forged by ``cms_forge`` from what
jukicard builds with a SOFTWARE signer standing in for the card."""

from __future__ import annotations

import datetime as dt

import cms_forge as f
import pytest
from asn1crypto import cms as acms
from asn1crypto import core as acore
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from jukicard.pki.cms import (
    MalformedCmsError,
    SignedData,
    SignerCertificateMismatchError,
    verify_cms,
)
from jukicard.pki.signatures import SignatureInvalidError

CONTENT, CERT, ROOT, KEY = f.CONTENT, f.CERT, f.ROOT, f.KEY


def _verify(der: bytes):
    return verify_cms(der, detached_content=CONTENT)


def _cert(public_key, *, issuer: x509.Name, serial: int, subject: x509.Name | None = None
          ) -> x509.Certificate:
    signing_key = rsa.generate_private_key(65537, 2048)
    return (x509.CertificateBuilder().subject_name(subject or CERT.subject)
            .issuer_name(issuer).public_key(public_key).serial_number(serial)
            .not_valid_before(CERT.not_valid_before_utc)
            .not_valid_after(CERT.not_valid_after_utc)
            .sign(signing_key, hashes.SHA256()))


IMPOSTOR_KEY = rsa.generate_private_key(65537, 2048)
#: same issuer and serial as the signer certificate, another key
IMPOSTOR = _cert(IMPOSTOR_KEY.public_key(), issuer=CERT.issuer, serial=CERT.serial_number)
#: another certificate for the signer's own key (another issuer and serial)
SAME_KEY = _cert(KEY.public_key(), serial=4242, issuer=x509.Name(
    [x509.NameAttribute(NameOID.COMMON_NAME, "someone else's CA")]))


def test_cades_bes_reported_per_signer():
    assert _verify(f.good()).signers[0].cades_bes is True
    no_ess = f.raw_set(f.without(f.default_attrs(), "signing_certificate_v2"))
    (s,) = _verify(f.signed_data([f.signer_info(no_ess)])).signers
    assert s.cades_bes is False


def test_signer_certificate_swapped_same_issuer_serial_is_mismatch():
    """The bag's signer certificate replaced by another with the same issuer and serial.
    Fails on the old code with ``bad-signature`` (no reason naming the swap)."""
    der = f.signed_data([f.signer_info(f.raw_set(f.default_attrs()))], certs=[IMPOSTOR, ROOT])
    with pytest.raises(SignerCertificateMismatchError) as ei:
        _verify(der)
    assert ei.value.reason == "signer-certificate-mismatch"


def test_other_certificate_for_the_same_key_is_mismatch():
    """Another certificate for the signer's own key, and the (unsigned) SignerIdentifier
    pointed at it: the signature verifies with its key, only signingCertificateV2 tells.
    Fails on the old code, which accepted the CMS as signed by that other certificate."""
    attrs = f.raw_set(f.default_attrs())
    der = f.signed_data([f.signer_info(attrs, cert=SAME_KEY)], certs=[SAME_KEY, ROOT])
    with pytest.raises(SignerCertificateMismatchError):
        _verify(der)
    # the same without the ESS attribute: nothing binds the certificate, not CAdES-BES
    bare = f.raw_set(f.without(f.default_attrs(), "signing_certificate_v2"))
    (s,) = _verify(f.signed_data([f.signer_info(bare, cert=SAME_KEY)],
                                 certs=[SAME_KEY, ROOT])).signers
    assert s.certificate == SAME_KEY and s.cades_bes is False


def test_two_candidates_for_the_identifier():
    """The real certificate and an impostor with the same issuer and serial both in the bag:
    signingCertificateV2 picks the real one (in either order); without it the signer is
    ambiguous.  Fails on the old code, which took the first and reported bad-signature."""
    attrs = f.raw_set(f.default_attrs())
    for bag in ([IMPOSTOR, CERT, ROOT], [CERT, IMPOSTOR, ROOT]):
        (s,) = _verify(f.signed_data([f.signer_info(attrs)], certs=bag)).signers
        assert s.certificate == CERT and s.cades_bes
    bare = f.raw_set(f.without(f.default_attrs(), "signing_certificate_v2"))
    with pytest.raises(SignerCertificateMismatchError, match="no signing-certificate"):
        _verify(f.signed_data([f.signer_info(bare)], certs=[IMPOSTOR, CERT, ROOT]))


@pytest.mark.parametrize(("value", "ok"), [
    (f.signing_certificate_v1(CERT), True),
    (f.signing_certificate_v1(ROOT), False),
    (f.signing_certificate_v1(CERT, serial=CERT.serial_number + 1), False),
    (f.signing_certificate_v2(CERT, hash_name="sha512"), True),
    (f.signing_certificate_v2(CERT, serial=1), False),
    (f.signing_certificate_v2(ROOT), False),
])
def test_ess_signing_certificate_v1_and_v2_must_name_the_signer(value, ok):
    name = "signing_certificate" if "V2" not in type(value).__name__ else \
        "signing_certificate_v2"
    attrs = f.without(f.default_attrs(), "signing_certificate_v2") + [f.attribute(name, value)]
    der = f.signed_data([f.signer_info(f.raw_set(attrs))])
    if ok:
        assert _verify(der).signers[0].cades_bes
    else:
        with pytest.raises(SignerCertificateMismatchError):
            _verify(der)


def test_both_ess_attributes_must_match():
    attrs = f.default_attrs() + [f.attribute("signing_certificate",
                                             f.signing_certificate_v1(ROOT))]
    with pytest.raises(SignerCertificateMismatchError):
        _verify(f.signed_data([f.signer_info(f.raw_set(attrs))]))


@pytest.mark.parametrize("bad_first", [False, True])
def test_two_signer_infos_one_bad_whole_cms_invalid_and_which_one_said(bad_first):
    good = f.signer_info(f.raw_set(f.default_attrs()))
    bad = f.signer_info(f.raw_set(f.default_attrs()), corrupt=True)
    der = f.signed_data([bad, good] if bad_first else [good, bad])
    with pytest.raises(SignatureInvalidError):
        _verify(der)
    outcomes = SignedData.parse(der).verify_signers(detached_content=CONTENT)
    assert [o.valid for o in outcomes] == ([False, True] if bad_first else [True, False])
    failed = outcomes[0] if bad_first else outcomes[1]
    assert failed.index == (1 if bad_first else 2)
    assert failed.error is not None and failed.error.reason == "bad-signature"
    assert failed.certificate == CERT  # the certificate was found: the signature is bad


@pytest.mark.parametrize("name", ["signing_time", "signing_certificate_v2"])
def test_repeated_attribute_is_malformed(name):
    attrs = f.default_attrs()
    again = next(a for a in attrs if acms.CMSAttribute.load(a)["type"].native == name)
    variant = (f.attribute("signing_time", acms.Time({"utc_time": dt.datetime(
        2020, 1, 1, tzinfo=dt.UTC)})) if name == "signing_time" else again)
    with pytest.raises(MalformedCmsError, match="more than once"):
        _verify(f.signed_data([f.signer_info(f.raw_set(attrs + [variant]))]))


def test_unknown_attribute_repeated_is_malformed_once_is_ignored():
    unknown = acms.CMSAttribute({"type": "1.2.3.4.5", "values": [acore.Integer(7)]}).dump()
    assert _verify(f.signed_data([f.signer_info(f.raw_set(f.default_attrs() + [unknown]))]))
    with pytest.raises(MalformedCmsError):
        _verify(f.signed_data([f.signer_info(
            f.raw_set(f.default_attrs() + [unknown, unknown]))]))


def test_two_signing_time_values_is_malformed():
    t = acms.Time({"utc_time": WHEN_UTC})
    attrs = f.without(f.default_attrs(), "signing_time") + [f.attribute("signing_time", t, t)]
    with pytest.raises(MalformedCmsError, match="exactly one value"):
        _verify(f.signed_data([f.signer_info(f.raw_set(attrs))]))


WHEN_UTC = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_signed_attributes_not_der_sorted_are_malformed():
    """Attributes in an order that is not DER's, signed as they stand.  Fails on the old
    code, which hashed them as received and accepted (as OpenSSL 3.0 does); a verifier that
    re-encodes them as DER first (RFC 5652 §5.4) rejects the signature: the two readings
    disagree, so jukicard refuses the SignerInfo."""
    attrs = f.default_attrs()
    unsorted = f.raw_set(list(reversed(attrs)), sort=False)
    assert unsorted != f.raw_set(attrs)
    der = f.signed_data([f.signer_info(unsorted)])
    with pytest.raises(MalformedCmsError, match="not DER"):
        _verify(der)
    # signed over their DER form but sent unsorted: refused as well
    resorted = bytearray(f.signer_info(f.raw_set(attrs)))
    i = resorted.index(b"\xa0" + f.raw_set(attrs)[1:])
    resorted[i + 1:i + len(unsorted)] = unsorted[1:]
    with pytest.raises(MalformedCmsError, match="not DER"):
        _verify(f.signed_data([bytes(resorted)]))


def test_signed_attributes_with_long_form_length_are_malformed():
    attrs = f.raw_set(f.default_attrs())
    # the SET's length re-written in a longer form than DER allows (0x82 → 0x83 00 ..)
    assert attrs[1] == 0x82
    long_form = b"\x31\x83\x00" + attrs[2:]
    with pytest.raises(MalformedCmsError, match="not DER"):
        _verify(f.signed_data([f.signer_info(long_form)]))


def test_empty_signed_attributes_are_malformed():
    with pytest.raises(MalformedCmsError):
        _verify(f.signed_data([f.signer_info(b"\x31\x00")]))


def test_signer_info_version_must_match_identifier():
    si = bytearray(f.signer_info(f.raw_set(f.default_attrs())))
    i = si.index(b"\x02\x01\x01")  # version 1 → 3 while the identifier is issuerAndSerial
    si[i + 2] = 3
    with pytest.raises(MalformedCmsError, match="version"):
        _verify(f.signed_data([bytes(si)]))


def test_unsigned_attributes_ignored_timestamp_token_handed_out():
    """A counter-signature that is garbage, an unknown attribute, and a signature
    time-stamp token (checked by the PDF verifier, not here): the signature verifies."""
    token = acms.ContentInfo({"content_type": "data", "content": b"not a real token"}).dump()
    unsigned = [
        acore.Sequence(contents=acore.ObjectIdentifier("1.2.840.113549.1.9.6").dump()
                       + acore.SetOf(contents=acore.Integer(1).dump()).dump()).dump(),
        acore.Sequence(contents=acore.ObjectIdentifier("1.2.840.113549.1.9.16.2.14").dump()
                       + acore.SetOf(contents=token).dump()).dump(),
        acms.CMSAttribute({"type": "1.2.3.4", "values": [acore.Null()]}).dump(),
    ]
    der = f.signed_data([f.signer_info(f.raw_set(f.default_attrs()), unsigned=unsigned)])
    (s,) = _verify(der).signers
    assert s.timestamp_tokens == (token,)
    # values are opaque, but the frame must be a well-formed SET OF Attribute
    broken = f.signed_data([f.signer_info(f.raw_set(f.default_attrs()),
                                          unsigned=[b"\x30\x03\x02\x01"])])
    with pytest.raises(MalformedCmsError):
        _verify(broken)
