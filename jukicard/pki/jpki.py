"""JPKI certificate profile checks (card-interface.md §11) and the sign certificate's SAN.

:func:`check_profile` is run by the validator when ``policy.jpki_profile`` is set, on the
path it built (anchor → leaf).  It returns a list of problems (empty = the path fits the
JPKI profile); each problem is a ``str`` carrying a short machine-readable ``code``
(:class:`ProfileProblem`).  The rules, from the public facts of §11:

* the leaf is a sign certificate (署名用) or an auth certificate (利用者証明用), recognised
  by its issuer (``OU=JPKI for digital signature`` / ``OU=JPKI for user authentication``)
  and by its certificate policy (``1.2.392.200149.8.5.1.1.20`` / ``…1.3.30``); both must
  agree, and the caller may require one (``expected_usage``) so that a sign certificate
  is never accepted for authentication and vice versa;
* a sign certificate carries a *critical* keyUsage with digitalSignature and
  nonRepudiation, the sign policy, and the personal-data otherNames in its SAN;
* an auth certificate carries keyUsage digitalSignature and the auth policy, and no
  personal data;
* CAs are self-signed JPKI roots of the same kind (sign vs auth hierarchies are separate),
  with keyCertSign + cRLSign and basicConstraints cA; their generation is recognised from
  the validity start (2015, 2019, 2023 …);
* RSA keys: ≥ 2048 bits (My Number card), or the caller's minimum (1024 for 住基カード).

:class:`JpkiSubjectInfo` decodes the SAN otherNames 1.2.392.200149.8.5.5.1–.6 (name, name
substitute characters, sex, birth date ``EYYYYMMDD``, address, address substitute
characters).  NOTE: it is personal data: its ``repr`` is redacted, nothing here logs it,
and error messages never contain it.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import core as _core
from asn1crypto import x509 as _ax509

from jukicard.errors import UsageError
from jukicard.pki.certs import Certificate
from jukicard.pki.errors import MalformedError
from jukicard.pki.reasons import Reason

__all__ = [
    "POLICY_SIGN",
    "POLICY_AUTH",
    "SAN_OIDS",
    "OU_SIGN",
    "OU_AUTH",
    "ERAS",
    "ProfileProblem",
    "JpkiSubjectInfo",
    "MalformedSanError",
    "certificate_kind",
    "ca_kind",
    "ca_generation",
    "check_profile",
]

log = logging.getLogger(__name__)

POLICY_SIGN = "1.2.392.200149.8.5.1.1.20"
POLICY_AUTH = "1.2.392.200149.8.5.1.3.30"
OU_SIGN = "JPKI for digital signature"
OU_AUTH = "JPKI for user authentication"
_OU_KIND = {OU_SIGN.casefold(): "sign", OU_AUTH.casefold(): "auth"}
_POLICY_KIND = {POLICY_SIGN: "sign", POLICY_AUTH: "auth"}
_KIND_POLICY = {"sign": POLICY_SIGN, "auth": POLICY_AUTH}
_KIND_LABEL = {"sign": "sign (署名用)", "auth": "auth (利用者証明用)"}
_ARTICLE = {"sign": "a", "auth": "an"}

#: SAN otherName type OIDs of the sign certificate → JpkiSubjectInfo field.
SAN_OIDS: dict[str, str] = {
    "1.2.392.200149.8.5.5.1": "name",
    "1.2.392.200149.8.5.5.2": "name_substitute",
    "1.2.392.200149.8.5.5.3": "sex",
    "1.2.392.200149.8.5.5.4": "birth",
    "1.2.392.200149.8.5.5.5": "address",
    "1.2.392.200149.8.5.5.6": "address_substitute",
}
_FIELD_OID = {v: k for k, v in SAN_OIDS.items()}
_SAN_PREFIX = "1.2.392.200149.8.5.5."

#: Era digit of the birth date ``E`` → (romaji, kanji).
ERAS: dict[int, tuple[str, str]] = {
    1: ("meiji", "明治"),
    2: ("taisho", "大正"),
    3: ("showa", "昭和"),
    4: ("heisei", "平成"),
    5: ("reiwa", "令和"),
}
_ERA_START = {1: _dt.date(1868, 1, 25), 2: _dt.date(1912, 7, 30), 3: _dt.date(1926, 12, 25),
              4: _dt.date(1989, 1, 8), 5: _dt.date(2019, 5, 1)}

#: 住基カード-era JPKI certificates could not be issued after 2015-12-22 (§12).
JUKI_ERA_END = _dt.datetime(2016, 1, 1, tzinfo=_dt.timezone(_dt.timedelta(hours=9)))
MIN_RSA_BITS_JUKI = 1024
MIN_RSA_BITS_MYNUMBER = 2048

#: Known root generations: the year (JST) their validity starts.
KNOWN_GENERATIONS: frozenset[str] = frozenset({"2015", "2019", "2023"})
_JST = _dt.timezone(_dt.timedelta(hours=9))


@dataclass(frozen=True)
class ProfileProblem:
    """One profile violation.

    ``str(problem)`` is ``"<code>: <message>"`` (the text a problem had when it was a
    ``str``); join several with ``"; ".join(map(str, problems))``.  No personal data: the
    messages name certificates by their position and kind only.

    :ivar code: machine-readable: ``not-jpki``, ``kind-mismatch``, ``wrong-usage``,
        ``key-usage``, ``key-usage-not-critical``, ``missing-policy``, ``is-ca``,
        ``missing-subject-info``, ``malformed-san``, ``personal-data-in-auth``,
        ``weak-key``, ``not-rsa``, ``ca-not-jpki``, ``ca-kind-mismatch``, ``ca-key-usage``,
        ``ca-basic-constraints``, ``anchor-not-self-signed``, ``issued-before-ca``,
        ``ca-expired``, ``empty-path``.
    :ivar message: human-readable detail.
    :ivar position: index in the path (0 = trust anchor, last = the end entity) of the
        certificate at fault; ``None`` when the problem is about the path as a whole.
    """

    code: str
    message: str
    position: int | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class MalformedSanError(MalformedError):
    """The JPKI otherNames of a SAN cannot be decoded (values are never echoed)."""

    reason = Reason.MALFORMED_JPKI_SAN


# --------------------------------------------------------------------------- subject info
@dataclass(frozen=True)
class JpkiSubjectInfo:
    """Personal data of a JPKI sign certificate's SAN (基本4情報).

    NOTE: personal data — never log it; ``repr`` shows no values.

    :ivar name: 氏名.
    :ivar name_substitute: 氏名代替文字 (characters not in the cert's charset), may be empty.
    :ivar sex: sex code as written (``"1"`` male, ``"2"`` female, ``"9"`` not applicable).
    :ivar birth: the raw ``EYYYYMMDD`` value.
    :ivar address: 住所.
    :ivar address_substitute: 住所代替文字, may be empty.
    """

    name: str | None = field(default=None, repr=False)
    name_substitute: str | None = field(default=None, repr=False)
    sex: str | None = field(default=None, repr=False)
    birth: str | None = field(default=None, repr=False)
    address: str | None = field(default=None, repr=False)
    address_substitute: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        present = [f for f in _FIELD_OID if getattr(self, f) is not None]
        return f"JpkiSubjectInfo(<redacted: {', '.join(present) or 'empty'}>)"

    __str__ = __repr__

    def __post_init__(self) -> None:
        if self.birth is not None:
            _parse_birth(self.birth)  # validates
        if self.sex is not None and self.sex not in ("0", "1", "2", "9"):
            raise MalformedSanError("sex code is not one of 0/1/2/9")

    @property
    def birth_date(self) -> _dt.date | None:
        """Gregorian birth date (from ``YYYYMMDD``)."""
        return None if self.birth is None else _parse_birth(self.birth)[1]

    @property
    def birth_era(self) -> str | None:
        """Era of the birth date (``"showa"``...), from the ``E`` digit."""
        return None if self.birth is None else ERAS[_parse_birth(self.birth)[0]][0]

    @property
    def sex_label(self) -> str | None:
        """``"male"``, ``"female"``, ``"not-applicable"`` or ``"unknown"`` (ISO 5218)."""
        if self.sex is None:
            return None
        return {"1": "male", "2": "female", "9": "not-applicable"}.get(self.sex, "unknown")

    @property
    def empty(self) -> bool:
        """No JPKI otherName was present."""
        return all(getattr(self, f) is None for f in _FIELD_OID)

    # ------------------------------------------------------------------ parse / encode
    @classmethod
    def parse(cls, data: bytes | Certificate | Any) -> JpkiSubjectInfo:
        """Decode from a certificate (ours, ``cryptography``'s, DER/PEM) or DER GeneralNames.

        Only otherNames with the JPKI OIDs are used; other SAN entries are ignored.

        :raises MalformedSanError: a JPKI otherName is repeated, not a string, or a bad
            sex/birth value.
        :raises MalformedCertificateError: certificate bytes that do not parse.
        """
        names = _general_names_of(data)
        values: dict[str, str] = {}
        try:
            for gn in names:
                if gn.name != "other_name":
                    continue
                oid = gn.chosen["type_id"].dotted
                fname = SAN_OIDS.get(oid)
                if fname is None:
                    if oid.startswith(_SAN_PREFIX):
                        log.debug("ignoring unknown JPKI otherName %s", oid)
                    continue
                if fname in values:
                    raise MalformedSanError(f"JPKI otherName {fname} appears twice")
                values[fname] = _other_name_text(gn.chosen["value"], fname)
        except MalformedError:
            raise
        except Exception as exc:  # asn1crypto parse errors
            raise MalformedSanError(
                f"subjectAltName cannot be decoded ({type(exc).__name__})") from exc
        return cls(**values)

    @classmethod
    def from_certificate(cls, cert: Certificate | Any) -> JpkiSubjectInfo:
        """Same as :meth:`parse` for a certificate (name kept for readability)."""
        return cls.parse(cert)

    def general_names(self) -> _ax509.GeneralNames:
        """The otherName entries as asn1crypto ``GeneralNames`` (fields set only)."""
        out = []
        for fname, oid in _FIELD_OID.items():
            value = getattr(self, fname)
            if value is None:
                continue
            other = _ax509.AnotherName({"type_id": oid,
                                        "value": _core.UTF8String(value, explicit=0)})
            out.append(_ax509.GeneralName(name="other_name", value=other))
        return _ax509.GeneralNames(out)

    def __bytes__(self) -> bytes:
        """DER ``GeneralNames`` (the subjectAltName extension value)."""
        return bytes(self.general_names().dump())


def _other_name_text(value: Any, fname: str) -> str:
    parsed = value.parsed if hasattr(value, "parsed") else value
    if isinstance(parsed, _core.Any):
        parsed = _core.Asn1Value.load(parsed.dump())
    if not isinstance(parsed, (_core.UTF8String, _core.PrintableString, _core.IA5String,
                               _core.BMPString, _core.VisibleString, _core.UniversalString)):
        raise MalformedSanError(f"JPKI otherName {fname} is not a string")
    text = parsed.native
    if not isinstance(text, str):
        raise MalformedSanError(f"JPKI otherName {fname} is not a string")
    return text


def _parse_birth(value: str) -> tuple[int, _dt.date]:
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        raise MalformedSanError("birth date is not EYYYYMMDD")
    era = int(value[0])
    if era not in ERAS:
        raise MalformedSanError("birth date era digit is unknown")
    try:
        date = _dt.date(int(value[1:5]), int(value[5:7]), int(value[7:9]))
    except ValueError as exc:
        raise MalformedSanError("birth date is not a calendar date") from exc
    start = _ERA_START[era]
    end = _ERA_START.get(era + 1)
    if date < start or (end is not None and date >= end):
        raise MalformedSanError("birth date does not fall in its era")
    return era, date


def _general_names_of(data: Any) -> Iterable[Any]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        # GeneralNames (SEQUENCE) or a certificate (SEQUENCE too): try GeneralNames first
        try:
            names: Iterable[Any] = _ax509.GeneralNames.load(raw, strict=True)
            for gn in names:
                gn.name  # noqa: B018 - forces the choice parse
            return names
        except Exception:  # noqa: BLE001 - not GeneralNames: a certificate then
            pass
        cert = Certificate.parse(raw)
    elif isinstance(data, Certificate):
        cert = data
    elif hasattr(data, "public_bytes"):
        cert = Certificate.from_cryptography(data)
    else:
        raise UsageError("expected a certificate or DER GeneralNames")
    san = cert.ext_value("subject_alt_name")
    return () if san is None else san


# --------------------------------------------------------------------------- kinds
def _ous(name: _ax509.Name) -> tuple[list[str], list[str]]:
    """(organization values, organizationalUnit values) of a name."""
    orgs: list[str] = []
    ous: list[str] = []
    try:
        for rdn in name.chosen:
            for ava in rdn:
                t = ava["type"].native
                v = ava["value"].native
                if not isinstance(v, str):
                    continue
                if t == "organization_name":
                    orgs.append(v.strip())
                elif t == "organizational_unit_name":
                    ous.append(v.strip())
    except Exception:  # noqa: BLE001 - an undecodable name simply is not JPKI
        return [], []
    return orgs, ous


def ca_kind(name: _ax509.Name) -> str | None:
    """``"sign"``/``"auth"`` for a JPKI CA name (``O=JPKI`` + kind OU), else ``None``."""
    orgs, ous = _ous(name)
    if "jpki" not in {o.casefold() for o in orgs}:
        return None
    kinds = {_OU_KIND[o.casefold()] for o in ous if o.casefold() in _OU_KIND}
    return kinds.pop() if len(kinds) == 1 else None


def _policy_oids(cert: Certificate) -> set[str]:
    info = cert.policy_info
    if info is None:
        return set()
    return {p["policy_identifier"].dotted for p in info}


def certificate_kind(cert: Certificate | Any) -> str | None:
    """``"sign"`` or ``"auth"`` for a JPKI end-entity certificate, else ``None``.

    The policy OID decides; the issuer name is used when no JPKI policy is present.
    """
    c = _as_cert(cert)
    by_policy = {_POLICY_KIND[o] for o in _policy_oids(c) if o in _POLICY_KIND}
    if len(by_policy) == 1:
        return by_policy.pop()
    if by_policy:
        return None
    return ca_kind(c.issuer)


def ca_generation(cert: Certificate | Any) -> str | None:
    """The generation (year, JST, of the validity start) of a JPKI root, if recognised.

    :returns: ``"2015"``, ``"2019"``, ``"2023"`` (see :data:`KNOWN_GENERATIONS`) or
        ``None`` when the certificate is not a JPKI CA or the year is not a known one.
    """
    c = _as_cert(cert)
    if ca_kind(c.subject) is None or not c.is_ca:
        return None
    year = str(c.not_before.astimezone(_JST).year)
    return year if year in KNOWN_GENERATIONS else None


def _as_cert(cert: Any) -> Certificate:
    if isinstance(cert, Certificate):
        return cert
    if isinstance(cert, (bytes, bytearray, memoryview)):
        return Certificate.parse(bytes(cert))
    if hasattr(cert, "public_bytes"):
        return Certificate.from_cryptography(cert)
    raise UsageError("expected a jukicard.pki Certificate, a cryptography Certificate or bytes")


# --------------------------------------------------------------------------- profile
def check_profile(
    path: Sequence[Certificate | Any],
    at: _dt.datetime | None = None,
    *,
    expected_usage: str | None = None,
    min_rsa_bits: int | None = None,
) -> list[ProfileProblem]:
    """Check a certification path (anchor → leaf) against the JPKI profile.

    :param path: the path as the validator gives it, anchor first, leaf last.
    :param at: validation time: JPKI roots are only trusted within their own validity
        (a root past its notAfter — e.g. the 2015 generation after 2025-10-19 — gives
        ``ca-expired``; RFC 5280 itself does not check trust-anchor validity).  ``None``
        skips that check.
    :param expected_usage: ``"sign"``, ``"auth"`` or ``None`` (any); a certificate of the
        other kind is a problem (``wrong-usage``).
    :param min_rsa_bits: smallest RSA modulus for the end entity; ``None`` = by era:
        1024 for certificates issued before 2016 (住基カード, whose JPKI certificates were
        RSA-1024 and could not be issued after 2015-12-22), 2048 after (My Number card).
        CAs always need 2048.
    :returns: the problems found (:class:`ProfileProblem`), empty when the path fits the
        profile.
    :raises UsageError: bad ``expected_usage`` or path element type.
    :raises MalformedCertificateError: path elements given as bytes that do not parse.
    """
    if expected_usage not in (None, "sign", "auth"):
        raise UsageError("expected_usage must be 'sign', 'auth' or None")
    certs = [_as_cert(c) for c in path]
    problems: list[ProfileProblem] = []
    if not certs:
        problems.append(ProfileProblem("empty-path", "empty certification path"))
        return problems
    leaf = certs[-1]
    cas = certs[:-1]
    leaf_at = len(certs) - 1

    def add(code: str, message: str, position: int | None = leaf_at) -> None:
        problems.append(ProfileProblem(code, message, position))

    # ------------------------------------------------------------ what kind of certificate
    policies = _policy_oids(leaf)
    by_policy = {_POLICY_KIND[o] for o in policies if o in _POLICY_KIND}
    by_issuer = ca_kind(leaf.issuer)
    if len(by_policy) > 1:
        add("kind-mismatch", "certificate carries both the sign and the auth policy")
    kind = next(iter(by_policy)) if len(by_policy) == 1 else by_issuer
    if kind is None:
        add("not-jpki", "neither the issuer nor the policies identify a JPKI certificate")
        return problems
    if by_issuer is not None and len(by_policy) == 1 and by_issuer != kind:
        add("kind-mismatch",
            f"policy says {_KIND_LABEL[kind]} but the issuer is the "
            f"{_KIND_LABEL[by_issuer]} CA")
    if expected_usage is not None and kind != expected_usage:
        add("wrong-usage",
            f"{_ARTICLE[kind]} {_KIND_LABEL[kind]} certificate cannot be used as "
            f"{_KIND_LABEL[expected_usage]}")

    # ------------------------------------------------------------ the end entity
    if leaf.is_ca:
        add("is-ca", "end-entity certificate has basicConstraints cA=TRUE")
    if _KIND_POLICY[kind] not in policies:
        add("missing-policy", f"{_KIND_LABEL[kind]} policy {_KIND_POLICY[kind]} is missing")
    ku_ext = leaf.ext("key_usage")
    ku = leaf.key_usage or frozenset()
    if kind == "sign":
        if ku_ext is None or not {"digital_signature", "non_repudiation"} <= ku:
            add("key-usage", "sign certificate needs keyUsage digitalSignature and "
                "nonRepudiation")
        elif not ku_ext.critical:
            add("key-usage-not-critical", "sign certificate keyUsage must be critical")
    else:
        if ku_ext is None or "digital_signature" not in ku:
            add("key-usage", "auth certificate needs keyUsage digitalSignature")
    if ku & {"key_cert_sign", "crl_sign"}:
        add("key-usage", "end-entity keyUsage must not include keyCertSign or cRLSign")
    try:
        info = JpkiSubjectInfo.parse(leaf)
    except MalformedError:
        add("malformed-san", "the JPKI subject information in the SAN cannot be decoded")
        info = None
    if info is not None:
        if kind == "sign" and (info.name is None or info.birth is None or info.address is None
                               or info.sex is None):
            add("missing-subject-info",
                "sign certificate SAN lacks the JPKI name/sex/birth/address otherNames")
        if kind == "auth" and not info.empty:
            add("personal-data-in-auth", "auth certificate must not carry personal data")
    if min_rsa_bits is None:
        min_rsa_bits = (MIN_RSA_BITS_JUKI if leaf.not_before < JUKI_ERA_END
                        else MIN_RSA_BITS_MYNUMBER)
    _check_key(leaf, min_rsa_bits, "end-entity", leaf_at, add)

    # ------------------------------------------------------------ the CAs
    for i, ca in enumerate(cas):
        label = "trust anchor" if i == 0 else f"CA #{i}"
        ck = ca_kind(ca.subject)
        if ck is None:
            add("ca-not-jpki", f"{label} is not a JPKI CA (O=JPKI and a JPKI OU expected)", i)
        elif ck != kind:
            add("ca-kind-mismatch",
                f"{label} is the {_KIND_LABEL[ck]} CA, the certificate is {_KIND_LABEL[kind]}",
                i)
        if not ca.is_ca:
            add("ca-basic-constraints", f"{label} lacks basicConstraints cA=TRUE", i)
        if not {"key_cert_sign", "crl_sign"} <= (ca.key_usage or frozenset()):
            add("ca-key-usage", f"{label} keyUsage needs keyCertSign and cRLSign", i)
        _check_key(ca, 2048, label, i, add)
        if at is not None and not (ca.not_before <= at <= ca.not_after):
            add("ca-expired", f"{label} is outside its validity period "
                f"({ca.not_before.date()}..{ca.not_after.date()})", i)
    if cas and not cas[0].self_issued:
        add("anchor-not-self-signed", "JPKI trust anchors are self-signed roots", 0)
    if cas and leaf.not_before < cas[-1].not_before:
        add("issued-before-ca", "certificate validity starts before its CA's")
    if problems:
        log.info("JPKI profile: %d problem(s): %s", len(problems),
                 ", ".join(p.code for p in problems))
    return problems


def _check_key(cert: Certificate, min_bits: int, label: str, position: int,
               add: Callable[[str, str, int], None]) -> None:
    if cert.key_algorithm != "rsa":
        add("not-rsa", f"{label} key is {cert.key_algorithm}, JPKI uses RSA", position)
    elif cert.key_bits is None or cert.key_bits < min_bits:
        add("weak-key", f"{label} RSA key of {cert.key_bits} bits is below {min_bits}",
            position)
