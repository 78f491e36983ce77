"""X.509 certificates of the test PKI: the roots (auth/sign × three generations) and the
end-entity certificates of the test residents (``card-interface.md`` §11.1, §11.2).

Every random choice (serials, notBefore jitter) is drawn from the run's ``random.Random``
in a fixed order; keys come from the key store.  Nothing here writes the manifest: the
records returned (:class:`CaInfo`, :class:`IssuedCert`) carry what it needs.
"""

from __future__ import annotations

import datetime as _dt
import random
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from jukicard.testing.pkigen.keys import PublishedKeys
from jukicard.testing.pkigen.names import (
    KINDS,
    OID,
    OPERATOR_OU,
    auth_crl_dp_name,
    ca_name,
    ca_path,
    distribution_points,
    ee_path,
    name,
    other_name,
    sign_crl_dp_name,
)
from jukicard.testing.pkigen.output import OutputTree
from jukicard.testing.pkigen.personas import Resident, nth_birthday_after, wareki
from jukicard.testing.pkigen.timeline import (
    EXPIRED_GENERATION,
    GENERATIONS,
    R2_REVOKED_AT,
    REFERENCE_TIME,
    end_of_day_jst,
)

__all__ = ["SerialNumbers", "Revocation", "CaInfo", "IssuedCert", "make_cas", "issue_ee", "der"]


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@dataclass
class SerialNumbers:
    """Serial numbers drawn from the run's RNG, never the same twice in one run (roots,
    end entities and CRL filler entries share the pool).

    :ivar rng: the run's random source (also used for other draws, in a fixed order).
    """

    rng: random.Random
    used: set[int] = field(default_factory=set)

    def draw(self, bits: int = 32) -> int:
        """A fresh serial of exactly ``bits`` bits."""
        while True:
            s = self.rng.randrange(1 << (bits - 1), 1 << bits)
            if s not in self.used:
                self.used.add(s)
                return s


class Revocation(NamedTuple):
    """One CRL entry: serial, revocation date, reason (``None``: no reason code)."""

    serial: int
    when: _dt.datetime
    reason: x509.ReasonFlags | None


@dataclass(frozen=True, repr=False)
class CaInfo:
    """A test root: its id (``auth-2023``), kind, generation, key and certificate."""

    id: str
    kind: str
    generation: str
    key_name: str
    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    path: str

    @property
    def expired(self) -> bool:
        return self.cert.not_valid_after_utc < REFERENCE_TIME

    @property
    def ski(self) -> bytes:
        return x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()).digest

    def __repr__(self) -> str:
        return f"CaInfo({self.id!r})"


@dataclass(frozen=True, repr=False)
class IssuedCert:
    """An end-entity certificate of a resident.

    :ivar kind: ``"auth"`` or ``"sign"``.
    :ivar key: the certified private key (a TEST key).
    :ivar crl_dp: the DirName of its CRL distribution point.
    :ivar revocation: its CRL entry if it is revoked.
    """

    resident: Resident
    kind: str
    cert: x509.Certificate
    path: str
    key_name: str
    key: rsa.RSAPrivateKey
    ca: CaInfo
    crl_dp: x509.Name
    revocation: Revocation | None = None

    @property
    def id(self) -> str:
        return f"{self.resident.id}-{self.kind}"

    def __repr__(self) -> str:
        return f"IssuedCert({self.id!r})"


def make_cas(out: OutputTree, keys: PublishedKeys, serials: SerialNumbers) -> dict[str, CaInfo]:
    """Make and write every root, kind by kind, generation by generation.

    :returns: the roots by id (``auth-2015``...), in that order.
    """
    cas: dict[str, CaInfo] = {}
    for kind in KINDS:
        for gen, (nb, na) in GENERATIONS.items():
            cid = f"{kind}-{gen}"
            key_name = f"ca-{cid}"
            key = keys.get(key_name)
            serial = 1 if gen == EXPIRED_GENERATION else serials.draw(27)
            subject = ca_name(kind)
            pub = key.public_key()
            san = x509.SubjectAlternativeName([x509.DirectoryName(name(
                (NameOID.COUNTRY_NAME, "JP"),
                (NameOID.ORGANIZATION_NAME, "公的個人認証サービス"),
            ))])
            cert = (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(subject)
                .public_key(pub)
                .serial_number(serial)
                .not_valid_before(nb)
                .not_valid_after(na)
                .add_extension(
                    x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                    critical=True,
                )
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
                .add_extension(san, critical=False)
                .add_extension(distribution_points(subject), critical=False)
                .sign(key, hashes.SHA256())
            )
            path = out.write_pki(ca_path(cid), der(cert))
            cas[cid] = CaInfo(cid, kind, gen, key_name, key, cert, path)
    return cas


