"""Deterministic JPKI-like test PKI, card data and emulator card profiles.

Run ``python -m jukicard.testing.pkigen [--out vectors] [--seed N] [--new-keys]``.

Everything produced is synthetic TEST material: keys, names, addresses, numbers.  The
hierarchy mimics the public facts of ``card-interface.md`` §11 (JPKI roots and end-entity
profiles), §8 (text/visual AP data formats) and §12 (住基カード).

Determinism: every random choice comes from ``random.Random(seed)`` and every date is fixed
(no ``now()``).  RSA keys cannot be seeded with ``cryptography``; they are generated once
into ``<out>/pki/keys/`` (or ``--key-dir``) and reused on later runs unless ``--new-keys``
is given.  RSA PKCS#1 v1.5 signatures are deterministic, so the same keys and seed give
byte-identical output.

Output::

    <out>/pki/ca/*.cer        roots: auth/sign × generations 2015 (expired), 2019, 2023
    <out>/pki/ee/*.cer        end-entity auth/sign certificates of the test residents
    <out>/pki/crl/*.crl       CRLs, ARLs, a stale CRL and a CRL signed by the wrong key
    <out>/pki/cv/*.cvc        test "J-LIS" CV certificates (text and visual AP keys)
    <out>/pki/keys/*.pem      PKCS#8 PEM private keys (TEST keys, never use elsewhere)
    <out>/pki/manifest.json   every file with its role, plus residents and validation cases
    <out>/cards/*.json        emulator card profiles (format "jukicard-card-profile/1")
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import logging
import random
import shutil
import struct
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asn1crypto import core as asn1core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from jukicard.apdu.apps import (
    App,
    CommonEf,
    JpkiCert,
    JpkiKey,
    JpkiPin,
    JukiEf,
    JukiJpkiKey,
    JukiJpkiPin,
    JukiPin,
    PinSpec,
    TextEf,
    TextPin,
    VisualEf,
    VisualPin,
)
from jukicard.apdu.apps.jpki import JUKI_TOKEN, MYNUMBER_TOKEN, TOKEN_EF
from jukicard.card.dataobjects import (
    ApBasicInfo,
    BasicInfo,
    CommonCardId,
    CvCertificate,
    MyNumber,
    Sex,
    TextApSignature,
    TokenInfo,
    VisualBirth,
    VisualEntries,
    my_number_check_digit,
)

__all__ = [
    "DEFAULT_SEED",
    "REFERENCE_TIME",
    "ISSUANCE_DATE",
    "CRL_THIS_UPDATE",
    "CRL_NEXT_UPDATE",
    "STALE_THIS_UPDATE",
    "STALE_NEXT_UPDATE",
    "AID",
    "OID",
    "KeyStore",
    "generate",
    "main",
]

log = logging.getLogger(__name__)

UTC = _dt.UTC
DEFAULT_SEED = 20250401
REFERENCE_TIME = _dt.datetime(2026, 6, 1, 0, 0, 0, tzinfo=UTC)
ISSUANCE_DATE = _dt.datetime(2025, 4, 1, 0, 0, 0, tzinfo=UTC)
CRL_THIS_UPDATE = _dt.datetime(2026, 5, 31, 0, 0, 0, tzinfo=UTC)
CRL_NEXT_UPDATE = _dt.datetime(2026, 6, 7, 0, 0, 0, tzinfo=UTC)
STALE_THIS_UPDATE = _dt.datetime(2026, 4, 24, 0, 0, 0, tzinfo=UTC)
STALE_NEXT_UPDATE = _dt.datetime(2026, 5, 1, 0, 0, 0, tzinfo=UTC)
R2_REVOKED_AT = _dt.datetime(2026, 5, 10, 3, 0, 0, tzinfo=UTC)

PROFILE_FORMAT = "jukicard-card-profile/1"
MANIFEST_FORMAT = "jukicard-pki-manifest/1"
ATR_DEFAULT = "3BE000FF8131FE4514"
ATR_EXTENDED = "3BDA13FF8131FB468012392F31C173C601C03B"


class AID:
    """Application identifiers (hex) used in the card profiles (from jukicard.apdu.apps)."""

    JPKI = App.JPKI.aid.hex().upper()
    TEXT = App.TEXT.aid.hex().upper()
    VISUAL = App.VISUAL.aid.hex().upper()
    COMMON = App.COMMON.aid.hex().upper()
    JUKI = App.JUKI.aid.hex().upper()  # unverified layout (card-interface §3.4)


class OID:
    """JPKI object identifiers (card-interface §11.2)."""

    POLICY_AUTH = "1.2.392.200149.8.5.1.3.30"
    POLICY_SIGN = "1.2.392.200149.8.5.1.1.20"
    SAN_NAME = "1.2.392.200149.8.5.5.1"
    SAN_NAME_SUBST = "1.2.392.200149.8.5.5.2"
    SAN_SEX = "1.2.392.200149.8.5.5.3"
    SAN_BIRTH = "1.2.392.200149.8.5.5.4"
    SAN_ADDRESS = "1.2.392.200149.8.5.5.5"
    SAN_ADDRESS_SUBST = "1.2.392.200149.8.5.5.6"


TEST_MARKER = "jukicard TEST"
JLIS_OU = "Japan Agency for Local Authority Information Systems"
CA_OU = {"auth": "JPKI for user authentication", "sign": "JPKI for digital signature"}
OPERATOR_OU = "jukicard operator"

# Generations: (not_before, not_after).  The 2015 generation ended 2025-10-19 14:59:59Z
# (like the real 2015 roots), so it is EXPIRED at REFERENCE_TIME.
GENERATIONS: dict[str, tuple[_dt.datetime, _dt.datetime]] = {
    "2015": (
        _dt.datetime(2015, 10, 19, 15, 0, 0, tzinfo=UTC),
        _dt.datetime(2025, 10, 19, 14, 59, 59, tzinfo=UTC),
    ),
    "2019": (
        _dt.datetime(2019, 6, 30, 15, 0, 0, tzinfo=UTC),
        _dt.datetime(2029, 6, 30, 14, 59, 59, tzinfo=UTC),
    ),
    "2023": (
        _dt.datetime(2023, 7, 15, 15, 0, 0, tzinfo=UTC),
        _dt.datetime(2033, 7, 15, 14, 59, 59, tzinfo=UTC),
    ),
}

# (prefecture, city, romanised prefecture, romanised city): real place names, fake people.
PLACES = [
    ("東京都", "千代田区", "Tokyo-to", "Chiyoda-ku"),
    ("神奈川県", "横浜市", "Kanagawa-ken", "Yokohama-shi"),
    ("北海道", "札幌市", "Hokkaido", "Sapporo-shi"),
    ("大阪府", "大阪市", "Osaka-fu", "Osaka-shi"),
    ("福岡県", "福岡市", "Fukuoka-ken", "Fukuoka-shi"),
]
FAMILY_NAMES = ["試験", "見本", "仮名", "架空", "模擬"]
GIVEN_NAMES = {Sex.MALE: ["太郎", "一郎", "次郎"], Sex.FEMALE: ["花子", "桜", "葵"]}

# Test PIN values (documented in vectors/cards/README.md).
AUTH_PIN = "1234"
SIGN_PASSWORD = "ABC123"
TEXT_PIN = "1234"
JUKI_SIGN_PASSWORD = "JK12"
JUKI_PIN = "1234"


def _iso(t: _dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- keys
class KeyStore:
    """RSA test keys, generated once into a directory and reused afterwards.

    :param key_dir: where the PKCS#8 PEM files live.
    :param new_keys: regenerate every key used in this run (once per run).
    """

    def __init__(self, key_dir: Path, *, new_keys: bool = False) -> None:
        self.key_dir = Path(key_dir)
        self.new_keys = new_keys
        self._cache: dict[str, rsa.RSAPrivateKey] = {}
        self.generated: list[str] = []

    def path(self, name: str) -> Path:
        return self.key_dir / f"{name}.pem"

    def get(self, name: str, bits: int = 2048) -> rsa.RSAPrivateKey:
        """Load key ``name`` or generate it (RSA, e=65537).

        :raises ValueError: the stored key has another size than ``bits``.
        """
        if name in self._cache:
            return self._cache[name]
        path = self.path(name)
        key: rsa.RSAPrivateKey
        if path.exists() and not self.new_keys:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey) or loaded.key_size != bits:
                raise ValueError(f"stored test key {name} is not RSA-{bits}; use --new-keys")
            key = loaded
        else:
            log.info("generating RSA-%d test key %s", bits, name)
            key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pem(key))
            self.generated.append(name)
        self._cache[name] = key
        return key


def pem(key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted (test keys only)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


# --------------------------------------------------------------------------- small helpers
def tiny_png(gray: int = 0x80) -> bytes:
    """A valid 1×1 8-bit grayscale PNG (placeholder image)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    idat = zlib.compress(bytes([0, gray & 0xFF]), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def tiny_jp2() -> bytes:
    """A JPEG 2000 placeholder: JP2 signature box + file-type box (no codestream)."""
    sig = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
    ftyp = struct.pack(">I", 20) + b"ftyp" + b"jp2 " + b"\x00\x00\x00\x00" + b"jp2 "
    return sig + ftyp


def wareki(d: _dt.date) -> tuple[int, int]:
    """(era digit, year within era) with era digits 3 昭和, 4 平成, 5 令和 (1 明治, 2 大正)."""
    if d >= _dt.date(2019, 5, 1):
        return 5, d.year - 2018
    if d >= _dt.date(1989, 1, 8):
        return 4, d.year - 1988
    if d >= _dt.date(1926, 12, 25):
        return 3, d.year - 1925
    if d >= _dt.date(1912, 7, 30):
        return 2, d.year - 1911
    return 1, d.year - 1867


def wareki_yymmdd(d: _dt.date) -> str:
    """和暦 YYMMDD (e.g. 1985-07-15 → ``600715``, 昭和60年)."""
    return f"{wareki(d)[1]:02d}{d.month:02d}{d.day:02d}"


def nth_birthday_after(birth: _dt.date, start: _dt.date, n: int) -> _dt.date:
    """The n-th birthday strictly after ``start`` (birth day ≤ 28 assumed)."""
    first = birth.replace(year=start.year)
    if first <= start:
        first = first.replace(year=start.year + 1)
    return first.replace(year=first.year + n - 1)


def _end_of_day_jst(d: _dt.date) -> _dt.datetime:
    return _dt.datetime(d.year, d.month, d.day, 14, 59, 59, tzinfo=UTC)


def _name(*attrs: tuple[Any, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])


def ca_name(kind: str) -> x509.Name:
    """Subject of a test root (identical across generations, like the real roots)."""
    return _name(
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, "JPKI"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, CA_OU[kind]),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, JLIS_OU),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, TEST_MARKER),
    )


