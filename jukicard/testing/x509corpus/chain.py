"""The conformant base chains every corpus case starts from, and the edits cases apply.

Two shapes: root → intermediate → leaf (``shape=3``) and root → leaf (``shape=2``), RSA-2048,
sha256WithRSAEncryption, each certificate as RFC 5280 §4 and the strictest peers want it:
v3, positive short serials, UTCTime, non-empty names, basicConstraints critical with cA on
the CAs, keyUsage critical, SKI everywhere, AKI (key identifier) on everything but the
root.  CRL cases add a v2 CRL of the root (CRL number and AKI, nextUpdate a week after the
validation time) that revokes one unrelated serial.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from asn1crypto import core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.testing.x509corpus.encode import (
    OID,
    CertSpec,
    CrlSpec,
    Ext,
    NameAttrs,
    RevokedSpec,
)

__all__ = [
    "AT",
    "KEY_NAMES",
    "ROOT_NAME",
    "INTERMEDIATE_NAME",
    "LEAF_NAME",
    "LEAF_SERIAL",
    "Chain",
    "Edit",
    "base_chain",
    "base_crl",
    "ski_value",
    "aki_value",
    "bc_value",
    "ku_value",
    "crl_number_value",
]

#: The validation time of every case that does not say otherwise.
AT = _dt.datetime(2026, 6, 1, 0, 0, 0, tzinfo=_dt.UTC)
#: The test keys (``vectors/x509corpus/keys/<name>.pem``).
KEY_NAMES = ("root", "intermediate", "leaf")

_ORG: NameAttrs = (("country_name", "JP"), ("organization_name", "jukicard TEST"),
                   ("organizational_unit_name", "x509 corpus"))
ROOT_NAME: NameAttrs = _ORG + (("common_name", "Corpus Root CA"),)
INTERMEDIATE_NAME: NameAttrs = _ORG + (("common_name", "Corpus Intermediate CA"),)
LEAF_NAME: NameAttrs = _ORG + (("common_name", "Corpus Leaf"),)

ROOT_SERIAL = 0x1001
INTERMEDIATE_SERIAL = 0x2002
LEAF_SERIAL = 0x3003
FILLER_SERIAL = 0x9009
CRL_SIGNER_SERIAL = 0x4004


# ------------------------------------------------------------------ extension values (DER)
def ski_value(key: rsa.RSAPrivateKey) -> bytes:
    """SubjectKeyIdentifier value: RFC 5280 §4.2.1.2 method 1 (SHA-1 of the key bits)."""
    digest = x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
    return core.OctetString(digest).dump()


def aki_value(issuer_key: rsa.RSAPrivateKey) -> bytes:
    """AuthorityKeyIdentifier value with the issuer's key identifier only."""
    digest = x509.SubjectKeyIdentifier.from_public_key(issuer_key.public_key()).digest
    return asn1_x509.AuthorityKeyIdentifier({"key_identifier": digest}).dump()


def bc_value(ca: bool, path_len: int | None = None) -> bytes:
    """BasicConstraints value (``cA`` FALSE is omitted, as DER wants the default)."""
    fields: dict[str, object] = {"ca": ca}
    if path_len is not None:
        fields["path_len_constraint"] = path_len
    return asn1_x509.BasicConstraints(fields).dump()


def ku_value(*bits: str) -> bytes:
    """KeyUsage value with the named bits (asn1crypto names: ``key_cert_sign``...)."""
    return asn1_x509.KeyUsage(set(bits)).dump()


def crl_number_value(n: int) -> bytes:
    """CRLNumber value."""
    return core.Integer(n).dump()


