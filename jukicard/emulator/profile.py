"""Card profiles: the emulated card described as data (``vectors/cards/*.json``).

A profile is JSON in the format ``"jukicard-card-profile/1"``::

    {"format": "jukicard-card-profile/1", "name": "...", "description": "...",
     "card_type": "mynumber" | "juki", "atr": "3BE000FF8131FE4514",
     "extended_length": true,
     "applications": [{"name": "jpki", "aid": "D392F000260100000001", "files": [...]}]}

File kinds: ``binary`` (``data`` hex, optional ``size`` + ``pad`` to pad the data to a fixed
size), ``record`` (``records``: list of hex), ``pin`` (``value`` ASCII, ``min_len``,
``max_len``, ``max_tries``, optional ``tries_left``) and ``rsa_key`` (``private_key_pem``,
PKCS#8 or traditional, unencrypted).  Access conditions (``read`` on data files, ``use`` on
keys): ``"always"``, ``"never"`` or ``{"any_of": ["<PIN fid>", ...]}`` naming PIN IEFs of the
same application.  Optional top-level ``challenge_seed`` (int) makes GET CHALLENGE
deterministic.

Every profile option the emulator knows is data here: the ATR switch (``atr``), the
short-APDU-only mode (``extended_length: false``) and the token padding byte (the token EF
``0006`` is plain data: pad it with ``20`` or ``00`` through ``size``/``pad``).

Profiles are parsed strictly: anything wrong raises :class:`ProfileError` (never a bare
``ValueError``/``KeyError``).  Unknown keys are ignored so that generators can add
annotations.  Never pickled: :meth:`CardProfile.to_json` gives the JSON back.

NOTE: profiles hold synthetic test keys and PINs only.  ``repr`` never shows PIN values or
key material.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.errors import JukiError

__all__ = [
    "PROFILE_FORMAT",
    "DEFAULT_ATR",
    "CARD_TYPES",
    "ProfileError",
    "AccessCondition",
    "BinaryFileSpec",
    "RecordFileSpec",
    "PinSpec",
    "RsaKeySpec",
    "FileSpec",
    "ApplicationSpec",
    "CardProfile",
    "profile_dir",
    "resolve_profile_path",
    "load_profile",
]

log = logging.getLogger(__name__)

PROFILE_FORMAT = "jukicard-card-profile/1"
#: OpenSC's jpki driver matches this ATR without sending any APDU.
DEFAULT_ATR = bytes.fromhex("3BE000FF8131FE4514")
CARD_TYPES = frozenset({"mynumber", "juki"})
PROFILE_DIR_ENV = "JUKICARD_PROFILE_DIR"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MAX_TRIES_LIMIT = 15  # the tries left must fit the low nibble of 63 Cx


class ProfileError(JukiError):
    """A card profile is missing or malformed (bad hex, unknown kind, duplicate FID...)."""


# --------------------------------------------------------------------------- helpers
def _require(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise ProfileError(f"{where}: missing key {key!r}")
    return obj[key]


def _hex(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise ProfileError(f"{where}: expected a hex string, got {type(value).__name__}")
    text = "".join(value.split())
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ProfileError(f"{where}: not valid hex") from None


def _int(value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProfileError(f"{where}: expected an integer")
    if not lo <= value <= hi:
        raise ProfileError(f"{where}: {value} is outside {lo}..{hi}")
    return value


def _fid(value: Any, where: str) -> int:
    raw = _hex(value, where)
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
            fids = tuple(_fid(p, f"{where}.any_of[{i}]") for i, p in enumerate(pins))
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
        data = _hex(_require(obj, "data", where), f"{where}.data")
        if "size" in obj:
            size = _int(obj["size"], f"{where}.size", 0, 0xFFFFFF)
            pad = _hex(obj.get("pad", "FF"), f"{where}.pad")
            if len(pad) != 1:
                raise ProfileError(f"{where}.pad: one byte expected")
            if len(data) > size:
                raise ProfileError(f"{where}: data ({len(data)} B) is longer than size {size}")
            data = data + pad * (size - len(data))
        read = AccessCondition.parse(obj.get("read", "always"), f"{where}.read")
        return cls(_fid(_require(obj, "fid", where), f"{where}.fid"), data, read)

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
        raw = _require(obj, "records", where)
        if not isinstance(raw, list) or len(raw) > 254:
            raise ProfileError(f"{where}.records: expected a list of at most 254 hex strings")
        records = tuple(_hex(r, f"{where}.records[{i}]") for i, r in enumerate(raw))
        for i, r in enumerate(records):
            if len(r) > 255:
                raise ProfileError(f"{where}.records[{i}]: a record is at most 255 bytes")
        read = AccessCondition.parse(obj.get("read", "always"), f"{where}.read")
        return cls(_fid(_require(obj, "fid", where), f"{where}.fid"), records, read)

    def to_json(self) -> dict[str, Any]:
        return {"fid": f"{self.fid:04X}", "kind": self.kind,
                "records": [r.hex().upper() for r in self.records], "read": self.read.to_json()}


@dataclass(frozen=True)
class PinSpec:
    """A PIN IEF: ASCII reference data with a retry counter.

    NOTE: ``value`` is hidden from ``repr``; never log it.
    """

    kind: ClassVar[str] = "pin"
    fid: int
    value: str = field(repr=False)
    min_len: int
    max_len: int
    max_tries: int
    tries_left: int

    def __post_init__(self) -> None:
        if not 1 <= self.min_len <= self.max_len <= 255:
            raise ProfileError(f"PIN {self.fid:04X}: need 1 <= min_len <= max_len <= 255")
        if not self.value.isascii() or not self.min_len <= len(self.value) <= self.max_len:
            raise ProfileError(f"PIN {self.fid:04X}: value must be ASCII within min/max length")
        if not 1 <= self.max_tries <= _MAX_TRIES_LIMIT:
            raise ProfileError(f"PIN {self.fid:04X}: max_tries must be 1..{_MAX_TRIES_LIMIT}")
        if not 0 <= self.tries_left <= self.max_tries:
            raise ProfileError(f"PIN {self.fid:04X}: tries_left must be 0..max_tries")

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], where: str) -> PinSpec:
        fid = _fid(_require(obj, "fid", where), f"{where}.fid")
        value = _require(obj, "value", where)
        if not isinstance(value, str):
            raise ProfileError(f"{where}.value: expected a string")
        max_tries = _int(_require(obj, "max_tries", where), f"{where}.max_tries", 1,
                         _MAX_TRIES_LIMIT)
        return cls(
            fid=fid,
            value=value,
            min_len=_int(_require(obj, "min_len", where), f"{where}.min_len", 1, 255),
            max_len=_int(_require(obj, "max_len", where), f"{where}.max_len", 1, 255),
            max_tries=max_tries,
            tries_left=_int(obj.get("tries_left", max_tries), f"{where}.tries_left", 0,
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
        pem = _require(obj, "private_key_pem", where)
        if not isinstance(pem, str):
            raise ProfileError(f"{where}.private_key_pem: expected a string")
        use = AccessCondition.parse(_require(obj, "use", where), f"{where}.use")
        return cls(_fid(_require(obj, "fid", where), f"{where}.fid"), pem, use)

    def to_json(self) -> dict[str, Any]:
        return {"fid": f"{self.fid:04X}", "kind": self.kind,
                "private_key_pem": self.private_key_pem, "use": self.use.to_json()}


FileSpec = BinaryFileSpec | RecordFileSpec | PinSpec | RsaKeySpec
_KINDS: dict[str, Any] = {c.kind: c for c in (BinaryFileSpec, RecordFileSpec, PinSpec, RsaKeySpec)}


@dataclass(frozen=True)
class ApplicationSpec:
    """A DF selected by name (AID) holding EFs and IEFs."""

    name: str
    aid: bytes
    files: tuple[FileSpec, ...]

    def __post_init__(self) -> None:
        if not 5 <= len(self.aid) <= 16:
            raise ProfileError(f"application {self.name!r}: an AID is 5..16 bytes")
        seen: set[int] = set()
        pins = {f.fid for f in self.files if isinstance(f, PinSpec)}
        for f in self.files:
            if f.fid in seen:
                raise ProfileError(f"application {self.name!r}: duplicate fid {f.fid:04X}")
            seen.add(f.fid)
            cond = f.use if isinstance(f, RsaKeySpec) else getattr(f, "read", None)
            if cond is not None:
                for p in cond.pins:
                    if p not in pins:
                        raise ProfileError(
                            f"application {self.name!r}: file {f.fid:04X} refers to PIN "
                            f"{p:04X}, which is not a PIN of this application")

    def file(self, fid: int) -> FileSpec | None:
        return next((f for f in self.files if f.fid == fid), None)

    @classmethod
    def from_json(cls, obj: Any, where: str) -> ApplicationSpec:
        if not isinstance(obj, Mapping):
            raise ProfileError(f"{where}: expected an object")
        name = _require(obj, "name", where)
        if not isinstance(name, str):
            raise ProfileError(f"{where}.name: expected a string")
        aid = _hex(_require(obj, "aid", where), f"{where}.aid")
        raw_files = obj.get("files", [])
        if not isinstance(raw_files, list):
            raise ProfileError(f"{where}.files: expected a list")
        files = []
        for i, f in enumerate(raw_files):
            fw = f"{where}.files[{i}]"
            if not isinstance(f, Mapping):
                raise ProfileError(f"{fw}: expected an object")
            kind = _require(f, "kind", fw)
            spec_cls = _KINDS.get(kind) if isinstance(kind, str) else None
            if spec_cls is None:
                raise ProfileError(f"{fw}: unknown file kind {kind!r}")
            files.append(spec_cls.from_json(f, fw))
        return cls(name, aid, tuple(files))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "aid": self.aid.hex().upper(),
                "files": [f.to_json() for f in self.files]}


@dataclass(frozen=True)
class CardProfile:
    """A whole emulated card.

    :param atr: answer-to-reset bytes (default: the ATR OpenSC's jpki driver matches).
    :param extended_length: False = short-APDU-only card (extended APDUs get ``67 00``).
    :param challenge_seed: seed making GET CHALLENGE deterministic, or None.
    """

    name: str
    description: str
    card_type: str
    applications: tuple[ApplicationSpec, ...]
    atr: bytes = DEFAULT_ATR
    extended_length: bool = True
    challenge_seed: int | None = None

    def __post_init__(self) -> None:
        if self.card_type not in CARD_TYPES:
            raise ProfileError(f"card_type must be one of {sorted(CARD_TYPES)}")
        if not 2 <= len(self.atr) <= 33 or self.atr[0] not in (0x3B, 0x3F):
            raise ProfileError("atr: 2..33 bytes starting with 3B or 3F expected")
        aids: set[bytes] = set()
        names: set[str] = set()
        for app in self.applications:
            if app.aid in aids:
                raise ProfileError(f"duplicate AID {app.aid.hex().upper()}")
            if app.name in names:
                raise ProfileError(f"duplicate application name {app.name!r}")
            aids.add(app.aid)
            names.add(app.name)

    def application(self, name_or_aid: str | bytes) -> ApplicationSpec:
        """The application with that name or AID.

        :raises KeyError: if there is none.
        """
        for app in self.applications:
            if app.name == name_or_aid or app.aid == name_or_aid:
                return app
        raise KeyError(name_or_aid)

    # ------------------------------------------------------------------ JSON
    @classmethod
    def from_json(cls, obj: Any) -> CardProfile:
        """Build a profile from decoded JSON.

        :raises ProfileError: if it does not follow the schema.
        """
        if not isinstance(obj, Mapping):
            raise ProfileError("a card profile is a JSON object")
        fmt = obj.get("format")
        if fmt != PROFILE_FORMAT:
            raise ProfileError(f"format must be {PROFILE_FORMAT!r}, got {fmt!r}")
        name = _require(obj, "name", "profile")
        description = obj.get("description", "")
        card_type = _require(obj, "card_type", "profile")
        if not all(isinstance(v, str) for v in (name, description, card_type)):
            raise ProfileError("profile: name, description and card_type must be strings")
        atr = _hex(obj["atr"], "profile.atr") if "atr" in obj else DEFAULT_ATR
        ext = obj.get("extended_length", True)
        if not isinstance(ext, bool):
            raise ProfileError("profile.extended_length: expected true or false")
        seed = obj.get("challenge_seed")
        if seed is not None:
            seed = _int(seed, "profile.challenge_seed", 0, 2**64 - 1)
        apps = _require(obj, "applications", "profile")
        if not isinstance(apps, list):
            raise ProfileError("profile.applications: expected a list")
        return cls(
            name=name,
            description=description,
            card_type=card_type,
            applications=tuple(ApplicationSpec.from_json(a, f"applications[{i}]")
                               for i, a in enumerate(apps)),
            atr=atr,
            extended_length=ext,
            challenge_seed=seed,
        )

    @classmethod
    def parse(cls, raw: bytes | str) -> CardProfile:
        """Parse profile JSON text.

        :raises ProfileError: on invalid JSON or schema violations.
        """
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeError, RecursionError) as exc:  # deep nesting: RecursionError
            reason = exc.__class__.__name__
            raise ProfileError(f"card profile is not valid JSON: {reason}") from None
        return cls.from_json(obj)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": PROFILE_FORMAT,
            "name": self.name,
            "description": self.description,
            "card_type": self.card_type,
            "atr": self.atr.hex().upper(),
            "extended_length": self.extended_length,
        }
        if self.challenge_seed is not None:
            out["challenge_seed"] = self.challenge_seed
        out["applications"] = [a.to_json() for a in self.applications]
        return out

    def __bytes__(self) -> bytes:
        return json.dumps(self.to_json(), indent=1, ensure_ascii=False).encode("utf-8")

    def replace(self, **changes: Any) -> CardProfile:
        """A copy with some top-level fields changed (e.g. ``atr=``, ``extended_length=``)."""
        import dataclasses

        return dataclasses.replace(self, **changes)


# --------------------------------------------------------------------------- loading
def profile_dir() -> Path:
    """Where bare profile names are looked up: ``$JUKICARD_PROFILE_DIR`` or the repository's
    ``vectors/cards``."""
    env = os.environ.get(PROFILE_DIR_ENV)
    if env:
        return Path(env)
    # jukicard/emulator/profile.py -> repository root is parents[2]
    return Path(__file__).resolve().parents[2] / "vectors" / "cards"


def resolve_profile_path(path_or_name: str | os.PathLike[str]) -> Path:
    """Turn a profile path or bare name into a path.

    A value with a path separator or a ``.json`` suffix is a path; anything else is a name
    resolved to ``<profile_dir()>/<name>.json``.

    :raises ProfileError: if a bare name contains odd characters.
    """
    text = os.fspath(path_or_name)
    if isinstance(path_or_name, Path) or os.sep in text or "/" in text or text.endswith(".json"):
        return Path(text)
    if not _NAME_RE.match(text):
        raise ProfileError("a profile name may only contain letters, digits, '.', '_' and '-'")
    return profile_dir() / f"{text}.json"


def load_profile(path_or_name: str | os.PathLike[str]) -> CardProfile:
    """Load a card profile by path or by bare name (see :func:`resolve_profile_path`).

    :raises ProfileError: if the file cannot be read or is not a valid profile.
    """
    path = resolve_profile_path(path_or_name)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"cannot read card profile {path}: {exc.strerror or exc}") from None
    try:
        profile = CardProfile.parse(raw)
    except ProfileError as exc:
        raise ProfileError(f"{path}: {exc}") from None
    log.debug("loaded card profile %s from %s", profile.name, path)
    return profile