def sign_crl_dp_name(pref_en: str, city_en: str) -> x509.Name:
    """Municipal CRL distribution point DirName of sign certificates (§11.2)."""
    return _name(
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, "JPKI"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, CA_OU["sign"]),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, pref_en),
        (NameOID.COMMON_NAME, city_en),
    )


def auth_crl_dp_name() -> x509.Name:
    """CRL distribution point DirName of auth certificates (not public; our choice)."""
    return _name(
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, "JPKI"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, CA_OU["auth"]),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
    )


def _dp(name: x509.Name) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [x509.DistributionPoint([x509.DirectoryName(name)], None, None, None)]
    )


def _other_name(oid: str, text: str) -> x509.OtherName:
    return x509.OtherName(x509.ObjectIdentifier(oid), asn1core.UTF8String(text).dump())


# --------------------------------------------------------------------------- model
@dataclass
class CaInfo:
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


@dataclass
class Resident:
    """A synthetic card holder; all personal data is invented."""

    id: str
    profile: str
    card_type: str
    generation: str
    issued: _dt.datetime
    operator: bool = False
    sign_revoked: bool = False
    sign_bits: int = 2048
    has_auth: bool = True
    atr: str = ATR_DEFAULT
    # filled from the RNG
    name: str = ""
    address: str = ""
    place: tuple[str, str, str, str] = ("", "", "", "")
    birth: _dt.date = _dt.date(1970, 1, 1)
    sex: Sex = Sex.MALE
    my_number: str = ""
    security_code: str = ""
    card_expiry: _dt.date = _dt.date(1970, 1, 1)
    auth_cn: str = ""
    sign_cn: str = ""
    card_id: str = ""
    juki_code: str = ""
    certs: dict[str, x509.Certificate] = field(default_factory=dict)
    cert_paths: dict[str, str] = field(default_factory=dict)
    key_names: dict[str, str] = field(default_factory=dict)

    @property
    def collation_b(self) -> str:
        """照合番号B: 和暦 birth YYMMDD + card expiry year + 4-digit security code."""
        return wareki_yymmdd(self.birth) + f"{self.card_expiry.year:04d}" + self.security_code

    @property
    def birth_pin(self) -> str:
        """Visual-AP 生年月日読出用暗証番号: 和暦 birth YYMMDD."""
        return wareki_yymmdd(self.birth)


def _residents() -> list[Resident]:
    return [
        Resident("r1", "mynumber-01", "mynumber", "2023", ISSUANCE_DATE),
        Resident(
            "r2",
            "mynumber-02",
            "mynumber",
            "2023",
            ISSUANCE_DATE,
            sign_revoked=True,
            atr=ATR_EXTENDED,
        ),
        Resident("r3", "mynumber-03", "mynumber", "2015", _dt.datetime(2022, 6, 1, tzinfo=UTC)),
        Resident("operator", "mynumber-operator", "mynumber", "2019", ISSUANCE_DATE, operator=True),
        Resident(
            "juki1",
            "juki-01",
            "juki",
            "2019",
            _dt.datetime(2024, 4, 1, tzinfo=UTC),
            sign_bits=1024,
            has_auth=False,
        ),
    ]


