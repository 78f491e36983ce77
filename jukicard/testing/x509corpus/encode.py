"""Certificates and CRLs described field by field, then encoded with asn1crypto and signed
with ``cryptography`` (RSA PKCS#1 v1.5: deterministic, so one key set gives the same bytes).

``cryptography``'s builders refuse most of the defects the corpus needs (negative serials,
duplicate extensions, a v1 certificate with extensions, an inner signature algorithm that
differs from the outer one), so :class:`CertSpec` and :class:`CrlSpec` keep every field
explicit and :func:`encode_cert` / :func:`encode_crl` write exactly what they say.
Extension values are DER given as bytes, so a malformed value is just other bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from asn1crypto import algos, core, keys, x509
from asn1crypto import crl as asn1_crl
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "OID",
    "Ext",
    "AlgId",
    "SHA256_RSA",
    "SHA384_RSA",
    "SHA256_RSA_NO_PARAMS",
    "NameAttrs",
    "CertSpec",
    "RevokedSpec",
    "CrlSpec",
    "encode_cert",
    "encode_crl",
    "spki_der",
]


class OID:
    """Dotted OIDs of the extensions the corpus writes."""

    SKI = "2.5.29.14"
    KU = "2.5.29.15"
    SAN = "2.5.29.17"
    BC = "2.5.29.19"
    CRL_NUMBER = "2.5.29.20"
    REASON_CODE = "2.5.29.21"
    NC = "2.5.29.30"
    CRL_DP = "2.5.29.31"
    CERT_POLICIES = "2.5.29.32"
    POLICY_CONSTRAINTS = "2.5.29.36"
    AKI = "2.5.29.35"
    INHIBIT_ANY_POLICY = "2.5.29.54"
    EKU = "2.5.29.37"
    AIA = "1.3.6.1.5.5.7.1.1"
    #: An extension nobody knows (a private-enterprise arc reserved for examples).
    UNKNOWN = "1.3.6.1.4.1.32473.1.1"


@dataclass(frozen=True)
class Ext:
    """One extension: OID, critical flag and the DER of ``extnValue``'s contents."""

    oid: str
    critical: bool
    value: bytes


@dataclass(frozen=True)
class AlgId:
    """A signature AlgorithmIdentifier: dotted OID, with or without NULL parameters."""

    oid: str
    null_params: bool = True


SHA256_RSA = AlgId("1.2.840.113549.1.1.11")
SHA384_RSA = AlgId("1.2.840.113549.1.1.12")
#: sha256WithRSAEncryption with the parameters absent instead of NULL (RFC 4055 §5 wants
#: NULL): a different AlgorithmIdentifier *encoding* of the same algorithm.
SHA256_RSA_NO_PARAMS = AlgId("1.2.840.113549.1.1.11", null_params=False)

#: A distinguished name as ``(asn1crypto attribute name, value)`` pairs; ``()`` is empty.
NameAttrs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CertSpec:
    """Every field of one certificate.

    :ivar key: name of the certified key; :ivar signer: name of the signing key.
    :ivar version: the INTEGER of the version field (2 = v3); ``0`` omits the field (v1, as
        DER requires for the default).
    :ivar generalized_time: write both validity times as GeneralizedTime (else UTCTime).
    :ivar corrupt_signature: flip the last bit of the signature.
    """

    subject: NameAttrs
    issuer: NameAttrs
    key: str
    signer: str
    serial: int
    not_before: _dt.datetime
    not_after: _dt.datetime
    extensions: tuple[Ext, ...] = ()
    version: int = 2
    tbs_alg: AlgId = SHA256_RSA
    outer_alg: AlgId = SHA256_RSA
    generalized_time: bool = False
    corrupt_signature: bool = False

    def replace(self, **changes: Any) -> CertSpec:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def ext(self, oid: str) -> Ext | None:
        """The first extension with ``oid``."""
        return next((e for e in self.extensions if e.oid == oid), None)

    def with_ext(self, oid: str, critical: bool, value: bytes) -> CertSpec:
        """Set extension ``oid`` (in place if present, else appended)."""
        new = Ext(oid, critical, value)
        if self.ext(oid) is None:
            return self.replace(extensions=self.extensions + (new,))
        return self.replace(extensions=tuple(new if e.oid == oid else e
                                             for e in self.extensions))

    def without(self, oid: str) -> CertSpec:
        """Drop extension ``oid``."""
        return self.replace(extensions=tuple(e for e in self.extensions if e.oid != oid))

    def critical(self, oid: str, flag: bool) -> CertSpec:
        """Change the critical flag of extension ``oid`` (which must be present)."""
        e = self.ext(oid)
        if e is None:
            raise KeyError(oid)
        return self.with_ext(oid, flag, e.value)

    def duplicate(self, oid: str) -> CertSpec:
        """Repeat extension ``oid`` right after itself."""
        out: list[Ext] = []
        for e in self.extensions:
            out.append(e)
            if e.oid == oid:
                out.append(e)
        return self.replace(extensions=tuple(out))


@dataclass(frozen=True)
class RevokedSpec:
    """One CRL entry."""

    serial: int
    date: _dt.datetime
    extensions: tuple[Ext, ...] = ()


@dataclass(frozen=True)
class CrlSpec:
    """Every field of one CRL (``version`` 1 = v2; ``0`` omits the field, i.e. v1)."""

    issuer: NameAttrs
    signer: str
    this_update: _dt.datetime
    next_update: _dt.datetime | None
    revoked: tuple[RevokedSpec, ...] = ()
    extensions: tuple[Ext, ...] = ()
    version: int = 1
    tbs_alg: AlgId = SHA256_RSA
    outer_alg: AlgId = SHA256_RSA
    corrupt_signature: bool = False

    def replace(self, **changes: Any) -> CrlSpec:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


