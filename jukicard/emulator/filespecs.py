"""The files of an emulated card profile: access conditions and the four file kinds.

File kinds (JSON ``"kind"``): ``binary`` (``data`` hex, optional ``size`` + ``pad`` to pad the
data to a fixed size), ``record`` (``records``: list of hex), ``pin`` (``value`` ASCII,
``min_len``, ``max_len``, ``max_tries``, optional ``tries_left``) and ``rsa_key``
(``private_key_pem``, PKCS#8 or traditional, unencrypted).  Access conditions (``read`` on
data files, ``use`` on keys): ``"always"``, ``"never"`` or ``{"any_of": ["<PIN fid>", ...]}``.

Parsed strictly: anything wrong raises :class:`ProfileError`.  A PIN file of an application
jukicard knows carries that PIN's facts (:class:`jukicard.apdu.apps.PinSpec`) as its
``format`` (see :class:`PinFileSpec`).

NOTE: profiles hold synthetic test keys and PINs only.  ``repr`` never shows PIN values or
key material.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.apdu.apps import PinSpec
from jukicard.errors import JukiError

__all__ = [
    "ProfileError",
    "AccessCondition",
    "BinaryFileSpec",
    "RecordFileSpec",
    "PinFileSpec",
    "RsaKeySpec",
    "ProtocolKeySpec",
    "FileSpec",
    "KINDS",
    "json_require",
    "json_hex",
    "json_int",
    "json_fid",
]

_MAX_TRIES_LIMIT = 15  # the tries left must fit the low nibble of 63 Cx


class ProfileError(JukiError):
    """A card profile is missing or malformed (bad hex, unknown kind, duplicate FID...)."""


# --------------------------------------------------------------------------- helpers
def json_require(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise ProfileError(f"{where}: missing key {key!r}")
    return obj[key]


def json_hex(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise ProfileError(f"{where}: expected a hex string, got {type(value).__name__}")
    text = "".join(value.split())
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ProfileError(f"{where}: not valid hex") from None


def json_int(value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProfileError(f"{where}: expected an integer")
    if not lo <= value <= hi:
        raise ProfileError(f"{where}: {value} is outside {lo}..{hi}")
    return value


def json_fid(value: Any, where: str) -> int:
    raw = json_hex(value, where)
    if len(raw) != 2:
        raise ProfileError(f"{where}: a file id is 2 bytes (4 hex digits)")
    fid = int.from_bytes(raw, "big")
    if fid in (0x3F00, 0xFFFF):
        raise ProfileError(f"{where}: file id {fid:04X} is reserved")
    return fid


# --------------------------------------------------------------------------- access
@dataclass(frozen=True)
class AccessCondition:
    """Who may read an EF or use a key.

    :param mode: ``"always"``, ``"never"`` or ``"any_of"``.
    :param pins: for ``any_of``: FIDs of PIN IEFs of the same application; any one of them
        verified satisfies the condition.
    """

    mode: str
    pins: tuple[int, ...] = ()

    ALWAYS: ClassVar[AccessCondition]
    NEVER: ClassVar[AccessCondition]

    def __post_init__(self) -> None:
        if self.mode not in ("always", "never", "any_of"):
            raise ProfileError(f"unknown access condition {self.mode!r}")
        if (self.mode == "any_of") != bool(self.pins):
            raise ProfileError("an any_of access condition needs at least one PIN")

    @classmethod
    def parse(cls, obj: Any, where: str = "access condition") -> AccessCondition:
        """Parse the JSON form (``"always"``, ``"never"``, ``{"any_of": [...]}``).

        :raises ProfileError: on anything else.
        """
        if obj == "always":
            return cls.ALWAYS
        if obj == "never":
            return cls.NEVER
        if isinstance(obj, Mapping) and set(obj) == {"any_of"}:
            pins = obj["any_of"]
            if not isinstance(pins, list) or not pins:
                raise ProfileError(f"{where}: any_of needs a non-empty list of PIN fids")
            fids = tuple(json_fid(p, f"{where}.any_of[{i}]") for i, p in enumerate(pins))
            return cls("any_of", fids)
        raise ProfileError(f"{where}: expected \"always\", \"never\" or {{\"any_of\": [...]}}")

    def to_json(self) -> Any:
        if self.mode == "any_of":
            return {"any_of": [f"{p:04X}" for p in self.pins]}
        return self.mode

    def satisfied_by(self, verified: Collection[int]) -> bool:
        """True if the condition holds given the FIDs of the verified PINs."""
        if self.mode == "always":
            return True
        if self.mode == "never":
            return False
        return any(p in verified for p in self.pins)


AccessCondition.ALWAYS = AccessCondition("always")
AccessCondition.NEVER = AccessCondition("never")


# --------------------------------------------------------------------------- file specs
@dataclass(frozen=True)
class BinaryFileSpec:
    """A transparent EF."""

    kind: ClassVar[str] = "binary"
    fid: int
    data: bytes = field(repr=False)
    read: AccessCondition = AccessCondition.ALWAYS

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], where: str) -> BinaryFileSpec:
        data = json_hex(json_require(obj, "data", where), f"{where}.data")
        if "size" in obj:
            size = json_int(obj["size"], f"{where}.size", 0, 0xFFFFFF)
            pad = json_hex(obj.get("pad", "FF"), f"{where}.pad")
            if len(pad) != 1:
                raise ProfileError(f"{where}.pad: one byte expected")
            if len(data) > size:
                raise ProfileError(f"{where}: data ({len(data)} B) is longer than size {size}")
            data = data + pad * (size - len(data))
        read = AccessCondition.parse(obj.get("read", "always"), f"{where}.read")
        return cls(json_fid(json_require(obj, "fid", where), f"{where}.fid"), data, read)

    def to_json(self) -> dict[str, Any]:
        return {"fid": f"{self.fid:04X}", "kind": self.kind, "data": self.data.hex().upper(),
                "read": self.read.to_json()}


@dataclass(frozen=True)
class RecordFileSpec:
    """A record EF (linear, variable-length records numbered from 1)."""

    kind: ClassVar[str] = "record"
    fid: int
    records: tuple[bytes, ...] = field(repr=False)
    read: AccessCondition = AccessCondition.ALWAYS

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], where: str) -> RecordFileSpec:
        raw = json_require(obj, "records", where)
        if not isinstance(raw, list) or len(raw) > 254:
            raise ProfileError(f"{where}.records: expected a list of at most 254 hex strings")
        records = tuple(json_hex(r, f"{where}.records[{i}]") for i, r in enumerate(raw))
        for i, r in enumerate(records):
            if len(r) > 255:
                raise ProfileError(f"{where}.records[{i}]: a record is at most 255 bytes")
        read = AccessCondition.parse(obj.get("read", "always"), f"{where}.read")
        return cls(json_fid(json_require(obj, "fid", where), f"{where}.fid"), records, read)

    def to_json(self) -> dict[str, Any]:
        return {"fid": f"{self.fid:04X}", "kind": self.kind,
                "records": [r.hex().upper() for r in self.records], "read": self.read.to_json()}


@dataclass(frozen=True)
class PinFileSpec:
    """A PIN IEF: ASCII reference data with a retry counter.

    :ivar format: the PIN's facts (:class:`jukicard.apdu.apps.PinSpec`: charset, length,
        rules for new values) when the application and file are known to jukicard; the
        card then applies its format rules (CHANGE REFERENCE DATA refuses a new value that
        does not fit).  ``None`` for a PIN jukicard does not know: only printable ASCII within
        ``min_len..max_len`` is accepted as a new value.

    NOTE: ``value`` is hidden from ``repr``; never log it.
    """

    kind: ClassVar[str] = "pin"
    fid: int
    value: str = field(repr=False)
    min_len: int
    max_len: int
    max_tries: int
    tries_left: int
    format: PinSpec | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.min_len <= self.max_len <= 255:
            raise ProfileError(f"PIN {self.fid:04X}: need 1 <= min_len <= max_len <= 255")
        if not self.value.isascii() or not self.min_len <= len(self.value) <= self.max_len:
            raise ProfileError(f"PIN {self.fid:04X}: value must be ASCII within min/max length")
        if not 1 <= self.max_tries <= _MAX_TRIES_LIMIT:
            raise ProfileError(f"PIN {self.fid:04X}: max_tries must be 1..{_MAX_TRIES_LIMIT}")
        if not 0 <= self.tries_left <= self.max_tries:
            raise ProfileError(f"PIN {self.fid:04X}: tries_left must be 0..max_tries")
        fmt = self.format
        if fmt is not None:
            if (fmt.ef, fmt.min_len, fmt.max_len) != (self.fid, self.min_len, self.max_len):
                raise ProfileError(f"PIN {self.fid:04X}: length limits differ from the "
                                   f"{fmt.id!r} PIN's ({fmt.length_text} characters)")
            problem = fmt.check(self.value.encode("ascii"))
            if problem is not None:
                raise ProfileError(f"PIN {self.fid:04X}: value does not fit the {fmt.id!r} "
                                   f"PIN: {problem}")

    @property
    def fixed_length(self) -> int | None:
        """The length every value has (public knowledge), or ``None`` if it varies."""
        return self.min_len if self.min_len == self.max_len else None

    def new_value_problem(self, raw: bytes) -> str | None:
        """Why ``raw`` cannot become the new value (``None``: it can).  Never the value."""
        if self.format is not None:
            return self.format.check(raw, new=True)
        if not self.min_len <= len(raw) <= self.max_len:
            return "length outside the allowed range"
        if not all(0x21 <= b <= 0x7E for b in raw):
            return "not printable ASCII"
        return None

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], where: str) -> PinFileSpec:
        fid = json_fid(json_require(obj, "fid", where), f"{where}.fid")
        value = json_require(obj, "value", where)
        if not isinstance(value, str):
            raise ProfileError(f"{where}.value: expected a string")
        max_tries = json_int(json_require(obj, "max_tries", where), f"{where}.max_tries", 1,
                         _MAX_TRIES_LIMIT)
        return cls(
            fid=fid,
            value=value,
            min_len=json_int(json_require(obj, "min_len", where), f"{where}.min_len", 1, 255),
            max_len=json_int(json_require(obj, "max_len", where), f"{where}.max_len", 1, 255),
            max_tries=max_tries,
            tries_left=json_int(obj.get("tries_left", max_tries), f"{where}.tries_left", 0,
                            _MAX_TRIES_LIMIT),
        )

    def to_json(self) -> dict[str, Any]:
        return {"fid": f"{self.fid:04X}", "kind": self.kind, "value": self.value,
                "min_len": self.min_len, "max_len": self.max_len,
                "max_tries": self.max_tries, "tries_left": self.tries_left}


@dataclass(frozen=True)
class RsaKeySpec:
    """An RSA private key IEF used by COMPUTE DIGITAL SIGNATURE.

    NOTE: the key is hidden from ``repr``.
    """

    kind: ClassVar[str] = "rsa_key"
    fid: int
    private_key_pem: str = field(repr=False)
    use: AccessCondition = AccessCondition.NEVER
    key: rsa.RSAPrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            key = serialization.load_pem_private_key(self.private_key_pem.encode("ascii"),
                                                     password=None)
        except (ValueError, TypeError, UnicodeError, UnsupportedAlgorithm):
            raise ProfileError(f"key {self.fid:04X}: not an unencrypted PEM private key") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ProfileError(f"key {self.fid:04X}: not an RSA key")
        if key.key_size < 512 or key.key_size % 8:
            raise ProfileError(f"key {self.fid:04X}: unsupported RSA key size {key.key_size}")
        object.__setattr__(self, "key", key)

    @property
    def key_bytes(self) -> int:
        """Modulus length in bytes (k)."""
        return self.key.key_size // 8

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], where: str) -> RsaKeySpec:
        pem = json_require(obj, "private_key_pem", where)
        if not isinstance(pem, str):
            raise ProfileError(f"{where}.private_key_pem: expected a string")
        use = AccessCondition.parse(json_require(obj, "use", where), f"{where}.use")
        return cls(json_fid(json_require(obj, "fid", where), f"{where}.fid"), pem, use)

    def to_json(self) -> dict[str, Any]:
        return {"fid": f"{self.fid:04X}", "kind": self.kind,
                "private_key_pem": self.private_key_pem, "use": self.use.to_json()}


# Issue 11, part B: the jukicard protocol's key IEF (jukicard.emulator.mutualauth).
@dataclass(frozen=True)
class ProtocolKeySpec:
    """The per-card keys of the **jukicard protocol** (our own mutual authentication; not
    住基ネット's) with the card's failed-authentication counter.  An application holding one
    speaks the protocol.  JSON: ``enc_key``, ``mac_key``, ``kdf_key`` (16 bytes hex each),
    ``max_tries``, optional ``tries_left``.

    NOTE: the keys are hidden from ``repr`` (synthetic test keys only, from pkigen).
    """

    kind: ClassVar[str] = "jukicard_protocol_key"
    fid: int
    enc_key: bytes = field(repr=False)
    mac_key: bytes = field(repr=False)
    kdf_key: bytes = field(repr=False)
    max_tries: int = 3
    tries_left: int = 3

    def __post_init__(self) -> None:
        if any(len(k) != 16 for k in (self.enc_key, self.mac_key, self.kdf_key)):
            raise ProfileError(f"protocol key {self.fid:04X}: keys are 16 bytes (AES-128)")
        if not 1 <= self.max_tries <= _MAX_TRIES_LIMIT:
            raise ProfileError(f"protocol key {self.fid:04X}: max_tries must be "
                               f"1..{_MAX_TRIES_LIMIT}")
        if not 0 <= self.tries_left <= self.max_tries:
            raise ProfileError(f"protocol key {self.fid:04X}: tries_left must be 0..max_tries")

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], where: str) -> ProtocolKeySpec:
        enc, mac, kdf = (json_hex(json_require(obj, k, where), f"{where}.{k}")
                         for k in ("enc_key", "mac_key", "kdf_key"))
        max_tries = json_int(obj.get("max_tries", 3), f"{where}.max_tries", 1, _MAX_TRIES_LIMIT)
        return cls(json_fid(json_require(obj, "fid", where), f"{where}.fid"), enc, mac, kdf,
                   max_tries=max_tries,
                   tries_left=json_int(obj.get("tries_left", max_tries), f"{where}.tries_left",
                                       0, _MAX_TRIES_LIMIT))

    def to_json(self) -> dict[str, Any]:
        return {"fid": f"{self.fid:04X}", "kind": self.kind,
                "enc_key": self.enc_key.hex().upper(), "mac_key": self.mac_key.hex().upper(),
                "kdf_key": self.kdf_key.hex().upper(), "max_tries": self.max_tries,
                "tries_left": self.tries_left}


FileSpec = BinaryFileSpec | RecordFileSpec | PinFileSpec | RsaKeySpec | ProtocolKeySpec
#: file kind (JSON ``"kind"``) → spec class.
KINDS: dict[str, Any] = {
    c.kind: c for c in (BinaryFileSpec, RecordFileSpec, PinFileSpec, RsaKeySpec,
                        ProtocolKeySpec)
}