def _fill_resident(res: Resident, rng: random.Random) -> None:
    res.sex = rng.choice([Sex.MALE, Sex.FEMALE])
    res.name = f"{rng.choice(FAMILY_NAMES)}\u3000{rng.choice(GIVEN_NAMES[res.sex])}"
    res.place = rng.choice(PLACES)
    res.address = (
        f"{res.place[0]}{res.place[1]}見本町{rng.randint(1, 9)}丁目"
        f"{rng.randint(1, 30)}番{rng.randint(1, 20)}号"
    )
    res.birth = _dt.date(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28))
    first11 = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(10))
    res.my_number = first11 + str(my_number_check_digit(first11))
    res.security_code = f"{rng.randint(0, 9999):04d}"
    res.card_expiry = nth_birthday_after(res.birth, res.issued.date(), 10)
    stamp = (
        res.issued.strftime("%Y%m%d")
        + f"{rng.randint(8, 17):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}"
    )
    res.sign_cn = f"{stamp}{rng.randint(0, 99999):05d}{rng.randint(0, 999999):06d}TST"
    res.auth_cn = "".join(str(rng.randint(0, 9)) for _ in range(16))
    res.card_id = "TC" + "".join(str(rng.randint(0, 9)) for _ in range(11))
    res.juki_code = "".join(str(rng.randint(0, 9)) for _ in range(11))