# ------------------------------------------------------------------ the chain
@dataclass(frozen=True)
class Chain:
    """Certificate specs, anchor first, the CRL (CRL cases only) and other certificates
    the verifiers get as untrusted ones without being on the path (a CRL signer)."""

    certs: tuple[CertSpec, ...]
    crl: CrlSpec | None = None
    others: tuple[CertSpec, ...] = ()
    #: the private keys by name (edits that compute key identifiers need them)
    keys: Mapping[str, rsa.RSAPrivateKey] = field(default_factory=dict, repr=False,
                                                  compare=False)

    def index(self, role: str) -> int:
        """Position of ``root``, ``intermediate`` or ``leaf``.

        :raises KeyError: ``intermediate`` in a two-certificate chain, or an unknown role.
        """
        if role == "root":
            return 0
        if role == "leaf":
            return len(self.certs) - 1
        if role == "intermediate" and len(self.certs) == 3:
            return 1
        raise KeyError(role)

    def get(self, role: str) -> CertSpec:
        """The spec of ``role``."""
        return self.certs[self.index(role)]

    def edit(self, role: str, fn: Callable[[CertSpec], CertSpec]) -> Chain:
        """A chain with ``fn`` applied to the spec of ``role``."""
        i = self.index(role)
        return dataclasses.replace(
            self, certs=self.certs[:i] + (fn(self.certs[i]),) + self.certs[i + 1:])

    def rename(self, role: str, subject: NameAttrs) -> Chain:
        """Change ``role``'s subject and, so that names still chain, the issuer fields that
        carry it (its own if it is the root, its child's, the CRL's)."""
        i = self.index(role)
        certs = list(self.certs)
        certs[i] = certs[i].replace(subject=subject, issuer=subject if i == 0
                                    else certs[i].issuer)
        if i + 1 < len(certs):
            certs[i + 1] = certs[i + 1].replace(issuer=subject)
        crl = self.crl
        if crl is not None and i == 0:
            crl = crl.replace(issuer=subject)
        return dataclasses.replace(self, certs=tuple(certs), crl=crl)

    def edit_crl(self, fn: Callable[[CrlSpec], CrlSpec]) -> Chain:
        """A chain with ``fn`` applied to the CRL."""
        if self.crl is None:
            raise KeyError("crl")
        return dataclasses.replace(self, crl=fn(self.crl))

    def with_crl_signer(self, fn: Callable[[CertSpec], CertSpec] = lambda s: s) -> Chain:
        """Have the root's CRL signed by a separate CRL-signing certificate of the root
        (same name, its own key — the ``intermediate`` key —, keyUsage cRLSign only, issued
        by the root), ``fn`` applied to that certificate."""
        if self.crl is None:
            raise KeyError("crl")
        root = self.certs[0]
        signer = CertSpec(
            subject=root.subject, issuer=root.subject, key="intermediate", signer=root.key,
            serial=CRL_SIGNER_SERIAL, not_before=root.not_before,
            not_after=_dt.datetime(2030, 1, 1, tzinfo=_dt.UTC),
            extensions=(Ext(OID.KU, True, ku_value("crl_sign")),
                        Ext(OID.SKI, False, ski_value(self.keys["intermediate"])),
                        Ext(OID.AKI, False, aki_value(self.keys[root.key]))))
        crl = self.crl.replace(signer="intermediate", extensions=tuple(
            Ext(OID.AKI, e.critical, aki_value(self.keys["intermediate"])) if e.oid == OID.AKI
            else e for e in self.crl.extensions))
        return dataclasses.replace(self, crl=crl, others=self.others + (fn(signer),))


#: A case's change to the base chain.
Edit = Callable[[Chain], Chain]


def _ca(subject: NameAttrs, issuer: NameAttrs, key: str, signer: str, serial: int,
        keys: dict[str, rsa.RSAPrivateKey], years: int) -> CertSpec:
    exts = [
        Ext(OID.BC, True, bc_value(True)),
        Ext(OID.KU, True, ku_value("key_cert_sign", "crl_sign")),
        Ext(OID.SKI, False, ski_value(keys[key])),
    ]
    if key != signer:
        exts.append(Ext(OID.AKI, False, aki_value(keys[signer])))
    return CertSpec(subject=subject, issuer=issuer, key=key, signer=signer, serial=serial,
                    not_before=_dt.datetime(2025, 1, 1, tzinfo=_dt.UTC),
                    not_after=_dt.datetime(2025 + years, 1, 1, tzinfo=_dt.UTC),
                    extensions=tuple(exts))


def _leaf(issuer: NameAttrs, signer: str, keys: dict[str, rsa.RSAPrivateKey]) -> CertSpec:
    return CertSpec(subject=LEAF_NAME, issuer=issuer, key="leaf", signer=signer,
                    serial=LEAF_SERIAL,
                    not_before=_dt.datetime(2026, 1, 1, tzinfo=_dt.UTC),
                    not_after=_dt.datetime(2027, 1, 1, tzinfo=_dt.UTC),
                    extensions=(Ext(OID.KU, True, ku_value("digital_signature")),
                                Ext(OID.SKI, False, ski_value(keys["leaf"])),
                                Ext(OID.AKI, False, aki_value(keys[signer]))))


def base_crl(keys: dict[str, rsa.RSAPrivateKey]) -> CrlSpec:
    """The root's conformant CRL (revokes :data:`FILLER_SERIAL` only)."""
    return CrlSpec(
        issuer=ROOT_NAME, signer="root",
        this_update=AT - _dt.timedelta(days=1), next_update=AT + _dt.timedelta(days=7),
        revoked=(RevokedSpec(FILLER_SERIAL, AT - _dt.timedelta(days=10)),),
        extensions=(
            # the same AuthorityKeyIdentifier as a certificate issued by the root
            Ext(OID.AKI, False, aki_value(keys["root"])),
            Ext(OID.CRL_NUMBER, False, crl_number_value(1)),
        ),
    )


def base_chain(shape: int, keys: dict[str, rsa.RSAPrivateKey], *, crl: bool = False
               ) -> Chain:
    """The conformant chain of ``shape`` 3 (root → intermediate → leaf) or 2 (root → leaf).

    :param keys: the private keys by :data:`KEY_NAMES`.
    :param crl: also give the chain the root's CRL.
    :raises ValueError: for another shape.
    """
    root = _ca(ROOT_NAME, ROOT_NAME, "root", "root", ROOT_SERIAL, keys, years=10)
    if shape == 3:
        inter = _ca(INTERMEDIATE_NAME, ROOT_NAME, "intermediate", "root",
                    INTERMEDIATE_SERIAL, keys, years=5)
        certs: tuple[CertSpec, ...] = (root, inter, _leaf(INTERMEDIATE_NAME, "intermediate",
                                                          keys))
    elif shape == 2:
        certs = (root, _leaf(ROOT_NAME, "root", keys))
    else:
        raise ValueError(f"no chain of shape {shape}")
    return Chain(certs, base_crl(keys) if crl else None, keys=keys)
