"""CRL parsing and indexing (jukicard.pki.crl)."""

from __future__ import annotations

import datetime as _dt

import pytest
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from test_pki_factory import NB, Pki, dn, make_crl

from jukicard.errors import ValidationError
from jukicard.pki import Crl, CrlStore, MalformedCrlError, load_crls
from jukicard.pki.names import name_key

OID_PRIVATE = x509.ObjectIdentifier("1.3.6.1.4.1.99999.1")


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki("crl")


def test_entries_indexed_by_issuer_and_serial(pki: Pki) -> None:
    when = _dt.datetime(2023, 3, 1, tzinfo=_dt.UTC)
    crl = pki.ca_crl([(5, when, x509.ReasonFlags.key_compromise), (7, when, None),
                      (2**150, when, x509.ReasonFlags.certificate_hold)], number=42)
    assert len(crl) == 3 and crl.crl_number == 42
    e = crl.lookup(pki.ca.subject_key, 5)
    assert e is not None and e.revoked_at == when and e.reason == "keyCompromise"
    assert crl.lookup(pki.ca.subject_key, 7).reason is None          # no reasonCode
    # (negative serials: PKITS 4.4.14/4.4.15)
    assert crl.lookup(pki.ca.subject_key, 2**150).reason == "certificateHold"
    assert crl.lookup(pki.ca.subject_key, 6) is None
    assert crl.lookup(pki.root.subject_key, 5) is None              # other issuer
    assert crl.unusable_reason is None and not crl.is_delta and not crl.is_indirect


def test_many_entries_lookup(pki: Pki) -> None:
    revoked = [(s, NB, None) for s in range(1, 3001)]
    crl = pki.ca_crl(revoked)
    assert len(crl) == 3000
    assert all(crl.lookup(pki.ca.subject_key, s) is not None for s in (1, 1500, 3000))
    assert crl.lookup(pki.ca.subject_key, 3001) is None


def test_pem_and_store(pki: Pki) -> None:
    crl = pki.ca_crl()
    pem = crl.asn1.dump()
    from asn1crypto import pem as apem
    armored = apem.armor("X509 CRL", pem) + apem.armor("X509 CRL", pki.root_crl().der)
    crls = load_crls(armored)
    assert [c.der for c in crls] == [crl.der, pki.root_crl().der]
    store = CrlStore(crls)
    assert store.for_issuer(pki.ca.subject_key) == [crl]
    assert not store.add(crl)  # duplicate ignored
    assert len(store) == 2


def test_unknown_critical_crl_extension_makes_crl_unusable(pki: Pki) -> None:
    crl = pki.ca_crl(extra_extensions=[(x509.UnrecognizedExtension(OID_PRIVATE, b"\x05\x00"),
                                        True)])
    assert crl.unusable_reason == "unknown-critical-crl-or-entry-extension"
    ok = pki.ca_crl(extra_extensions=[(x509.UnrecognizedExtension(OID_PRIVATE, b"\x05\x00"),
                                       False)])
    assert ok.unusable_reason is None


def test_unknown_critical_entry_extension_makes_crl_unusable(pki: Pki) -> None:
    crl = pki.ca_crl([(5, NB, None)], entry_extensions=[
        (x509.UnrecognizedExtension(OID_PRIVATE, b"\x05\x00"), True)])
    assert crl.unusable_reason == "unknown-critical-crl-or-entry-extension"


def test_indirect_crl_certificate_issuer_entries(pki: Pki) -> None:
    other = dn("Other CA")
    b = (x509.CertificateRevocationListBuilder().issuer_name(pki.ca.to_cryptography().subject)
         .last_update(NB).next_update(_dt.datetime(2031, 1, 1))
         .add_extension(x509.IssuingDistributionPoint(None, None, False, False, None, True,
                                                      False), critical=True))
    b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(1)
                                  .revocation_date(NB).build())
    b = b.add_revoked_certificate(
        x509.RevokedCertificateBuilder().serial_number(2).revocation_date(NB)
        .add_extension(x509.CertificateIssuer([x509.DirectoryName(other)]), critical=True)
        .build())
    b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(3)
                                  .revocation_date(NB).build())  # inherits "Other CA"
    crl = Crl.parse(b.sign(pki.ca_key, hashes.SHA256()).public_bytes(Encoding.DER))
    other_key = name_key(ax509.Name.load(other.public_bytes()))
    assert crl.is_indirect
    assert crl.lookup(pki.ca.subject_key, 1) is not None
    assert crl.lookup(pki.ca.subject_key, 2) is None
    assert crl.lookup(other_key, 2) is not None
    assert crl.lookup(other_key, 3) is not None


