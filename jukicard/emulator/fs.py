"""The emulated card's file system: MF (implicit) → DFs by AID → EFs and IEFs.

Built from a :class:`~jukicard.emulator.profile.CardProfile`.  Data EFs and keys are
immutable; PIN IEFs carry mutable "EEPROM" state (value, tries left) that lives as long as the
:class:`FileSystem` object — power cycles do not touch it.  Volatile state (current DF/EF,
verified PINs) lives in :class:`~jukicard.emulator.cardos.CardOS`, not here.
"""

from __future__ import annotations

import dataclasses
import hmac
from dataclasses import dataclass

from jukicard.apdu.apps import PinSpec
from jukicard.emulator.filespecs import (
    AccessCondition,
    BinaryFileSpec,
    FileSpec,
    PinFileSpec,
    ProtocolKeySpec,
    RecordFileSpec,
    RsaKeySpec,
)
from jukicard.emulator.profile import ApplicationSpec, CardProfile

__all__ = [
    "BinaryEF",
    "RecordEF",
    "PinIEF",
    "KeyIEF",
    "ElementaryFile",
    "DedicatedFile",
    "FileSystem",
    "PinCheck",
    "ProtocolKeyIEF",
]


@dataclass(frozen=True)
class BinaryEF:
    """A transparent EF."""

    fid: int
    data: bytes
    read: AccessCondition

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class RecordEF:
    """A record EF; records are numbered from 1."""

    fid: int
    records: tuple[bytes, ...]
    read: AccessCondition

    @property
    def size(self) -> int:
        return sum(len(r) for r in self.records)


@dataclass(frozen=True)
class KeyIEF:
    """An RSA private key IEF."""

    fid: int
    spec: RsaKeySpec

    @property
    def use(self) -> AccessCondition:
        return self.spec.use

    @property
    def size(self) -> int:
        return self.spec.key_bytes


class PinCheck:
    """Outcomes of :meth:`PinIEF.check`."""

    OK = "ok"
    WRONG = "wrong"
    BLOCKED = "blocked"
    BAD_LENGTH = "bad-length"


class PinIEF:
    """A PIN IEF with a retry counter ("EEPROM" state: survives power cycles).

    :ivar format: the PIN's facts, if jukicard knows the PIN (see
        :class:`~jukicard.emulator.filespecs.PinFileSpec`).

    NOTE: the reference value is never logged or shown in ``repr``.
    """

    def __init__(self, spec: PinFileSpec) -> None:
        self.spec = spec
        self.fid = spec.fid
        self.min_len = spec.min_len
        self.max_len = spec.max_len
        self.max_tries = spec.max_tries
        self.tries_left = spec.tries_left
        self.format: PinSpec | None = spec.format
        self._value = spec.value.encode("ascii")

    def __repr__(self) -> str:
        return f"PinIEF({self.fid:04X}, tries_left={self.tries_left}/{self.max_tries})"

    @property
    def size(self) -> int:
        return self.max_len

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0

    @property
    def fixed_length(self) -> int | None:
        """The length of every value when it is fixed (public knowledge), else ``None``."""
        return self.spec.fixed_length

    def length_ok(self, candidate: bytes) -> bool:
        return self.min_len <= len(candidate) <= self.max_len

    def check(self, candidate: bytes) -> str:
        """Compare a candidate, updating the counter; returns a :class:`PinCheck` value.

        Blocked → BLOCKED (no change); length outside min..max → BAD_LENGTH (no change);
        wrong → decrement; right → reset the counter to its maximum.
        """
        if self.blocked:
            return PinCheck.BLOCKED
        if not self.length_ok(candidate):
            return PinCheck.BAD_LENGTH
        if hmac.compare_digest(candidate, self._value):
            self.tries_left = self.max_tries
            return PinCheck.OK
        self.tries_left -= 1
        return PinCheck.WRONG

    def new_value_problem(self, new: bytes) -> str | None:
        """Why ``new`` cannot be set (format rules of the PIN), or ``None``."""
        return self.spec.new_value_problem(new)

    def set_value(self, new: bytes) -> None:
        """Replace the reference value and reset the counter.

        :raises ValueError: ``new`` breaks the PIN's format (callers check first with
            :meth:`new_value_problem`; the card never stores what it cannot export).
        """
        problem = self.new_value_problem(new)
        if problem is not None:
            raise ValueError(f"PIN {self.fid:04X}: {problem}")
        self._value = bytes(new)
        self.tries_left = self.max_tries

    def to_spec(self) -> PinFileSpec:
        return PinFileSpec(fid=self.fid, value=self._value.decode("ascii"),
                           min_len=self.min_len, max_len=self.max_len,
                           max_tries=self.max_tries, tries_left=self.tries_left,
                           format=self.format)


