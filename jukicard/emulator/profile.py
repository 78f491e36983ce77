"""Card profiles: the emulated card described as data (``vectors/cards/*.json``).

A profile is JSON in the format ``"jukicard-card-profile/1"``::

    {"format": "jukicard-card-profile/1", "name": "...", "description": "...",
     "card_type": "mynumber" | "juki", "atr": "3BE000FF8131FE4514",
     "extended_length": true,
     "applications": [{"name": "jpki", "aid": "D392F000260100000001", "files": [...]}]}

The files of an application are described in :mod:`jukicard.emulator.filespecs`
(re-exported here).  Optional top-level ``challenge_seed`` (int) makes GET CHALLENGE
deterministic.  A PIN file of an application jukicard knows (by AID; the 住基カード variant
of the JPKI AP for ``card_type: "juki"``) gets that PIN's facts from
:mod:`jukicard.apdu.apps`, and the profile must fit them.

Every profile option the emulator knows is data here: the ATR switch (``atr``), the
short-APDU-only mode (``extended_length: false``) and the token padding byte (the token EF
``0006`` is plain data: pad it with ``20`` or ``00`` through ``size``/``pad``).

Profiles are parsed strictly: anything wrong raises :class:`ProfileError` (never a bare
``ValueError``/``KeyError``).  Unknown keys are ignored so that generators can add
annotations.  Never pickled: :meth:`CardProfile.to_json` gives the JSON back.

Rules for the profiles kept in the repository (``vectors/cards/*.json``, and one added with
a new application): loading checks only the schema above; the repository rules are checked
by the tests —

* ``tests/unit/test_emulator_profile.py::test_repository_profiles_load_and_bind``: the file
  name is the profile's ``name``; its ``description`` says ``synthetic`` or ``test`` (real
  card data is never committed); it has a ``jpki`` application whose PIN IEFs answer
  ``63Cx`` to a data-less VERIFY (what OpenSC's driver needs to bind);
* ``tests/unit/test_card_layout.py::test_layout_matches_profile``: every application's AID
  is known to jukicard (built in, or an application of the detection table
  :data:`jukicard.card.detect.DETECTION`), under the same name, and its PIN files have the
  formats of its facts.

NOTE: profiles hold synthetic test keys and PINs only.  ``repr`` never shows PIN values or
key material.  :func:`load_profile` reads only a regular file of at most
:data:`MAX_PROFILE_SIZE` bytes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jukicard.apdu.apps import find_application
from jukicard.emulator.filespecs import (
    KINDS,
    AccessCondition,
    BinaryFileSpec,
    FileSpec,
    PinFileSpec,
    ProfileError,
    RecordFileSpec,
    RsaKeySpec,
    json_hex,
    json_int,
    json_require,
)

__all__ = [
    "PROFILE_FORMAT",
    "DEFAULT_ATR",
    "CARD_TYPES",
    "ProfileError",
    "AccessCondition",
    "BinaryFileSpec",
    "RecordFileSpec",
    "PinFileSpec",
    "RsaKeySpec",
    "FileSpec",
    "ApplicationSpec",
    "CardProfile",
    "MAX_PROFILE_SIZE",
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
#: Largest card profile file :func:`load_profile` reads (8 MiB; the test cards are about
#: 26 KB, a card with a large face photo a few hundred KB).
MAX_PROFILE_SIZE = 8 << 20

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _variant(card_type: str) -> str:
    """The application variant (:attr:`jukicard.apdu.apps.Application.variant`) of a card."""
    return "juki" if card_type == "juki" else ""


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
        pins = {f.fid for f in self.files if isinstance(f, PinFileSpec)}
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

    def with_pin_formats(self, variant: str = "") -> ApplicationSpec:
        """This application with the facts of its known PINs attached (see
        :class:`PinFileSpec`).

        :raises ProfileError: a PIN file does not fit its facts.
        """
        app = find_application(self.aid, variant)
        if app is None:
            return self
        files: list[FileSpec] = []
        for f in self.files:
            fmt = app.pin(f.fid) if isinstance(f, PinFileSpec) else None
            if isinstance(f, PinFileSpec) and fmt is not None and f.format != fmt:
                f = dataclasses.replace(f, format=fmt)
            files.append(f)
        return dataclasses.replace(self, files=tuple(files))

    @classmethod
    def from_json(cls, obj: Any, where: str) -> ApplicationSpec:
        """Parse one application.

        :raises ProfileError: if it does not follow the schema.
        """
        if not isinstance(obj, Mapping):
            raise ProfileError(f"{where}: expected an object")
        name = json_require(obj, "name", where)
        if not isinstance(name, str):
            raise ProfileError(f"{where}.name: expected a string")
        aid = json_hex(json_require(obj, "aid", where), f"{where}.aid")
        raw_files = obj.get("files", [])
        if not isinstance(raw_files, list):
            raise ProfileError(f"{where}.files: expected a list")
        files = []
        for i, f in enumerate(raw_files):
            fw = f"{where}.files[{i}]"
            if not isinstance(f, Mapping):
                raise ProfileError(f"{fw}: expected an object")
            kind = json_require(f, "kind", fw)
            spec_cls = KINDS.get(kind) if isinstance(kind, str) else None
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
    #: MF-level GET DATA objects (tag → value; issue 11 card identity, ``identitycmds``)
    mf_data: Mapping[int, bytes] = dataclasses.field(default_factory=dict, repr=False,
                                                     compare=False)

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
        variant = _variant(self.card_type)
        with_formats = []
        for app in self.applications:
            try:
                with_formats.append(app.with_pin_formats(variant))
            except ProfileError as exc:
                raise ProfileError(f"application {app.name!r}: {exc}") from None
        object.__setattr__(self, "applications", tuple(with_formats))

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
        name = json_require(obj, "name", "profile")
        description = obj.get("description", "")
        card_type = json_require(obj, "card_type", "profile")
        if not all(isinstance(v, str) for v in (name, description, card_type)):
            raise ProfileError("profile: name, description and card_type must be strings")
        atr = json_hex(obj["atr"], "profile.atr") if "atr" in obj else DEFAULT_ATR
        ext = obj.get("extended_length", True)
        if not isinstance(ext, bool):
            raise ProfileError("profile.extended_length: expected true or false")
        seed = obj.get("challenge_seed")
        if seed is not None:
            seed = json_int(seed, "profile.challenge_seed", 0, 2**64 - 1)
        mf_data = _mf_data(obj.get("mf_data", {}))
        apps = json_require(obj, "applications", "profile")
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
            mf_data=mf_data,
        )

    @classmethod
    def parse(cls, raw: bytes | str) -> CardProfile:
        """Parse profile JSON text.

        :raises ProfileError: on invalid JSON or schema violations.
        """
        try:
            text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError:
            raise ProfileError("card profile is not UTF-8 text") from None
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileError(f"card profile is not valid JSON (line {exc.lineno}, "
                               f"column {exc.colno})") from None
        except RecursionError:
            raise ProfileError("card profile is nested too deeply") from None
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
        if self.mf_data:
            out["mf_data"] = {f"{t:04X}": v.hex().upper() for t, v in sorted(self.mf_data.items())}
        out["applications"] = [a.to_json() for a in self.applications]
        return out

    def __bytes__(self) -> bytes:
        return json.dumps(self.to_json(), indent=1, ensure_ascii=False).encode("utf-8")

    def replace(self, **changes: Any) -> CardProfile:
        """A copy with some top-level fields changed (e.g. ``atr=``, ``extended_length=``)."""
        return dataclasses.replace(self, **changes)


def _mf_data(obj: Any) -> dict[int, bytes]:
    """Optional ``"mf_data": {"0045": "<hex>", ...}``: the MF-level GET DATA objects
    (tag = P1P2, value without the template wrapper).

    :raises ProfileError: not an object of 4-hex-digit tags to hex values.
    """
    if not isinstance(obj, Mapping):
        raise ProfileError("profile.mf_data: expected an object")
    out: dict[int, bytes] = {}
    for key, value in obj.items():
        tag = json_hex(key, "profile.mf_data key")
        if len(tag) != 2:
            raise ProfileError("profile.mf_data: a tag is 2 bytes (4 hex digits)")
        out[int.from_bytes(tag, "big")] = json_hex(value, f"profile.mf_data[{key}]")
    return out


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

    Only a regular file (or a link to one) of at most :data:`MAX_PROFILE_SIZE` bytes is
    read: ``--profile /dev/zero``, a FIFO or a directory is refused before anything is
    read, and a file that grows past the cap while it is read is refused too.

    :raises ProfileError: if the file is not a regular file, is too large, cannot be read
        or is not a valid profile.
    """
    path = resolve_profile_path(path_or_name)
    raw = _read_capped(path)
    try:
        profile = CardProfile.parse(raw)
    except ProfileError as exc:
        raise ProfileError(f"{_shown(path)}: {exc}") from None
    log.debug("loaded card profile %s from %s", profile.name, path)
    return profile


def _shown(path: Path) -> str:
    """``path`` quoted for a message (``repr``): a control character in a file name is shown
    as an escape (``\\x1b``), never sent to the operator's terminal as it is."""
    return repr(os.fspath(path))


def _read_capped(path: Path) -> bytes:
    """The bytes of the regular file ``path``, at most :data:`MAX_PROFILE_SIZE` of them.

    :raises ProfileError: not a regular file, too large, or unreadable.
    """
    shown = _shown(path)
    too_large = f"card profile {shown} is larger than {MAX_PROFILE_SIZE >> 20} MiB"
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer before we can refuse it
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ProfileError(f"card profile {shown} is not a regular file")
            if info.st_size > MAX_PROFILE_SIZE:
                raise ProfileError(too_large)
            with os.fdopen(os.dup(fd), "rb") as fh:
                raw = fh.read(MAX_PROFILE_SIZE + 1)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ProfileError(f"cannot read card profile {shown}: {exc.strerror or exc}") from None
    if len(raw) > MAX_PROFILE_SIZE:
        raise ProfileError(too_large)
    return raw