# --------------------------------------------------------------------------- generator
class _Gen:
    def __init__(self, out: Path, seed: int, keys: KeyStore) -> None:
        self.out = out
        self.pki = out / "pki"
        self.cards = out / "cards"
        self.rng = random.Random(seed)
        self.seed = seed
        self.keys = keys
        self.cas: dict[str, CaInfo] = {}
        self.files: list[dict[str, Any]] = []
        self.crls: list[dict[str, Any]] = []
        self.used_serials: set[int] = set()
        self.revoked: dict[str, list[tuple[int, _dt.datetime, x509.ReasonFlags | None]]] = {}
        self.dp_map: dict[str, list[str]] = {}
        self.cv: dict[str, CvCertificate] = {}
        self.cv_keys: dict[str, rsa.RSAPrivateKey] = {}

    # ------------------------------------------------------------------ output helpers
    def write(self, rel: str, data: bytes) -> str:
        path = self.pki / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return rel

    def key(self, name: str, bits: int = 2048) -> rsa.RSAPrivateKey:
        k = self.keys.get(name, bits)
        dest = self.pki / "keys" / f"{name}.pem"
        if dest.resolve() != self.keys.path(name).resolve():
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(pem(k))
        return k

    def serial(self, bits: int = 32) -> int:
        while True:
            s = self.rng.randrange(1 << (bits - 1), 1 << bits)
            if s not in self.used_serials:
                self.used_serials.add(s)
                return s

    def cert_entry(self, cert: x509.Certificate, path: str, role: str, **extra: Any) -> None:
        entry = {
            "path": path,
            "kind": "certificate",
            "role": role,
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "serial": cert.serial_number,
            "serial_hex": f"{cert.serial_number:X}",
            "not_before": _iso(cert.not_valid_before_utc),
            "not_after": _iso(cert.not_valid_after_utc),
            "key_bits": cert.public_key().key_size,  # type: ignore[union-attr]
            "sha256": hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
        }
        entry.update(extra)
        self.files.append(entry)

    # ------------------------------------------------------------------ CAs
    def make_cas(self) -> None:
        for kind in ("auth", "sign"):
            for gen, (nb, na) in GENERATIONS.items():
                cid = f"{kind}-{gen}"
                key_name = f"ca-{cid}"
                key = self.key(key_name)
                serial = 1 if gen == "2015" else self.serial(27)
                name = ca_name(kind)
                pub = key.public_key()
                san = x509.SubjectAlternativeName(
                    [
                        x509.DirectoryName(
                            _name(
                                (NameOID.COUNTRY_NAME, "JP"),
                                (NameOID.ORGANIZATION_NAME, "公的個人認証サービス"),
                            )
                        )
                    ]
                )
                cert = (
                    x509.CertificateBuilder()
                    .subject_name(name)
                    .issuer_name(name)
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
                    .add_extension(_dp(name), critical=False)
                    .sign(key, hashes.SHA256())
                )
                path = self.write(f"ca/{cid}.cer", cert.public_bytes(serialization.Encoding.DER))
                ca = CaInfo(cid, kind, gen, key_name, key, cert, path)
                self.cas[cid] = ca
                self.revoked[cid] = []
                self.cert_entry(
                    cert,
                    path,
                    f"{kind}-root",
                    id=cid,
                    generation=gen,
                    key=f"keys/{key_name}.pem",
                    issuer_cert=path,
                    expired=ca.expired,
                    revoked=False,
                    ski=x509.SubjectKeyIdentifier.from_public_key(pub).digest.hex(),
                )

    # ------------------------------------------------------------------ end entities
    def make_ee(self, res: Resident, kind: str) -> None:
        ca = self.cas[f"{kind}-{res.generation}"]
        key_name = f"ee-{res.id}-{kind}"
        bits = res.sign_bits if kind == "sign" else 2048
        key = self.key(key_name, bits)
        pub = key.public_key()
        if res.card_type == "juki":
            d = res.issued.date()
            not_after = _end_of_day_jst(d.replace(year=d.year + 3) - _dt.timedelta(days=1))
        else:
            not_after = _end_of_day_jst(nth_birthday_after(res.birth, res.issued.date(), 5))
        not_before = res.issued + _dt.timedelta(
            hours=self.rng.randint(0, 8), minutes=self.rng.randint(0, 59)
        )
        serial = self.serial(32)
        b = (
            x509.CertificateBuilder()
            .issuer_name(ca.cert.subject)
            .public_key(pub)
            .serial_number(serial)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                critical=False,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
        )
        if kind == "auth":
            attrs: list[tuple[Any, str]] = [(NameOID.COUNTRY_NAME, "JP")]
            if res.operator:
                attrs.append((NameOID.ORGANIZATIONAL_UNIT_NAME, OPERATOR_OU))
            attrs.append((NameOID.COMMON_NAME, res.auth_cn))
            dp_name = auth_crl_dp_name()
            b = (
                b.subject_name(_name(*attrs))
                .add_extension(
                    x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                    critical=True,
                )
                .add_extension(
                    x509.CertificatePolicies(
                        [x509.PolicyInformation(x509.ObjectIdentifier(OID.POLICY_AUTH), None)]
                    ),
                    critical=False,
                )
            )
        else:
            pref_ja, city_ja, pref_en, city_en = res.place
            era, _ = wareki(res.birth)
            dp_name = sign_crl_dp_name(pref_en, city_en)
            san = x509.SubjectAlternativeName(
                [
                    _other_name(OID.SAN_NAME, res.name),
                    _other_name(OID.SAN_NAME_SUBST, ""),
                    _other_name(OID.SAN_SEX, str(res.sex.value)),
                    _other_name(OID.SAN_BIRTH, f"{era}{res.birth.strftime('%Y%m%d')}"),
                    _other_name(OID.SAN_ADDRESS, res.address),
                    _other_name(OID.SAN_ADDRESS_SUBST, ""),
                ]
            )
            b = (
                b.subject_name(
                    _name(
                        (NameOID.COUNTRY_NAME, "JP"),
                        (NameOID.LOCALITY_NAME, pref_en),
                        (NameOID.LOCALITY_NAME, city_en),
                        (NameOID.COMMON_NAME, res.sign_cn),
                    )
                )
                .add_extension(
                    x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                    critical=True,
                )
                .add_extension(
                    x509.CertificatePolicies(
                        [x509.PolicyInformation(x509.ObjectIdentifier(OID.POLICY_SIGN), None)]
                    ),
                    critical=False,
                )
                .add_extension(san, critical=False)
            )
        b = b.add_extension(_dp(dp_name), critical=False)
        cert = b.sign(ca.key, hashes.SHA256())
        path = self.write(f"ee/{res.id}-{kind}.cer", cert.public_bytes(serialization.Encoding.DER))
        res.certs[kind] = cert
        res.cert_paths[kind] = path
        res.key_names[kind] = key_name
        dp = dp_name.rfc4514_string()
        revoked = kind == "sign" and res.sign_revoked
        revocation = None
        if revoked:
            self.revoked[ca.id].append(
                (serial, R2_REVOKED_AT, x509.ReasonFlags.affiliation_changed)
            )
            revocation = {
                "reason": "affiliationChanged",
                "revoked_at": _iso(R2_REVOKED_AT),
                "crl": f"crl/{ca.id}.crl",
            }
        self.cert_entry(
            cert,
            path,
            f"{kind}-ee",
            id=f"{res.id}-{kind}",
            resident=res.id,
            generation=res.generation,
            key=f"keys/{key_name}.pem",
            issuer_cert=ca.path,
            issuer_ca=ca.id,
            crl_dp=dp,
            operator=res.operator and kind == "auth",
            revoked=revoked,
            revocation=revocation,
        )
        targets = self.dp_map.setdefault(dp, [])
        if f"crl/{ca.id}.crl" not in targets:
            targets.append(f"crl/{ca.id}.crl")

    # ------------------------------------------------------------------ CRLs
    def _filler(
        self, ca_id: str, count: int, arl: bool = False
    ) -> list[tuple[int, _dt.datetime, x509.ReasonFlags | None]]:
        reasons: list[x509.ReasonFlags | None] = (
            [x509.ReasonFlags.ca_compromise]
            if arl
            else [
                x509.ReasonFlags.key_compromise,
                x509.ReasonFlags.superseded,
                x509.ReasonFlags.cessation_of_operation,
                None,
                x509.ReasonFlags.unspecified,
            ]
        )
        out = []
        start = ISSUANCE_DATE if not self.cas[ca_id].expired else GENERATIONS["2015"][0]
        for i in range(count):
            when = start + _dt.timedelta(seconds=self.rng.randint(0, 3600 * 24 * 300))
            out.append((self.serial(32), when, reasons[i % len(reasons)]))
        return out

    def _crl(
        self,
        ca: CaInfo,
        rel: str,
        role: str,
        number: int,
        this_update: _dt.datetime,
        next_update: _dt.datetime,
        entries: list[tuple[int, _dt.datetime, x509.ReasonFlags | None]],
        *,
        signer: rsa.RSAPrivateKey | None = None,
        signer_name: str | None = None,
        idp: x509.IssuingDistributionPoint | None = None,
        **extra: Any,
    ) -> None:
        b = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.cert.subject)
            .last_update(this_update)
            .next_update(next_update)
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                critical=False,
            )
        )
        if idp is not None:
            b = b.add_extension(idp, critical=True)
        for serial, when, reason in sorted(entries, key=lambda e: e[0]):
            rb = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
            if reason is not None:
                rb = rb.add_extension(x509.CRLReason(reason), critical=False)
            b = b.add_revoked_certificate(rb.build())
        crl = b.sign(signer or ca.key, hashes.SHA256())
        der = crl.public_bytes(serialization.Encoding.DER)
        self.write(rel, der)
        self.crls.append(
            {
                "path": rel,
                "kind": "crl",
                "role": role,
                "issuer": ca.cert.subject.rfc4514_string(),
                "issuer_ca": ca.id,
                "issuer_cert": ca.path,
                "crl_number": number,
                "this_update": _iso(this_update),
                "next_update": _iso(next_update),
                "signed_by": f"keys/{signer_name or ca.key_name}.pem",
                "revoked": [
                    {
                        "serial": s,
                        "serial_hex": f"{s:X}",
                        "revoked_at": _iso(w),
                        "reason": _reason_name(r),
                    }
                    for s, w, r in sorted(entries, key=lambda e: e[0])
                ],
                "sha256": hashlib.sha256(der).hexdigest(),
                **extra,
            }
        )

    def make_crls(self) -> None:
        wrong = self.key("crl-wrong-signer")
        for ca in self.cas.values():
            number = self.rng.randint(100, 9999)
            entries = self.revoked[ca.id] + self._filler(ca.id, 5)
            self._crl(
                ca,
                f"crl/{ca.id}.crl",
                "crl",
                number,
                CRL_THIS_UPDATE,
                CRL_NEXT_UPDATE,
                entries,
                scope="complete",
                stale=False,
                wrong_key=False,
                issuer_expired=ca.expired,
            )
            arl_idp = x509.IssuingDistributionPoint(
                full_name=[x509.DirectoryName(ca.cert.subject)],
                relative_name=None,
                only_contains_user_certs=False,
                only_contains_ca_certs=True,
                only_some_reasons=None,
                indirect_crl=False,
                only_contains_attribute_certs=False,
            )
            self._crl(
                ca,
                f"crl/{ca.id}-arl.crl",
                "arl",
                self.rng.randint(100, 9999),
                CRL_THIS_UPDATE,
                CRL_NEXT_UPDATE,
                self._filler(ca.id, 1, arl=True),
                idp=arl_idp,
                scope="ca-certs",
                stale=False,
                wrong_key=False,
                issuer_expired=ca.expired,
            )
            dp = ca.cert.subject.rfc4514_string()
            self.dp_map.setdefault(dp, []).append(f"crl/{ca.id}-arl.crl")
            if ca.id == "sign-2023":
                # Stale: nextUpdate already passed at REFERENCE_TIME; issued before the
                # revocation of r2's sign certificate, so it does not list it.
                stale_entries = [e for e in entries if e[1] < STALE_THIS_UPDATE]
                self._crl(
                    ca,
                    f"crl/{ca.id}-stale.crl",
                    "crl-stale",
                    number - 5,
                    STALE_THIS_UPDATE,
                    STALE_NEXT_UPDATE,
                    stale_entries,
                    scope="complete",
                    stale=True,
                    wrong_key=False,
                    issuer_expired=False,
                )
            if ca.id == "auth-2023":
                # Issuer name and AKI of auth-2023, signature by an unrelated key; its CRL
                # number is HIGHER than the genuine one so "pick the newest" picks it.
                self._crl(
                    ca,
                    f"crl/{ca.id}-wrongkey.crl",
                    "crl-wrong-key",
                    number + 1,
                    CRL_THIS_UPDATE,
                    CRL_NEXT_UPDATE,
                    self.revoked[ca.id],
                    signer=wrong,
                    signer_name="crl-wrong-signer",
                    scope="complete",
                    stale=False,
                    wrong_key=True,
                    issuer_expired=False,
                )

    # ------------------------------------------------------------------ CV / text AP
    def make_cv(self) -> None:
        root_key = self.key("cv-jlis-root")
        ids = {
            "jlis-root": b"9990000" + b"\x08\x05" + b"000" + b"\x00" * 4,
            "text-ap": b"9990033" + b"\x08\x05" + b"001" + b"\x00" * 4,
            "visual-ap": b"9990034" + b"\x08\x05" + b"001" + b"\x00" * 4,
        }
        self.cv_keys["jlis-root"] = root_key
        self.cv["jlis-root"] = CvCertificate.create(
            ids["jlis-root"], ids["jlis-root"], root_key.public_key(), root_key
        )
        for name in ("text-ap", "visual-ap"):
            k = self.key(f"cv-{name}")
            self.cv_keys[name] = k
            self.cv[name] = CvCertificate.create(
                ids["jlis-root"], ids[name], k.public_key(), root_key
            )
        for name, cv in self.cv.items():
            rel = self.write(f"cv/{name}.cvc", bytes(cv))
            self.files.append(
                {
                    "path": rel,
                    "kind": "cv-certificate",
                    "role": f"cv-{name}",
                    "car": cv.car.hex(),
                    "chr": cv.chr.hex(),
                    "key": f"keys/cv-{name}.pem",
                    "issuer": "cv/jlis-root.cvc",
                    "self_issued": cv.is_self_issued,
                    "sha256": hashlib.sha256(bytes(cv)).hexdigest(),
                }
            )

    # ------------------------------------------------------------------ card profiles
    def text_ap(self, res: Resident) -> dict[str, Any]:
        mn = bytes(MyNumber(res.my_number))
        bi = bytes(BasicInfo(res.name, res.address, res.birth, res.sex))
        sig = bytes(TextApSignature.create(mn, bi, self.cv_keys["text-ap"]))
        ap_info = bytes(ApBasicInfo(b"\x01\x00\x00\x01", self.cv["text-ap"].chr))
        return {
            "name": "text",
            "aid": AID.TEXT,
            "files": [
                _bin(_fid(TextEf.MY_NUMBER), mn, _any_of(TextPin.PIN, TextPin.MATCH_A)),
                _bin(_fid(TextEf.BASIC_INFO), bi, _any_of(TextPin.PIN, TextPin.MATCH_B)),
                _bin(_fid(TextEf.SIGNATURE), sig, _any_of(*TextPin)),
                _bin(_fid(TextEf.CV_CERTIFICATE), bytes(self.cv["text-ap"]), "always"),
                _bin(_fid(TextEf.AP_BASIC_INFO), ap_info, "always"),
                _pin(TextPin.PIN.spec, TEXT_PIN),
                _pin(TextPin.MATCH_A.spec, res.my_number),
                _pin(TextPin.MATCH_B.spec, res.collation_b),
            ],
        }

    def visual_ap(self, res: Resident) -> dict[str, Any]:
        vkey = self.cv_keys["visual-ap"]
        spki = vkey.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        birth8 = res.birth.strftime("%Y%m%d")
        vb = VisualBirth(birth8, spki, b"")
        vb = VisualBirth(birth8, spki, _sign(vkey, vb.signed_part()))
        ve = VisualEntries(
            birth=birth8,
            sex=res.sex,
            public_key=spki,
            name_png=tiny_png(0x10),
            address_png=tiny_png(0x20),
            photo=tiny_jp2(),
            signature=b"",
            expiry=res.card_expiry.strftime("%Y%m%d"),
            security_code_png=tiny_png(0x30),
        )
        ve = VisualEntries(
            birth=ve.birth,
            sex=ve.sex,
            public_key=ve.public_key,
            name_png=ve.name_png,
            address_png=ve.address_png,
            photo=ve.photo,
            signature=_sign(vkey, ve.signed_part()),
            expiry=ve.expiry,
            security_code_png=ve.security_code_png,
        )
        city = res.place[1].encode("utf-8")
        info = (
            b"\xff\x40"
            + bytes([3 + 4 + 3 + 16 + 3 + 1 + 3 + len(city)])
            + b"\xdf\x41\x04\x00\x00\x00\x01"
            + b"\xdf\x42\x10"
            + self.cv["visual-ap"].chr
            + b"\xdf\x43\x01\x01"
            + b"\xdf\x44"
            + bytes([len(city)])
            + city
        ).ljust(256, b"\xff")
        return {
            "name": "visual",
            "aid": AID.VISUAL,
            "files": [
                _bin(_fid(VisualEf.BIRTH), bytes(vb), _any_of(VisualPin.BIRTH)),
                _bin(_fid(VisualEf.ENTRIES), bytes(ve),
                     _any_of(VisualPin.MATCH_A, VisualPin.MATCH_B)),
                _bin(_fid(VisualEf.AP_BASIC_INFO), info, "always"),
                _bin(_fid(VisualEf.CV_CERTIFICATE), bytes(self.cv["visual-ap"]), "always"),
                _pin(VisualPin.BIRTH.spec, res.birth_pin),
                _pin(VisualPin.MATCH_B.spec, res.collation_b),
                _pin(VisualPin.MATCH_A.spec, res.my_number),
            ],
        }

    def jpki_ap(self, res: Resident) -> dict[str, Any]:
        der = serialization.Encoding.DER
        sign_ca = self.cas[f"sign-{res.generation}"]
        files = [
            _bin(_fid(JpkiCert.SIGN.spec.ef), res.certs["sign"].public_bytes(der),
                 _any_of(JpkiPin.SIGN)),
            _bin(_fid(JpkiCert.SIGN_CA.spec.ef), sign_ca.cert.public_bytes(der), "always"),
        ]
        if res.has_auth:
            auth_ca = self.cas[f"auth-{res.generation}"]
            files += [
                _bin(_fid(JpkiCert.AUTH.spec.ef), res.certs["auth"].public_bytes(der), "always"),
                _bin(_fid(JpkiCert.AUTH_CA.spec.ef), auth_ca.cert.public_bytes(der), "always"),
            ]
        token = JUKI_TOKEN if res.card_type == "juki" else MYNUMBER_TOKEN
        files.append(_bin(_fid(TOKEN_EF), bytes(TokenInfo(token)), "always"))
        if res.has_auth:
            files += [
                _key(JpkiKey.AUTH.spec.ef, self.keys.get(res.key_names["auth"]),
                     JpkiPin.AUTH.spec),
                _pin(JpkiPin.AUTH.spec, AUTH_PIN),
            ]
        if res.card_type == "juki":
            files += [
                _key(JukiJpkiKey.SIGN.spec.ef,
                     self.keys.get(res.key_names["sign"], JukiJpkiKey.SIGN.spec.bits),
                     JukiJpkiPin.SIGN.spec),
                _pin(JukiJpkiPin.SIGN.spec, JUKI_SIGN_PASSWORD),
            ]
        else:
            files += [
                _key(JpkiKey.SIGN.spec.ef, self.keys.get(res.key_names["sign"]),
                     JpkiPin.SIGN.spec),
                _pin(JpkiPin.SIGN.spec, SIGN_PASSWORD),
            ]
        return {"name": "jpki", "aid": AID.JPKI, "files": files}

    def profile(self, res: Resident, name: str, *, extended: bool, atr: str) -> dict[str, Any]:
        apps = [self.jpki_ap(res)]
        if res.card_type == "mynumber":
            apps += [
                self.text_ap(res),
                self.visual_ap(res),
                {
                    "name": "common",
                    "aid": AID.COMMON,
                    "files": [
                        {
                            "fid": _fid(CommonEf.CARD_ID),
                            "kind": "record",
                            "records": [bytes(CommonCardId(res.card_id)).hex().upper()],
                            "read": "always",
                        }
                    ],
                },
            ]
            desc = (
                f"jukicard TEST card for synthetic resident {res.id}: keys, certificates "
                "and personal data are synthetic test material. JPKI certificates from "
                f"the {res.generation} test CA generation."
            )
        else:
            apps.append(
                {
                    "name": "juki",
                    "aid": AID.JUKI,
                    "files": [
                        _pin(JukiPin.PIN.spec, JUKI_PIN),
                        _bin(_fid(JukiEf.RESIDENT_CODE), res.juki_code.encode("ascii"),
                             _any_of(JukiPin.PIN)),
                    ],
                }
            )
            desc = (
                "jukicard TEST 住基カード for synthetic resident juki1: keys, certificates "
                "and data are synthetic test material. JPKI sign side only (RSA-1024). "
                "The 住基AP (AID ...0401, PIN 001C, EF 0001 = 11-digit 住民票コード) is an "
                "UNVERIFIED LAYOUT (not public)."
            )
        if res.operator:
            desc += " Operator (staff) card: auth certificate subject has OU=jukicard operator."
        if not extended:
            desc += " Short APDUs only (extended_length false)."
        return {
            "format": PROFILE_FORMAT,
            "name": name,
            "description": desc,
            "card_type": res.card_type,
            "atr": atr,
            "extended_length": extended,
            "applications": apps,
        }

    def write_profile(self, prof: dict[str, Any]) -> str:
        self.cards.mkdir(parents=True, exist_ok=True)
        rel = f"{prof['name']}.json"
        (self.cards / rel).write_text(_dumps(prof), encoding="utf-8")
        return rel


