"""Synthetic certificates and CRLs for the jukicard.pki unit tests (built with
``cryptography``'s builders; all keys are generated at test time, nothing is real).

Other ``test_pki_*`` modules import the helpers from here; the tests at the bottom check
that the factory output parses as intended.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from jukicard.pki import Certificate, Crl

UTC = _dt.UTC
AT = _dt.datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
NB = _dt.datetime(2020, 1, 1, tzinfo=UTC)
NA = _dt.datetime(2030, 1, 1, tzinfo=UTC)


@cache
def rsa_key(name: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    """A cached RSA key per name (test material only)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@cache
def ec_key(name: str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def dn(cn: str, o: str = "jukicard test", c: str = "JP") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, c),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, o),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def make_cert(
    subject: x509.Name,
    key: Any,
    issuer: Certificate | None = None,
    issuer_key: Any = None,
    *,
    ca: bool = False,
    path_len: int | None = None,
    key_usage: dict[str, bool] | None = None,
    not_before: _dt.datetime = NB,
    not_after: _dt.datetime = NA,
    serial: int = 1000,
    crl_dp_urls: Sequence[str] = (),
    crl_dp_dirnames: Sequence[x509.Name] = (),
    crl_dp_crl_issuer: x509.Name | None = None,
    policies: Sequence[str] | None = None,
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    hash_alg: hashes.HashAlgorithm | None = None,
    basic_constraints: bool = True,
    authority_key_id: bool = True,
    subject_key_id: bool = True,
    key_usage_ext: bool = True,
) -> Certificate:
    """Build a certificate; self-signed when ``issuer`` is None.

    Conformant to the RFC 5280 profile the strict validator checks: a certificate signed by
    another certificate or key carries an authorityKeyIdentifier (the issuer's SKI) unless
    ``authority_key_id`` is False; every certificate carries an SKI (unless
    ``subject_key_id`` is False) and a critical keyUsage (unless ``key_usage_ext`` is
    False).
    """
    issuer_name = subject if issuer is None else issuer.to_cryptography().subject
    signer = key if issuer_key is None else issuer_key
    b = (x509.CertificateBuilder()
         .subject_name(subject).issuer_name(issuer_name)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(not_before).not_valid_after(not_after))
    if basic_constraints:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_len if ca else None),
                            critical=True)
    ku = dict(digital_signature=not ca, content_commitment=False, key_encipherment=False,
              data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
              encipher_only=False, decipher_only=False)
    if key_usage:
        ku.update(key_usage)
    if key_usage_ext:
        b = b.add_extension(x509.KeyUsage(**ku), critical=True)
    if subject_key_id:
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                            critical=False)
    if authority_key_id and (issuer is not None or issuer_key is not None):
        b = b.add_extension(_aki(issuer, signer), critical=False)
    if crl_dp_urls or crl_dp_dirnames or crl_dp_crl_issuer is not None:
        names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in crl_dp_urls]
        names += [x509.DirectoryName(n) for n in crl_dp_dirnames]
        crl_issuer = None if crl_dp_crl_issuer is None else [x509.DirectoryName(crl_dp_crl_issuer)]
        b = b.add_extension(x509.CRLDistributionPoints([
            x509.DistributionPoint(names or None, None, None, crl_issuer)]), critical=False)
    if policies is not None:
        b = b.add_extension(x509.CertificatePolicies(
            [x509.PolicyInformation(x509.ObjectIdentifier(p), None) for p in policies]),
            critical=False)
    for ext, critical in extra_extensions:
        b = b.add_extension(ext, critical=critical)
    if hash_alg is None:
        hash_alg = hashes.SHA256()
    cert = b.sign(signer, hash_alg)
    return Certificate.from_cryptography(cert)


def _aki(issuer: Certificate | None, signer_key: Any) -> x509.AuthorityKeyIdentifier:
    """The AKI naming ``issuer`` (its SKI), or the signing key when there is no issuer."""
    if issuer is not None and issuer.subject_key_identifier is not None:
        return x509.AuthorityKeyIdentifier(issuer.subject_key_identifier, None, None)
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key())