def _not_after(res: Resident) -> _dt.datetime:
    issued = res.plan.issued.date()
    if res.plan.is_juki:
        return end_of_day_jst(issued.replace(year=issued.year + 3) - _dt.timedelta(days=1))
    return end_of_day_jst(nth_birthday_after(res.birth, issued, 5))


#: keyUsage of the end-entity certificates: digitalSignature (+ nonRepudiation for sign).
_EE_KEY_USAGE = {
    "auth": x509.KeyUsage(True, False, False, False, False, False, False, False, False),
    "sign": x509.KeyUsage(True, True, False, False, False, False, False, False, False),
}
_EE_POLICY = {"auth": OID.POLICY_AUTH, "sign": OID.POLICY_SIGN}


def _ee_subject(res: Resident, kind: str) -> x509.Name:
    if kind == "sign":
        return name(
            (NameOID.COUNTRY_NAME, "JP"),
            (NameOID.LOCALITY_NAME, res.place.pref_en),
            (NameOID.LOCALITY_NAME, res.place.city_en),
            (NameOID.COMMON_NAME, res.sign_cn),
        )
    attrs: list[tuple[Any, str]] = [(NameOID.COUNTRY_NAME, "JP")]
    if res.plan.operator:
        attrs.append((NameOID.ORGANIZATIONAL_UNIT_NAME, OPERATOR_OU))
    attrs.append((NameOID.COMMON_NAME, res.auth_cn))
    return name(*attrs)


def _sign_san(res: Resident) -> x509.SubjectAlternativeName:
    """The sign certificate's personal data (§11.2 otherNames)."""
    era, _ = wareki(res.birth)
    return x509.SubjectAlternativeName(
        [
            other_name(OID.SAN_NAME, res.name),
            other_name(OID.SAN_NAME_SUBST, ""),
            other_name(OID.SAN_SEX, str(res.sex.value)),
            other_name(OID.SAN_BIRTH, f"{era}{res.birth.strftime('%Y%m%d')}"),
            other_name(OID.SAN_ADDRESS, res.address),
            other_name(OID.SAN_ADDRESS_SUBST, ""),
        ]
    )


def _crl_dp(res: Resident, kind: str) -> x509.Name:
    if kind == "sign":
        return sign_crl_dp_name(res.place.pref_en, res.place.city_en)
    return auth_crl_dp_name()


def issue_ee(
    res: Resident,
    kind: str,
    cas: dict[str, CaInfo],
    *,
    out: OutputTree,
    keys: PublishedKeys,
    serials: SerialNumbers,
) -> IssuedCert:
    """Issue and write one end-entity certificate of ``res``.

    :param kind: ``"auth"`` or ``"sign"`` (a key of :attr:`CardPlan.jpki_keys`); the key
        size comes from the card's facts.
    :param cas: the roots; the one of the resident's generation issues it.
    """
    ca = cas[f"{kind}-{res.plan.generation}"]
    key_name = f"ee-{res.id}-{kind}"
    key = keys.get(key_name, res.plan.jpki_keys[kind].bits)
    pub = key.public_key()
    rng = serials.rng
    not_before = res.plan.issued + _dt.timedelta(hours=rng.randint(0, 8),
                                                 minutes=rng.randint(0, 59))
    serial = serials.draw(32)
    b = (
        x509.CertificateBuilder()
        .issuer_name(ca.cert.subject)
        .public_key(pub)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(_not_after(res))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
    )
    b = (
        b.subject_name(_ee_subject(res, kind))
        .add_extension(_EE_KEY_USAGE[kind], critical=True)
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(_EE_POLICY[kind]), None)]
            ),
            critical=False,
        )
    )
    if kind == "sign":
        b = b.add_extension(_sign_san(res), critical=False)
    dp_name = _crl_dp(res, kind)
    b = b.add_extension(distribution_points(dp_name), critical=False)
    cert = b.sign(ca.key, hashes.SHA256())
    revocation = None
    if kind == "sign" and res.plan.sign_revoked:
        revocation = Revocation(serial, R2_REVOKED_AT, x509.ReasonFlags.affiliation_changed)
    return IssuedCert(
        resident=res,
        kind=kind,
        cert=cert,
        path=out.write_pki(ee_path(res.id, kind), der(cert)),
        key_name=key_name,
        key=key,
        ca=ca,
        crl_dp=dp_name,
        revocation=revocation,
    )