def _reason_name(r: x509.ReasonFlags | None) -> str | None:
    if r is None:
        return None
    return {
        x509.ReasonFlags.unspecified: "unspecified",
        x509.ReasonFlags.key_compromise: "keyCompromise",
        x509.ReasonFlags.ca_compromise: "cACompromise",
        x509.ReasonFlags.affiliation_changed: "affiliationChanged",
        x509.ReasonFlags.superseded: "superseded",
        x509.ReasonFlags.cessation_of_operation: "cessationOfOperation",
        x509.ReasonFlags.certificate_hold: "certificateHold",
    }.get(r, r.value)


def _sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _bin(fid: str, data: bytes, read: Any) -> dict[str, Any]:
    return {"fid": fid, "kind": "binary", "data": data.hex().upper(), "read": read}


def _fid(ef: int) -> str:
    return f"{ef:04X}"


def _any_of(*pins: Any) -> dict[str, Any]:
    """Access condition: any of these PINs (enum members of jukicard.apdu.apps)."""
    return {"any_of": [_fid(p.value.ef) for p in pins]}


def _pin(spec: PinSpec, value: str) -> dict[str, Any]:
    tries = spec.max_tries if spec.max_tries is not None else 3
    return {
        "fid": _fid(spec.ef),
        "kind": "pin",
        "value": value,
        "min_len": spec.min_len,
        "max_len": spec.max_len,
        "max_tries": tries,
        "tries_left": tries,
    }