def test_idp_and_delta_decoded(pki: Pki) -> None:
    idp = x509.IssuingDistributionPoint(
        None, x509.RelativeDistinguishedName([x509.NameAttribute(
            x509.NameOID.COMMON_NAME, "part 1")]),
        True, False, frozenset({x509.ReasonFlags.key_compromise}), False, False)
    crl = pki.ca_crl(idp=idp, number=9, delta_base=7)
    assert crl.is_delta and crl.base_crl_number == 7 and crl.crl_number == 9
    assert crl.idp is not None and crl.idp.only_user_certs and not crl.idp.only_ca_certs
    assert crl.idp.only_some_reasons == frozenset({"keyCompromise"})
    (name,) = crl.idp.names(pki.ca.subject_key)
    assert name[0] == "dn" and name[1][:-1] == pki.ca.subject_key


@pytest.mark.parametrize("data", [
    b"", b"\x30", b"\x30\x03\x02\x01\x01",
    b"-----BEGIN X509 CRL-----\n!!\n-----END X509 CRL-----\n",
    b"\x04\x02hi",
])
def test_malformed_crl_raises_typed_error(data: bytes) -> None:
    with pytest.raises(MalformedCrlError) as ei:
        Crl.parse(data)
    assert isinstance(ei.value, ValidationError)
    assert ei.value.reason == "malformed-crl"


def test_truncated_crl_raises_typed_error(pki: Pki) -> None:
    der = pki.ca_crl([(5, NB, None)]).der
    for cut in (1, 10, len(der) // 2, len(der) - 1):
        with pytest.raises(MalformedCrlError):
            Crl.parse(der[:cut])


def test_crl_signer_name_mismatch_is_visible(pki: Pki) -> None:
    crl = make_crl(pki.ca, pki.ca_key, issuer_name=dn("Somebody Else"))
    assert crl.issuer_key != pki.ca.subject_key


def test_index_and_reference_entries_agree_on_pkits() -> None:
    """The NumPy index (jukicard.pki.crlindex) gives every entry of every PKITS CRL exactly
    as the asn1crypto reference reading does, and nothing else."""
    from pathlib import Path

    from asn1crypto import crl as acrl

    from jukicard.pki.crl import _index_entries_asn1

    pkits = Path(__file__).resolve().parents[2] / "vectors" / "pkits" / "crls"
    checked = 0
    for f in sorted(pkits.glob("*.crl")):
        der = f.read_bytes()
        parsed = Crl.parse(der)
        ref, unusable = _index_entries_asn1(acrl.CertificateList.load(der)["tbs_cert_list"],
                                            parsed.issuer_key)
        assert len(parsed) == len(list(acrl.CertificateList.load(der)["tbs_cert_list"]
                                       ["revoked_certificates"])), f.name
        for (issuer_key, serial), entry in ref.items():
            assert parsed.lookup(issuer_key, serial) == entry, f.name
            assert parsed.lookup(issuer_key, serial + 1) == ref.get((issuer_key, serial + 1))
        if unusable is not None:
            assert parsed.unusable_reason == unusable, f.name
        checked += 1
    assert checked >= 150


def test_outer_signature_algorithm_must_repeat_the_signed_one(pki: Pki) -> None:
    # RFC 5280 §5.1.1.2: the unsigned outer signatureAlgorithm (parameters included) must
    # equal the signed one; a CRL whose outer parameters were altered is malformed
    der = bytearray(pki.ca_crl([]).der)
    outer = der.rfind(bytes.fromhex("2a864886f70d01010b0500"))  # sha256WithRSA, NULL
    assert der.find(bytes.fromhex("2a864886f70d01010b0500")) < outer  # inner one first
    Crl.parse(bytes(der))
    der[outer + 9] = 0x77  # NULL → [APPLICATION 23] {}
    with pytest.raises(MalformedCrlError):
        Crl.parse(bytes(der))