# ------------------------------------------------------------------ raw ASN.1 shapes
# Generic shapes that write exactly what they are given; the typed asn1crypto classes
# would re-encode (add NULL parameters, wrap extension values, drop a default version).
class _RawAlg(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _RawExtension(core.Sequence):
    _fields = [
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


class _RawExtensions(core.SequenceOf):
    _child_spec = _RawExtension


def _alg(a: AlgId) -> algos.SignedDigestAlgorithm:
    fields: dict[str, object] = {"algorithm": a.oid}
    if a.null_params:
        fields["parameters"] = core.Null()
    return algos.SignedDigestAlgorithm.load(_RawAlg(fields).dump())


def _extensions(exts: tuple[Ext, ...]) -> bytes:
    raw = []
    for e in exts:
        item: dict[str, object] = {"extn_id": e.oid, "extn_value": e.value}
        if e.critical:
            item["critical"] = True
        raw.append(item)
    return _RawExtensions(raw).dump()


def _name(attrs: NameAttrs) -> x509.Name:
    # Name.build: PrintableString for C, UTF8String otherwise, in asn1crypto's usual order
    return x509.Name.build(dict(attrs))


def _time(t: _dt.datetime, generalized: bool) -> x509.Time:
    t = t.astimezone(_dt.UTC)
    if generalized or not 1950 <= t.year < 2050:
        return x509.Time(name="general_time", value=t)
    return x509.Time(name="utc_time", value=t)


def spki_der(key: rsa.RSAPrivateKey) -> bytes:
    """The SubjectPublicKeyInfo DER of ``key``'s public key."""
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def _sign(tbs_der: bytes, key: rsa.RSAPrivateKey, alg: AlgId, corrupt: bool) -> bytes:
    digest = hashes.SHA384() if alg == SHA384_RSA else hashes.SHA256()
    sig = key.sign(tbs_der, padding.PKCS1v15(), digest)
    if corrupt:
        sig = sig[:-1] + bytes([sig[-1] ^ 1])
    return sig


KeyLookup = Callable[[str], rsa.RSAPrivateKey]


def encode_cert(spec: CertSpec, keys_by_name: KeyLookup | Mapping[str, rsa.RSAPrivateKey]
                ) -> bytes:
    """DER of the certificate ``spec`` describes, signed by ``spec.signer``.

    The signature is computed with the hash of the *outer* algorithm (the one a verifier
    uses), so a mismatching inner algorithm is the only defect such a certificate has.

    :param keys_by_name: key name → private key (a mapping or a look-up function).
    """
    get = keys_by_name.__getitem__ if isinstance(keys_by_name, Mapping) else keys_by_name
    fields: dict[str, object] = {}
    if spec.version:
        fields["version"] = spec.version
    fields.update({
        "serial_number": spec.serial,
        "signature": _alg(spec.tbs_alg),
        "issuer": _name(spec.issuer),
        "validity": x509.Validity({
            "not_before": _time(spec.not_before, spec.generalized_time),
            "not_after": _time(spec.not_after, spec.generalized_time),
        }),
        "subject": _name(spec.subject),
        "subject_public_key_info": keys.PublicKeyInfo.load(spki_der(get(spec.key))),
    })
    if spec.extensions:
        fields["extensions"] = x509.Extensions.load(_extensions(spec.extensions))
    tbs = x509.TbsCertificate(fields)
    tbs_der = tbs.dump()
    sig = _sign(tbs_der, get(spec.signer), spec.outer_alg, spec.corrupt_signature)
    return x509.Certificate({
        "tbs_certificate": x509.TbsCertificate.load(tbs_der),
        "signature_algorithm": _alg(spec.outer_alg),
        "signature_value": sig,
    }).dump()


def encode_crl(spec: CrlSpec, keys_by_name: KeyLookup | Mapping[str, rsa.RSAPrivateKey]
               ) -> bytes:
    """DER of the CRL ``spec`` describes, signed by ``spec.signer``."""
    get = keys_by_name.__getitem__ if isinstance(keys_by_name, Mapping) else keys_by_name
    fields: dict[str, object] = {}
    if spec.version:
        fields["version"] = spec.version
    fields.update({
        "signature": _alg(spec.tbs_alg),
        "issuer": _name(spec.issuer),
        "this_update": _time(spec.this_update, False),
    })
    if spec.next_update is not None:
        fields["next_update"] = _time(spec.next_update, False)
    if spec.revoked:
        entries = []
        for r in spec.revoked:
            entry: dict[str, object] = {"user_certificate": r.serial,
                                        "revocation_date": _time(r.date, False)}
            if r.extensions:
                entry["crl_entry_extensions"] = asn1_crl.CRLEntryExtensions.load(
                    _extensions(r.extensions))
            entries.append(asn1_crl.RevokedCertificate(entry))
        fields["revoked_certificates"] = asn1_crl.RevokedCertificates(entries)
    if spec.extensions:
        fields["crl_extensions"] = asn1_crl.TBSCertListExtensions.load(
            _extensions(spec.extensions))
    tbs_der = asn1_crl.TbsCertList(fields).dump()
    sig = _sign(tbs_der, get(spec.signer), spec.outer_alg, spec.corrupt_signature)
    return asn1_crl.CertificateList({
        "tbs_cert_list": asn1_crl.TbsCertList.load(tbs_der),
        "signature_algorithm": _alg(spec.outer_alg),
        "signature": sig,
    }).dump()