def _key(ef: int, key: rsa.RSAPrivateKey, pin: PinSpec) -> dict[str, Any]:
    return {
        "fid": _fid(ef),
        "kind": "rsa_key",
        "private_key_pem": pem(key).decode("ascii"),
        "use": {"any_of": [_fid(pin.ef)]},
    }


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


def _cases(g: _Gen, residents: dict[str, Resident]) -> list[dict[str, Any]]:
    """Validation cases for the CRL validator (outcome names match jukicard.errors)."""
    at = _iso(REFERENCE_TIME)

    def case(
        cid: str,
        leaf: str,
        anchor: str,
        crls: list[str],
        expected: str,
        error: str | None,
        reason: str,
        when: str = at,
    ) -> dict[str, Any]:
        return {
            "id": cid,
            "leaf": leaf,
            "anchor": anchor,
            "crls": crls,
            "at": when,
            "expected": expected,
            "error": error,
            "reason": reason,
        }

    return [
        case(
            "r1-auth-valid",
            "ee/r1-auth.cer",
            "ca/auth-2023.cer",
            ["crl/auth-2023.crl"],
            "valid",
            None,
            "current auth cert, fresh CRL without it",
        ),
        case(
            "r1-sign-valid",
            "ee/r1-sign.cer",
            "ca/sign-2023.cer",
            ["crl/sign-2023.crl"],
            "valid",
            None,
            "current sign cert, fresh CRL without it",
        ),
        case(
            "r2-auth-valid",
            "ee/r2-auth.cer",
            "ca/auth-2023.cer",
            ["crl/auth-2023.crl"],
            "valid",
            None,
            "auth cert stays valid when the sign cert is revoked",
        ),
        case(
            "r2-sign-revoked",
            "ee/r2-sign.cer",
            "ca/sign-2023.cer",
            ["crl/sign-2023.crl"],
            "revoked",
            "RevokedError",
            "listed affiliationChanged at 2026-05-10T03:00:00Z",
        ),
        case(
            "r2-sign-before-revocation",
            "ee/r2-sign.cer",
            "ca/sign-2023.cer",
            ["crl/sign-2023-stale.crl"],
            "valid",
            None,
            "at 2026-04-30 the stale CRL is still current and does not list the cert",
            when="2026-04-30T00:00:00Z",
        ),
        case(
            "r1-sign-stale-crl-only",
            "ee/r1-sign.cer",
            "ca/sign-2023.cer",
            ["crl/sign-2023-stale.crl"],
            "indeterminate",
            "IndeterminateError",
            "only CRL is past its nextUpdate",
        ),
        case(
            "r2-sign-stale-crl-only",
            "ee/r2-sign.cer",
            "ca/sign-2023.cer",
            ["crl/sign-2023-stale.crl"],
            "indeterminate",
            "IndeterminateError",
            "stale CRL does not list the revocation: must not pass as valid",
        ),
        case(
            "r1-auth-wrong-key-crl",
            "ee/r1-auth.cer",
            "ca/auth-2023.cer",
            ["crl/auth-2023-wrongkey.crl"],
            "indeterminate",
            "IndeterminateError",
            "only CRL has the right issuer name/AKI but a signature by another key",
        ),
        case(
            "r1-auth-wrong-key-and-good-crl",
            "ee/r1-auth.cer",
            "ca/auth-2023.cer",
            ["crl/auth-2023-wrongkey.crl", "crl/auth-2023.crl"],
            "valid",
            None,
            "the forged CRL (higher CRL number) must be ignored, the genuine one used",
        ),
        case(
            "r1-auth-no-crl",
            "ee/r1-auth.cer",
            "ca/auth-2023.cer",
            [],
            "indeterminate",
            "IndeterminateError",
            "no revocation data under a CRL-required policy",
        ),
        case(
            "r1-auth-wrong-generation-anchor",
            "ee/r1-auth.cer",
            "ca/auth-2019.cer",
            ["crl/auth-2019.crl"],
            "invalid",
            "ValidationError",
            "same anchor name, different key: signature/AKI mismatch",
        ),
        case(
            "r1-auth-expired-later",
            "ee/r1-auth.cer",
            "ca/auth-2023.cer",
            ["crl/auth-2023.crl"],
            "expired",
            "ExpiredError",
            "validated after the cert's notAfter",
            when=_iso(residents["r1"].certs["auth"].not_valid_after_utc + _dt.timedelta(days=1)),
        ),
        case(
            "r3-auth-ca-expired",
            "ee/r3-auth.cer",
            "ca/auth-2015.cer",
            ["crl/auth-2015.crl"],
            "expired",
            "ExpiredError",
            "issued by the 2015 generation, whose root expired 2025-10-19",
        ),
        case(
            "r3-sign-ca-expired",
            "ee/r3-sign.cer",
            "ca/sign-2015.cer",
            ["crl/sign-2015.crl"],
            "expired",
            "ExpiredError",
            "issued by the 2015 generation, whose root expired 2025-10-19",
        ),
        case(
            "operator-auth-valid",
            "ee/operator-auth.cer",
            "ca/auth-2019.cer",
            ["crl/auth-2019.crl"],
            "valid",
            None,
            "operator card, 2019 generation",
        ),
        case(
            "juki1-sign-rsa1024",
            "ee/juki1-sign.cer",
            "ca/sign-2019.cer",
            ["crl/sign-2019.crl"],
            "invalid",
            "ValidationError",
            "RSA-1024 end-entity key: rejected by a policy requiring RSA >= 2048 "
            "(otherwise valid: dates and CRL are fine)",
        ),
    ]