class ProtocolKeyIEF:
    """The jukicard protocol's per-card keys with the failed-authentication counter
    ("EEPROM" state, like a PIN's).  NOTE: key bytes never in ``repr`` or a log."""

    def __init__(self, spec: ProtocolKeySpec) -> None:
        self.spec = spec
        self.fid = spec.fid
        self.max_tries = spec.max_tries
        self.tries_left = spec.tries_left

    def __repr__(self) -> str:
        return f"ProtocolKeyIEF({self.fid:04X}, tries_left={self.tries_left}/{self.max_tries})"

    @property
    def size(self) -> int:
        return 48

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0

    def failed(self) -> int:
        """Count one failed authentication; returns the tries left."""
        self.tries_left = max(0, self.tries_left - 1)
        return self.tries_left

    def succeeded(self) -> None:
        """A successful authentication resets the counter to its maximum."""
        self.tries_left = self.max_tries

    def to_spec(self) -> ProtocolKeySpec:
        return dataclasses.replace(self.spec, tries_left=self.tries_left)


ElementaryFile = BinaryEF | RecordEF | PinIEF | KeyIEF | ProtocolKeyIEF


class DedicatedFile:
    """An application DF selected by its AID."""

    def __init__(self, spec: ApplicationSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.aid = spec.aid
        self.files: dict[int, ElementaryFile] = {}
        for f in spec.files:
            ef: ElementaryFile
            if isinstance(f, BinaryFileSpec):
                ef = BinaryEF(f.fid, f.data, f.read)
            elif isinstance(f, RecordFileSpec):
                ef = RecordEF(f.fid, f.records, f.read)
            elif isinstance(f, PinFileSpec):
                ef = PinIEF(f)
            elif isinstance(f, ProtocolKeySpec):
                ef = ProtocolKeyIEF(f)
            else:
                ef = KeyIEF(f.fid, f)
            self.files[f.fid] = ef

    def __repr__(self) -> str:
        return f"DedicatedFile({self.name!r}, {self.aid.hex().upper()})"

    def get(self, fid: int) -> ElementaryFile | None:
        return self.files.get(fid)

    def by_sfi(self, sfi: int) -> ElementaryFile | None:
        """The EF whose short file identifier is ``sfi`` (FID ``00 <sfi>``, sfi 1..30)."""
        if not 1 <= sfi <= 30:
            return None
        return self.files.get(sfi)

    def pin(self, fid: int) -> PinIEF | None:
        f = self.files.get(fid)
        return f if isinstance(f, PinIEF) else None

    def to_spec(self) -> ApplicationSpec:
        files: list[FileSpec] = []
        for f in self.spec.files:
            live = self.files[f.fid]
            files.append(live.to_spec() if isinstance(live, (PinIEF, ProtocolKeyIEF)) else f)
        return ApplicationSpec(self.spec.name, self.spec.aid, tuple(files))


class FileSystem:
    """All DFs of a card, looked up by AID."""

    def __init__(self, profile: CardProfile) -> None:
        self.profile = profile
        self.dfs: list[DedicatedFile] = [DedicatedFile(a) for a in profile.applications]
        self._by_aid = {df.aid: df for df in self.dfs}

    def find_df(self, aid: bytes) -> DedicatedFile | None:
        """Exact DF-name match (no partial names)."""
        return self._by_aid.get(bytes(aid))

    def df(self, name: str) -> DedicatedFile:
        """The DF with that application name.

        :raises KeyError: if there is none.
        """
        for df in self.dfs:
            if df.name == name:
                return df
        raise KeyError(name)

    def to_profile(self) -> CardProfile:
        """The profile with the current PIN values and counters (the card's "EEPROM")."""
        return self.profile.replace(applications=tuple(df.to_spec() for df in self.dfs))
