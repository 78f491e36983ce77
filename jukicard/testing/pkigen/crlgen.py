"""CRLs and ARLs of the test PKI: a complete CRL and an ARL per root, plus two traps — a
stale CRL (``sign-2023``) and one signed by the wrong key (``auth-2023``).

Filler entries, CRL numbers and revocation dates are drawn from the run's RNG in a fixed
order (root by root: CRL number, CRL filler, ARL number, ARL filler).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.testing.pkigen.keys import PublishedKeys
from jukicard.testing.pkigen.names import arl_path, crl_path
from jukicard.testing.pkigen.output import OutputTree
from jukicard.testing.pkigen.timeline import (
    CRL_NEXT_UPDATE,
    CRL_THIS_UPDATE,
    GENERATIONS,
    ISSUANCE_DATE,
    STALE_NEXT_UPDATE,
    STALE_THIS_UPDATE,
)
from jukicard.testing.pkigen.x509gen import CaInfo, Revocation, SerialNumbers

__all__ = [
    "CrlRecord",
    "make_crls",
    "reason_name",
    "STALE_CRL_CA",
    "WRONG_KEY_CRL_CA",
    "WRONG_SIGNER_KEY",
]

#: The root whose CRL also exists in a stale version.
STALE_CRL_CA = "sign-2023"
#: The root whose CRL is also forged with another key.
WRONG_KEY_CRL_CA = "auth-2023"
#: Name of the key that signs the forged CRL.
WRONG_SIGNER_KEY = "crl-wrong-signer"

_REASON_NAMES = {
    x509.ReasonFlags.unspecified: "unspecified",
    x509.ReasonFlags.key_compromise: "keyCompromise",
    x509.ReasonFlags.ca_compromise: "cACompromise",
    x509.ReasonFlags.affiliation_changed: "affiliationChanged",
    x509.ReasonFlags.superseded: "superseded",
    x509.ReasonFlags.cessation_of_operation: "cessationOfOperation",
    x509.ReasonFlags.certificate_hold: "certificateHold",
}
_FILLER_REASONS: tuple[x509.ReasonFlags | None, ...] = (
    x509.ReasonFlags.key_compromise,
    x509.ReasonFlags.superseded,
    x509.ReasonFlags.cessation_of_operation,
    None,
    x509.ReasonFlags.unspecified,
)
_ARL_REASONS: tuple[x509.ReasonFlags | None, ...] = (x509.ReasonFlags.ca_compromise,)


def reason_name(r: x509.ReasonFlags | None) -> str | None:
    """The RFC 5280 name of a CRL reason (``affiliationChanged``), ``None`` for none."""
    if r is None:
        return None
    return _REASON_NAMES.get(r, r.value)


@dataclass(frozen=True, repr=False)
class CrlRecord:
    """A CRL as written, with what the manifest says about it.

    :ivar role: ``crl``, ``arl``, ``crl-stale`` or ``crl-wrong-key``.
    :ivar entries: the revoked certificates, by serial.
    :ivar signer_key: name of the key that signed it.
    :ivar scope: ``complete`` or ``ca-certs``.
    """

    path: str
    role: str
    ca: CaInfo
    number: int
    this_update: _dt.datetime
    next_update: _dt.datetime
    entries: tuple[Revocation, ...]
    signer_key: str
    der: bytes
    scope: str
    stale: bool = False
    wrong_key: bool = False
    issuer_expired: bool = False

    def __repr__(self) -> str:
        return f"CrlRecord({self.path!r})"


@dataclass(frozen=True)
class _CrlSpec:
    path: str
    role: str
    number: int
    this_update: _dt.datetime
    next_update: _dt.datetime
    entries: Sequence[Revocation]
    scope: str = "complete"
    stale: bool = False
    wrong_key: bool = False
    idp: x509.IssuingDistributionPoint | None = None


def _write_crl(out: OutputTree, ca: CaInfo, spec: _CrlSpec,
               signer: tuple[str, rsa.RSAPrivateKey] | None = None) -> CrlRecord:
    signer_key, key = signer or (ca.key_name, ca.key)
    entries = tuple(sorted(spec.entries, key=lambda e: e.serial))
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(spec.this_update)
        .next_update(spec.next_update)
        .add_extension(x509.CRLNumber(spec.number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if spec.idp is not None:
        b = b.add_extension(spec.idp, critical=True)
    for e in entries:
        rb = x509.RevokedCertificateBuilder().serial_number(e.serial).revocation_date(e.when)
        if e.reason is not None:
            rb = rb.add_extension(x509.CRLReason(e.reason), critical=False)
        b = b.add_revoked_certificate(rb.build())
    der = b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    out.write_pki(spec.path, der)
    return CrlRecord(
        path=spec.path,
        role=spec.role,
        ca=ca,
        number=spec.number,
        this_update=spec.this_update,
        next_update=spec.next_update,
        entries=entries,
        signer_key=signer_key,
        der=der,
        scope=spec.scope,
        stale=spec.stale,
        wrong_key=spec.wrong_key,
        issuer_expired=ca.expired,
    )


def _filler(ca: CaInfo, count: int, serials: SerialNumbers,
            reasons: tuple[x509.ReasonFlags | None, ...]) -> list[Revocation]:
    start = GENERATIONS[ca.generation][0] if ca.expired else ISSUANCE_DATE
    out = []
    for i in range(count):
        when = start + _dt.timedelta(seconds=serials.rng.randint(0, 3600 * 24 * 300))
        out.append(Revocation(serials.draw(32), when, reasons[i % len(reasons)]))
    return out


def _arl_idp(ca: CaInfo) -> x509.IssuingDistributionPoint:
    return x509.IssuingDistributionPoint(
        full_name=[x509.DirectoryName(ca.cert.subject)],
        relative_name=None,
        only_contains_user_certs=False,
        only_contains_ca_certs=True,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )


def make_crls(
    cas: Mapping[str, CaInfo],
    revoked: Mapping[str, Sequence[Revocation]],
    *,
    out: OutputTree,
    keys: PublishedKeys,
    serials: SerialNumbers,
) -> list[CrlRecord]:
    """Make and write every CRL and ARL.

    :param cas: the roots, in the order their CRLs are made.
    :param revoked: the revoked end-entity certificates by root id.
    :returns: the CRLs in the order written (the manifest's order).
    """
    wrong = keys.get(WRONG_SIGNER_KEY)
    rng = serials.rng
    records: list[CrlRecord] = []
    for ca in cas.values():
        number = rng.randint(100, 9999)
        listed = list(revoked.get(ca.id, ()))
        entries = listed + _filler(ca, 5, serials, _FILLER_REASONS)
        records.append(_write_crl(out, ca, _CrlSpec(
            crl_path(ca.id), "crl", number, CRL_THIS_UPDATE, CRL_NEXT_UPDATE, entries)))
        arl_number = rng.randint(100, 9999)
        records.append(_write_crl(out, ca, _CrlSpec(
            arl_path(ca.id), "arl", arl_number, CRL_THIS_UPDATE, CRL_NEXT_UPDATE,
            _filler(ca, 1, serials, _ARL_REASONS), scope="ca-certs", idp=_arl_idp(ca))))
        if ca.id == STALE_CRL_CA:
            # Stale: nextUpdate already passed at REFERENCE_TIME; issued before the
            # revocation of r2's sign certificate, so it does not list it.
            records.append(_write_crl(out, ca, _CrlSpec(
                crl_path(ca.id, "stale"), "crl-stale", number - 5, STALE_THIS_UPDATE,
                STALE_NEXT_UPDATE, [e for e in entries if e.when < STALE_THIS_UPDATE],
                stale=True)))
        if ca.id == WRONG_KEY_CRL_CA:
            # Issuer name and AKI of the root, signature by an unrelated key; its CRL
            # number is HIGHER than the genuine one so "pick the newest" picks it.
            records.append(_write_crl(out, ca, _CrlSpec(
                crl_path(ca.id, "wrongkey"), "crl-wrong-key", number + 1, CRL_THIS_UPDATE,
                CRL_NEXT_UPDATE, listed, wrong_key=True), signer=(WRONG_SIGNER_KEY, wrong)))
    return records