# --------------------------------------------------------------------------- entry points
def generate(
    out: Path | str,
    seed: int = DEFAULT_SEED,
    *,
    key_dir: Path | str | None = None,
    new_keys: bool = False,
) -> dict[str, Any]:
    """Generate the test PKI, card data and card profiles under ``out``.

    :param out: output root (``pki/`` and ``cards/`` are created below it).
    :param seed: seed of the ``random.Random`` behind every non-key choice.
    :param key_dir: where test keys are loaded from / generated into
        (default ``<out>/pki/keys``); keys used are always copied to ``<out>/pki/keys``.
    :param new_keys: regenerate all keys.
    :returns: the manifest (also written to ``<out>/pki/manifest.json``).
    """
    out = Path(out)
    kd = Path(key_dir) if key_dir is not None else out / "pki" / "keys"
    keys = KeyStore(kd, new_keys=new_keys)
    g = _Gen(out, seed, keys)
    for sub in ("ca", "ee", "crl", "cv"):
        shutil.rmtree(g.pki / sub, ignore_errors=True)
    g.make_cas()
    residents = _residents()
    for res in residents:
        _fill_resident(res, g.rng)
        if res.has_auth:
            g.make_ee(res, "auth")
        g.make_ee(res, "sign")
    g.make_crls()
    g.make_cv()

    by_id = {r.id: r for r in residents}
    profiles: list[dict[str, Any]] = []
    for res in residents:
        prof = g.profile(res, res.profile, extended=True, atr=res.atr)
        profiles.append(
            {
                "path": f"cards/{g.write_profile(prof)}",
                "resident": res.id,
                "atr": res.atr,
                "extended_length": True,
            }
        )
    short = g.profile(by_id["r1"], "mynumber-short", extended=False, atr=ATR_DEFAULT)
    profiles.append(
        {
            "path": f"cards/{g.write_profile(short)}",
            "resident": "r1",
            "atr": ATR_DEFAULT,
            "extended_length": False,
        }
    )

    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "description": "jukicard TEST PKI: every key, certificate, CRL and personal datum is "
        "synthetic test material generated by jukicard.testing.pkigen.",
        "generator": "python -m jukicard.testing.pkigen",
        "seed": seed,
        "reference_time": _iso(REFERENCE_TIME),
        "notes": [
            "Paths are relative to the pki/ folder, except card profile paths (relative "
            "to the vectors/ folder).",
            "Root generations of one kind share the SAME subject DN (as the real JPKI "
            "roots do); tell them apart by SKI/AKI and signature.",
            "Names are given as RFC 4514 strings (most specific RDN first).",
            "crl_dp_map maps a CRL distribution point DirName to candidate CRL files; "
            "several generations can share one DirName.",
        ],
        "files": g.files,
        "crls": g.crls,
        "crl_dp_map": g.dp_map,
        "residents": [_resident_entry(r) for r in residents],
        "cards": profiles,
        "cases": _cases(g, by_id),
    }
    (g.pki / "manifest.json").write_text(_dumps(manifest), encoding="utf-8")
    _write_readmes(g, residents)
    if keys.generated:
        log.info("generated %d new test keys in %s", len(keys.generated), kd)
    return manifest


_PKI_README = """\
# vectors/pki: jukicard TEST PKI (generated, synthetic)

**Everything here is synthetic TEST material** written by `python -m jukicard.testing.pkigen`
(`jukicard/testing/pkigen.py`, seed {seed}).  The private keys in `keys/` are TEST keys that
are public in this repository: never trust them for anything.  No real J-LIS certificate,
key or personal datum is included.  Do not edit by hand: re-run the generator (it reuses the
keys in `keys/`; `--new-keys` regenerates them).  `tests/unit/test_pkigen.py` fails if these
files are not exactly what the generator writes.

Reference validation time for tests: **{ref}** (fixed; nothing uses `now()`).

| path | what |
|---|---|
{table}

Residents: r1 (valid, 2023 generation), r2 (sign cert revoked), r3 (issued by the expired 2015
generation; its own certs are still inside their validity), operator (staff card, 2019
generation), juki1 (住基カード: RSA-1024 sign cert only, 2019 generation; valid dates so that
the key size is the only defect).
"""

_PKI_TABLE: list[tuple[str, str]] = [
    (
        "ca/{auth,sign}-{2015,2019,2023}.cer",
        "self-signed roots shaped like the JPKI roots (card-interface §11.1): subject "
        "`C=JP, O=JPKI, OU=JPKI for user authentication|digital signature, OU=Japan Agency "
        "for Local Authority Information Systems, OU=jukicard TEST`, RSA-2048, sha256WithRSA, "
        "keyUsage critical {keyCertSign, cRLSign}, basicConstraints critical CA, SKI, SAN "
        "DirName, CRL DP = DirName of the CA itself. **The generations of one kind share one "
        "subject DN** (like the real 2015/2023 roots): tell them apart by SKI/AKI. The 2015 "
        "generation **expired** 2025-10-19T14:59:59Z.",
    ),
    (
        "ee/<resident>-{auth,sign}.cer",
        "end-entity certificates (§11.2): auth `C=JP, CN=<opaque>` (operator: `C=JP, "
        "OU=jukicard operator, CN=<opaque>`), KU critical digitalSignature, policy "
        "1.2.392.200149.8.5.1.3.30; sign `C=JP, L=<pref>, L=<city>, CN=<opaque>`, KU critical "
        "digitalSignature+nonRepudiation, policy 1.2.392.200149.8.5.1.1.20, SAN otherNames "
        "1.2.392.200149.8.5.5.1..6 (UTF8String), CRL DP DirName `…, OU=CRL Distribution "
        "Points, OU=<pref>, CN=<city>`; AKI + SKI.",
    ),
    (
        "crl/<ca>.crl",
        "complete CRL per CA generation (thisUpdate 2026-05-31, nextUpdate 2026-06-07, CRL "
        "number, AKI, a few filler entries). `sign-2023.crl` revokes r2's sign cert "
        "(affiliationChanged, 2026-05-10T03:00:00Z).",
    ),
    (
        "crl/<ca>-arl.crl",
        "ARL per root (critical IDP: fullName = the CA DirName, onlyContainsCACerts).",
    ),
    (
        "crl/sign-2023-stale.crl",
        "genuine but **stale** CRL (nextUpdate 2026-05-01), issued before r2's revocation.",
    ),
    (
        "crl/auth-2023-wrongkey.crl",
        "issuer name and AKI of auth-2023 but **signed by another key** "
        "(`keys/crl-wrong-signer.pem`), with a higher CRL number than the genuine one.",
    ),
    (
        "cv/*.cvc",
        'test "J-LIS" CV certificates (`7F 21`, §8.4): `jlis-root` (self-issued), `text-ap` '
        "and `visual-ap` (CAR = jlis-root).",
    ),
    ("keys/*.pem", "PKCS#8 PEM RSA TEST keys (unencrypted). `ee-juki1-sign` is RSA-1024."),
    (
        "manifest.json",
        "every file with role, subject/issuer (RFC 4514), serial, validity, key, issuer, "
        "revoked or not, SHA-256; the CRL list; `crl_dp_map` (DP DirName → candidate CRL "
        "files); `residents` (synthetic personal data and PINs); `cards`; `cases` "
        "(validation cases with expected outcome and error class).",
    ),
]