def make_crl(
    issuer: Certificate,
    issuer_key: Any,
    revoked: Sequence[tuple[int, _dt.datetime, x509.ReasonFlags | None]] = (),
    *,
    this_update: _dt.datetime = _dt.datetime(2024, 5, 1, tzinfo=UTC),
    next_update: _dt.datetime = _dt.datetime(2024, 7, 1, tzinfo=UTC),
    number: int | None = 1,
    delta_base: int | None = None,
    idp: x509.IssuingDistributionPoint | None = None,
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    entry_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    issuer_name: x509.Name | None = None,
    authority_key_id: bool = True,
) -> Crl:
    """Build and parse a CRL signed by ``issuer_key``, with the RFC 5280 §5.2 profile: a
    cRLNumber (unless ``number`` is None) and an authorityKeyIdentifier of the signing key
    (unless ``authority_key_id`` is False)."""
    b = (x509.CertificateRevocationListBuilder()
         .issuer_name(issuer.to_cryptography().subject if issuer_name is None else issuer_name)
         .last_update(this_update).next_update(next_update))
    if number is not None:
        b = b.add_extension(x509.CRLNumber(number), critical=False)
    if authority_key_id:
        b = b.add_extension(_aki(None, issuer_key), critical=False)
    if delta_base is not None:
        b = b.add_extension(x509.DeltaCRLIndicator(delta_base), critical=True)
    if idp is not None:
        b = b.add_extension(idp, critical=True)
    for ext, critical in extra_extensions:
        b = b.add_extension(ext, critical=critical)
    for serial, when, reason in revoked:
        rb = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        if reason is not None:
            rb = rb.add_extension(x509.CRLReason(reason), critical=False)
        for ext, critical in entry_extensions:
            rb = rb.add_extension(ext, critical=critical)
        b = b.add_revoked_certificate(rb.build())
    return Crl.parse(b.sign(issuer_key, hashes.SHA256()).public_bytes(Encoding.DER))


class Pki:
    """A small hierarchy: root → intermediate CA → end entities, plus their CRLs."""

    def __init__(self, prefix: str = "t") -> None:
        self.root_key = rsa_key(prefix + "root")
        self.root = make_cert(dn(f"{prefix} Root CA"), self.root_key, ca=True, serial=1)
        self.ca_key = rsa_key(prefix + "ca")
        self.ca = make_cert(dn(f"{prefix} Sub CA"), self.ca_key, self.root, self.root_key,
                            ca=True, serial=2)
        self.ee_key = rsa_key(prefix + "ee")

    def ee(self, serial: int = 100, **kw: Any) -> Certificate:
        return make_cert(dn(f"{prefix_safe(serial)}"), self.ee_key, self.ca, self.ca_key,
                         serial=serial, **kw)

    def root_crl(self, revoked: Sequence[tuple[int, _dt.datetime, Any]] = (), **kw: Any) -> Crl:
        return make_crl(self.root, self.root_key, revoked, **kw)

    def ca_crl(self, revoked: Sequence[tuple[int, _dt.datetime, Any]] = (), **kw: Any) -> Crl:
        return make_crl(self.ca, self.ca_key, revoked, **kw)


def prefix_safe(serial: int) -> str:
    return f"EE {serial}"


# ---------------------------------------------------------------------- factory self-tests
def test_factory_cert_parses_as_intended() -> None:
    pki = Pki()
    assert pki.root.self_issued and pki.root.is_ca
    assert pki.ca.issuer_key == pki.root.subject_key
    ee = pki.ee(7)
    assert ee.serial == 7 and not ee.is_ca
    assert ee.key_usage == frozenset({"digital_signature"})
    assert ee.key_bits == 2048 and ee.key_algorithm == "rsa"


def test_factory_crl_parses_as_intended() -> None:
    pki = Pki()
    crl = pki.ca_crl([(5, NB, x509.ReasonFlags.key_compromise)])
    assert crl.issuer_key == pki.ca.subject_key
    assert crl.crl_number == 1 and not crl.is_delta
    entry = crl.lookup(pki.ca.subject_key, 5)
    assert entry is not None and entry.reason == "keyCompromise"