_CARDS_README = """\
# vectors/cards: emulator card profiles (generated, synthetic)

Format `jukicard-card-profile/1` (schema in `jukicard/emulator/profile.py`).  Written by
`python -m jukicard.testing.pkigen` together with `vectors/pki/`; do not edit by hand.
**All keys, certificates, numbers, names, addresses and PINs are synthetic TEST values.**
`vectors/pki/manifest.json` (`residents`) has the same data in machine-readable form.

Common PIN values: JPKI auth PIN `0018` = `{auth}`, JPKI sign password `001B` = `{sign}`
(My Number cards), text-AP PIN `0011` = `{text}`.  照合番号A = the card's My Number.
照合番号B = 和暦 birth YYMMDD + card expiry year + 4-digit security code.  Visual-AP birth
PIN `0011` = 和暦 birth YYMMDD.  Tries: auth 3, sign 5, text PIN 3, 照合番号A/B 10, birth
PIN 3, 住基 PIN 3.

| profile | holder | ATR | ext. | My Number | 照合番号B | birth PIN | notes |
|---|---|---|---|---|---|---|---|
{rows}

`juki-01` (住基カード): JPKI token `JPKIAPICCTOKEN`, sign cert/CA/key (RSA-1024) and
password `001B` = `{juki_sign}` (4–16 chars, 5 tries) only; 住基AP at `D3921000310001010401`
with PIN `001C` = `{juki_pin}` (4 digits, 3 tries) and EF `0001` = the 11-digit 住民票コード
`{juki_code}` (readable after `001C`) — **unverified layout**, the real 住基AP is not public.

Applications on the My Number profiles: JPKI AP (`0001` sign cert [001B], `0002` sign CA,
`000A` auth cert, `000B` auth CA, `0006` token 32 B space-padded, `0017` auth key [0018],
`001A` sign key [001B]); text AP `D3921000310001010408` (`0001` My Number [0011|0014],
`0002` 基本4情報 [0011|0015], `0003` signature EF [0011|0014|0015], `0004` CV cert, `0005` AP
basic info); visual AP `D3921000310001010402` (`0001` birth [0011], `0002` entries
[0013|0012], `0003` AP info, `0004` CV cert; tiny placeholder PNG/JP2 images; the `DF 28`
signature covers items DF22..DF27 with the visual CV key — a jukicard test rule); common DF
`D3921000310001010100` (record EF `0001`, card id).
"""


def _write_readmes(g: _Gen, residents: list[Resident]) -> None:
    (g.pki / "README.md").write_text(
        _PKI_README.format(
            seed=g.seed,
            ref=_iso(REFERENCE_TIME),
            table="\n".join(f"| `{p}` | {w} |" for p, w in _PKI_TABLE),
        ),
        encoding="utf-8",
    )
    rows = []
    prof_rows = [(r.profile, r, r.atr, True) for r in residents if r.card_type == "mynumber"]
    r1 = next(r for r in residents if r.id == "r1")
    prof_rows.append(("mynumber-short", r1, ATR_DEFAULT, False))
    notes = {
        "r1": "valid certs (2023 CA)",
        "r2": "sign cert REVOKED; ATR advertises extended length",
        "r3": "certs from the EXPIRED 2015 CA",
        "operator": "staff card, auth OU=jukicard operator (2019 CA)",
    }
    for name, r, atr, ext in prof_rows:
        note = "r1's card, short APDUs only" if name == "mynumber-short" else notes.get(r.id, "")
        rows.append(
            f"| `{name}` | {r.id} | `{atr}` | {'yes' if ext else 'no'} | `{r.my_number}` "
            f"| `{r.collation_b}` | `{r.birth_pin}` | {note} |"
        )
    juki = next(r for r in residents if r.card_type == "juki")
    g.cards.mkdir(parents=True, exist_ok=True)
    (g.cards / "README.md").write_text(
        _CARDS_README.format(
            auth=AUTH_PIN,
            sign=SIGN_PASSWORD,
            text=TEXT_PIN,
            rows="\n".join(rows),
            juki_sign=JUKI_SIGN_PASSWORD,
            juki_pin=JUKI_PIN,
            juki_code=juki.juki_code,
        ),
        encoding="utf-8",
    )


def _resident_entry(r: Resident) -> dict[str, Any]:
    """Synthetic data of one test resident (tests compare card reads against this)."""
    entry: dict[str, Any] = {
        "id": r.id,
        "profile": f"cards/{r.profile}.json",
        "card_type": r.card_type,
        "generation": r.generation,
        "operator": r.operator,
        "certs": dict(r.cert_paths),
        "keys": {k: f"keys/{v}.pem" for k, v in r.key_names.items()},
    }
    if r.card_type == "mynumber":
        entry.update(
            {
                "my_number": r.my_number,
                "name": r.name,
                "address": r.address,
                "birth": r.birth.isoformat(),
                "sex": r.sex.value,
                "card_expiry": r.card_expiry.isoformat(),
                "card_id": r.card_id,
                "pins": {
                    "jpki_auth_0018": AUTH_PIN,
                    "jpki_sign_001B": SIGN_PASSWORD,
                    "text_0011": TEXT_PIN,
                    "text_collation_a_0014": r.my_number,
                    "text_collation_b_0015": r.collation_b,
                    "visual_birth_0011": r.birth_pin,
                    "visual_collation_b_0012": r.collation_b,
                    "visual_collation_a_0013": r.my_number,
                },
            }
        )
    else:
        entry.update(
            {
                "juki_code": r.juki_code,
                "pins": {"jpki_sign_001B": JUKI_SIGN_PASSWORD, "juki_001C": JUKI_PIN},
            }
        )
    return entry


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(
        prog="python -m jukicard.testing.pkigen",
        description="Generate the jukicard test PKI and card profiles.",
    )
    p.add_argument("--out", default="vectors", help="output root (default: vectors)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="RNG seed")
    p.add_argument("--key-dir", default=None, help="key directory (default: <out>/pki/keys)")
    p.add_argument("--new-keys", action="store_true", help="regenerate all test keys")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    m = generate(args.out, args.seed, key_dir=args.key_dir, new_keys=args.new_keys)
    print(
        f"wrote {len(m['files'])} certificates/CV certs, {len(m['crls'])} CRLs, "
        f"{len(m['cards'])} card profiles under {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
