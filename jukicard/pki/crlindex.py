"""A compact index of a CRL's revoked serial numbers, built with NumPy over the raw DER.

:meth:`CrlIndex.ingest` scans the entry list once (:mod:`jukicard.pki.crlscan`: no Python
object per entry for the common entry shapes) and keeps, per entry, its serial number as
three 64-bit words, its offset in the DER and, for an indirect CRL, the certificate issuer it
applies to.  Look-ups hash ``(serial, issuer)`` into one sorted ``uint64`` array
(``np.searchsorted``: O(log n), batched with :meth:`CrlIndex.contains_many`).  The entry's
details (revocationDate, reasonCode, invalidityDate) are decoded only for the entry that
matched (:meth:`CrlIndex.entry`, asn1crypto).

Entries not of a common shape (certificateIssuer, other extensions, odd encodings) are
decoded lazily (:mod:`jukicard.pki.crlslow`): :meth:`CrlIndex.build` only finds and counts
them (refusing more than :data:`~jukicard.pki.crlslow.MAX_SLOW_ENTRIES`), and they are
decoded, and the look-up arrays built, when the index is first consulted
(:meth:`CrlIndex.complete`, or any look-up, :attr:`CrlIndex.unusable_reason`,
:attr:`CrlIndex.issuers`, :attr:`CrlIndex.duplicates`, :meth:`CrlIndex.save`).
:class:`jukicard.pki.revocation.CrlRevocationSource` consults it only once the CRL's
signature has verified, so a forged CRL costs the vectorised pass only.  A malformed odd
entry is then reported by that first consultation (a :class:`MalformedCrlError`).

certificateIssuer (RFC 5280 §5.3.3) applies only in an indirect CRL (issuingDistributionPoint
indirectCRL): elsewhere it does not move entries to another issuer (as OpenSSL reads it), and
:attr:`CrlIndex.stray_certificate_issuer` is set (the strict profile refuses such a CRL).

Duplicates: a CRL may list the same ``(certificate issuer, serial)`` more than once (RFC 5280
does not forbid it).  Every copy is kept; :meth:`CrlIndex.entry` answers with the copy of the
**earliest revocationDate** (the first listed among equal dates), the conservative reading.
:attr:`CrlIndex.duplicates` counts the extra copies.

An index can be saved (:meth:`CrlIndex.save`) and memory-mapped back
(:meth:`CrlIndex.load`): the file records the SHA-256 of the CRL it indexes, which the caller
must give (the index is refused for any other CRL), and a SHA-256 over its own header and
arrays (a changed byte is refused).  That digest only catches damage: whoever can write the
file can recompute it, so the file is as trusted as the code that reads it.  Keep it where
only the verifier writes: :class:`jukicard.pki.crl.Crl` uses an ``index_dir`` only when it is
owned by the current user and not group- or world-writable (as ssh treats its folder).
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from asn1crypto import crl as _crl
from asn1crypto.parser import emit

from jukicard.pki.backend import contained_deprecations, load_x509_crl
from jukicard.pki.crlindexfile import MAGIC, CrlIndexError, read_index, write_index
from jukicard.pki.crlscan import SLOW, Scan, entry_starts, layout, read_header, scan_entries
from jukicard.pki.crlslow import (
    MAX_SLOW_ENTRIES,
    REASON_NAMES,
    DecodedEntry,
    IssuerKeys,
    RevokedEntry,
    decode_entries,
    decode_entry,
)
from jukicard.pki.errors import MalformedCrlError
from jukicard.pki.names import NameKey, name_key
from jukicard.pki.reasons import Reason

__all__ = ["CrlIndex", "CrlIndexError", "RevokedEntry", "REASON_NAMES", "decode_entry",
           "DecodedEntry", "MAX_SLOW_ENTRIES"]

log = logging.getLogger(__name__)

_M64 = (1 << 64) - 1
_K1, _K2, _K3, _K4 = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0xFF51AFD7ED558CCD)
_MAGIC = MAGIC
#: Most repeated (issuer, serial) keys a CRL may list: each repeat is read again by every
#: look-up of that key, so a CRL made of one serial repeated millions of times would cost
#: minutes per look-up (a conforming CA lists a certificate once).
MAX_DUPLICATES = 1000
_STRICT_BATCH = 4096
_DECODE_CHUNK = 4096
_OID_CERT_ISSUER = "2.5.29.29"


def _words(value: int) -> tuple[int, int, int] | None:
    """The three 64-bit words of a serial of at most 21 octets, or ``None``."""
    if not -(1 << 167) <= value < 1 << 167:
        return None
    return value & _M64, (value >> 64) & _M64, (value >> 128) & _M64


def _hash_arrays(lo: np.ndarray, mid: np.ndarray, top: np.ndarray, iss: np.ndarray
                 ) -> np.ndarray:
    x = lo ^ (mid * np.uint64(_K1)) ^ (top * np.uint64(_K2)) ^ (iss * np.uint64(_K3))
    x ^= x >> np.uint64(29)
    x *= np.uint64(_K4)
    x ^= x >> np.uint64(32)
    return x


def _hash_int(lo: int, mid: int, top: int, iss: int) -> int:
    x = lo ^ (mid * _K1 & _M64) ^ (top * _K2 & _M64) ^ (iss * _K3 & _M64)
    x ^= x >> 29
    x = x * _K4 & _M64
    return x ^ (x >> 32)


def _sign_words(lo: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.where(lo >= np.uint64(1 << 63), np.uint64(_M64), np.uint64(0))
    return out


@dataclass(frozen=True)
class _Pending:
    """What :meth:`CrlIndex.complete` needs to finish an index with uncommon entries."""

    buf: bytes | memoryview | mmap.mmap
    scan: Scan
    slow: np.ndarray
    issuer_der: bytes
    issuer_key: NameKey
    indirect: bool


class CrlIndex:
    """The revoked serial numbers of one CRL (see the module doc).

    Build it with :meth:`ingest` or :meth:`load`; it is immutable once complete (completion
    is locked) and may be shared between threads.  ``len()`` is the number of entries.
    """

    def __init__(self, *, arrays: dict[str, np.ndarray], meta: dict[str, Any],
                 der: bytes | memoryview | mmap.mmap | None,
                 pending: _Pending | None = None) -> None:
        self._a = arrays
        self._meta = meta
        self._der = der
        self._n = int(meta["n"])
        #: positions (CRL order) of the entries not of a common shape.
        self.slow_positions: np.ndarray = arrays["slow"]
        #: position of the first common-shape entry with an extension, or -1.
        self.first_extension: int = int(meta["first_extension"])
        self.crl_sha256: str | None = meta.get("crl_sha256")
        self._pending = pending
        self._failed: MalformedCrlError | None = None
        self._lock = threading.Lock()
        self._save_to: tuple[str, str] | None = None
        if pending is None:
            self._adopt(arrays, meta)

    def _adopt(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._a = arrays
        self._meta = meta
        self._bits = int(meta["bits"])
        self._max_run = int(meta["max_run"])
        self._issuers = tuple(bytes.fromhex(h) for h in meta["issuers"])
        keys = IssuerKeys()
        self._issuer_ids = {keys(d): i for i, d in enumerate(self._issuers)}
        self._extra = {(int(s), int(i)): int(p) for s, i, p in meta["extra"]}
        self._unusable = Reason.CRL_UNKNOWN_CRITICAL if meta["unusable"] else None
        self._duplicates = int(meta["duplicates"])
        self._stray = bool(meta.get("stray_certificate_issuer", False))

    # ------------------------------------------------------------------ building
    @classmethod
    def ingest(cls, der: bytes | memoryview | str | os.PathLike[str]) -> CrlIndex:
        """Index the CRL ``der`` (DER bytes, or a file path, memory-mapped).

        The CRL's signature is not checked here (see :class:`jukicard.pki.crl.Crl`); the
        entries of an uncommon shape are decoded on first use (:meth:`complete`).

        :raises MalformedCrlError: the framing or an entry does not parse, or over
            :data:`~jukicard.pki.crlslow.MAX_SLOW_ENTRIES`.
        :raises OSError: the file cannot be read.
        """
        buf: bytes | memoryview | mmap.mmap
        if isinstance(der, (bytes, bytearray, memoryview)):
            buf = der if not isinstance(der, bytearray) else bytes(der)
        else:
            with open(os.fspath(der), "rb") as f:
                buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        lay = layout(buf)
        tbs = _crl.CertificateList.load(lay.header_der)["tbs_cert_list"]
        issuer = tbs["issuer"]
        indirect = False
        for ext in tbs["crl_extensions"]:
            if ext["extn_id"].native == "issuing_distribution_point":
                indirect = bool(ext["extn_value"].parsed["indirect_crl"].native)
        return cls.build(buf, lay.entries, bytes(issuer.dump()), name_key(issuer),
                         indirect=indirect)

    @classmethod
    def build(cls, buf: bytes | memoryview | mmap.mmap, span: tuple[int, int] | None,
              issuer_der: bytes, issuer_key: NameKey, *, indirect: bool = False) -> CrlIndex:
        """Index the entry list whose content is ``buf[span[0]:span[1]]`` (``None``: no list)
        of a CRL issued by ``issuer_der`` (whose §7.1 key is ``issuer_key``); used by
        :meth:`ingest` and by :class:`jukicard.pki.crl.Crl`, which found the span already.
        Only the vectorised pass runs here when some entries are of an uncommon shape (see
        :meth:`complete`).

        :param indirect: the CRL is indirect (its certificateIssuer entries then apply).
        :raises MalformedCrlError: the entry list does not parse, or more than
            :data:`~jukicard.pki.crlslow.MAX_SLOW_ENTRIES` entries of an uncommon shape.
        """
        arr = np.frombuffer(buf, np.uint8)
        starts = entry_starts(arr, *span) if span else np.zeros(0, np.int64)
        scan = scan_entries(arr, starts, span[1] if span else 0)
        slow = np.flatnonzero(scan.kind == SLOW).astype(np.int64)
        if len(slow) > MAX_SLOW_ENTRIES:
            raise MalformedCrlError(
                f"CRL refused: {len(slow)} entries of an uncommon shape, over the cap of "
                f"{MAX_SLOW_ENTRIES} (MAX_SLOW_ENTRIES)")
        pending = _Pending(buf, scan, slow, issuer_der, issuer_key, indirect)
        arrays = {"slow": slow, "starts": _starts_array(starts, len(buf))}
        meta = {"n": len(starts), "first_extension": scan.first_extension}
        index = cls(arrays=arrays, meta=meta, der=buf, pending=pending)
        if not len(slow):
            index.complete()
        return index

    @property
    def is_complete(self) -> bool:
        """Every entry is decoded and the look-up arrays are built."""
        return self._pending is None

    def complete(self) -> CrlIndex:
        """Decode the entries of an uncommon shape and build the look-up arrays, once (every
        look-up does it first); then save the index if :meth:`save_on_completion` asked.

        :returns: ``self``.
        :raises MalformedCrlError: an uncommon entry does not decode (every later call
            raises it again), or over :data:`~jukicard.pki.crlslow.MAX_REFERENCE_DECODES`.
        """
        if self._pending is None:
            return self
        with self._lock:
            if self._failed is not None:
                raise self._failed
            pending = self._pending
            if pending is not None:
                try:
                    arrays, meta = _finish(pending)
                except MalformedCrlError as exc:
                    self._failed = exc
                    raise
                meta["crl_sha256"] = self.crl_sha256
                self._adopt(arrays, meta)
                self._pending = None
                if self._save_to is not None:
                    self._save_quietly(*self._save_to)
        return self

    def save_on_completion(self, path: str | os.PathLike[str], *, crl_sha256: str) -> None:
        """:meth:`save` the index now if it is complete, else when :meth:`complete` runs
        (best effort: an ``OSError`` is logged)."""
        if self._pending is None:
            self._save_quietly(os.fspath(path), crl_sha256)
        else:
            self._save_to = (os.fspath(path), crl_sha256)

    def _save_quietly(self, path: str, crl_sha256: str) -> None:
        try:
            self.save(path, crl_sha256=crl_sha256)
        except OSError as exc:
            log.info("CRL index not saved: %s", exc)

    @property
    def issuers(self) -> tuple[bytes, ...]:
        """DER of the certificate issuers the entries apply to (the CRL issuer first)."""
        return self.complete()._issuers

    @property
    def unusable_reason(self) -> Reason | None:
        """An entry carries an unrecognised critical extension (RFC 5280 §5.3: unusable)."""
        return self.complete()._unusable

    @property
    def duplicates(self) -> int:
        """Number of extra copies of an ``(issuer, serial)`` already listed."""
        return self.complete()._duplicates

    @property
    def stray_certificate_issuer(self) -> bool:
        """A certificateIssuer entry extension in a CRL that is not indirect (RFC 5280
        §5.3.3: only indirect CRLs carry it; it was not applied)."""
        return self.complete()._stray

    # ------------------------------------------------------------------ look-ups
    def __len__(self) -> int:
        return self._n

    def _issuer_id(self, issuer_key: NameKey | None) -> int | None:
        self.complete()
        return 0 if issuer_key is None else self._issuer_ids.get(issuer_key)

    def _candidates(self, serial: int, iss: int) -> list[int]:
        """Positions (CRL order) of every entry for ``(serial, iss)``."""
        found = [p for (s, i), p in self._extra.items() if s == serial and i == iss]
        words = _words(serial)
        if words is None or self._n == 0:
            return found
        lo, mid, top = words
        if "mid" not in self._a and (mid, top) != ((_M64, _M64) if lo >> 63 else (0, 0)):
            return found
        h = _hash_int(lo, mid, top, iss) >> self._bits
        packed = self._a["packed"]
        i = int(np.searchsorted(packed, np.uint64(h << self._bits)))
        mask = (1 << self._bits) - 1
        while i < len(packed) and int(packed[i]) >> self._bits == h:
            pos = int(packed[i]) & mask
            if self._key_at(pos) == (lo, mid, top, iss):
                found.append(pos)
            i += 1
        return sorted(found)

    def _key_at(self, pos: int) -> tuple[int, int, int, int]:
        lo = int(self._a["lo"][pos])
        sign = _M64 if lo >> 63 else 0
        mid = int(self._a["mid"][pos]) if "mid" in self._a else sign
        top = int(self._a["top"][pos]) if "top" in self._a else sign
        iss = int(self._a["iss"][pos]) if "iss" in self._a else 0
        return lo, mid, top, iss

    def contains(self, serial: int, issuer_key: NameKey | None = None) -> bool:
        """Whether ``serial`` is listed (for ``issuer_key``; ``None``: the CRL issuer)."""
        iss = self._issuer_id(issuer_key)
        return iss is not None and bool(self._candidates(int(serial), iss))

    def contains_many(self, serials: Iterable[int] | np.ndarray,
                      issuer_key: NameKey | None = None) -> np.ndarray:
        """Membership of many serials at once (a NumPy ``bool`` array).

        Fastest with a NumPy integer array (serials of up to 64 bits); any iterable of
        Python ints is accepted.
        """
        iss = self._issuer_id(issuer_key)
        if isinstance(serials, np.ndarray) and serials.dtype.kind in "iu":
            q = serials.astype(np.int64) if serials.dtype.kind == "i" else serials
            lo = q.astype(np.uint64)
            sign = _sign_words(lo) if q.dtype.kind == "i" else np.zeros(len(q), np.uint64)
            mid, top = sign, sign
            wanted: list[int] | None = None
        else:
            wanted = [int(s) for s in serials]
            rows = [_words(s) or (0, 0, 0) for s in wanted]
            w = np.array(rows, dtype=np.uint64).reshape(-1, 3)
            lo, mid, top = w[:, 0].copy(), w[:, 1].copy(), w[:, 2].copy()
        out = np.zeros(len(lo), bool)
        if iss is None or self._n == 0:
            return out if wanted is None or not self._extra else self._extra_hits(
                out, wanted, iss)
        h = _hash_arrays(lo, mid, top, np.full(len(lo), iss, np.uint64))
        bits = np.uint64(self._bits)
        hq = h >> bits
        packed = self._a["packed"]
        buckets = self._a["buckets"]
        b = (h >> np.uint64(64 - _bucket_bits(self._n))).astype(np.int64)
        i = buckets[b].astype(np.int64)
        stop = buckets[b + 1].astype(np.int64)
        a_lo = self._a["lo"]
        a_mid, a_top, a_iss = self._a.get("mid"), self._a.get("top"), self._a.get("iss")
        mask = np.uint64((1 << self._bits) - 1)
        live = np.flatnonzero(i < stop)
        while len(live):
            p = packed[i[live]]
            same = (p >> bits) == hq[live]
            cand, p = live[same], p[same]
            if len(cand):
                pos = (p & mask).astype(np.int64)
                hit = a_lo[pos] == lo[cand]
                if a_mid is not None and a_top is not None:
                    hit &= (a_mid[pos] == mid[cand]) & (a_top[pos] == top[cand])
                else:  # every listed serial fits in 64 bits: lo and the sign decide
                    hit &= (mid[cand] == _sign_words(lo[cand])) & (top[cand] == mid[cand])
                if a_iss is not None:
                    hit &= a_iss[pos] == iss
                out[cand[hit]] = True
            i[live] += 1
            live = live[i[live] < stop[live]]
        if wanted is not None:
            if any(_words(s) is None for s in wanted):
                out &= np.array([_words(s) is not None for s in wanted], bool)
            if "mid" not in self._a:
                sign_ok = np.array([-(1 << 63) <= s < 1 << 63 for s in wanted], bool)
                out &= sign_ok
            if self._extra:
                out = self._extra_hits(out, wanted, iss)
        return out

    def _extra_hits(self, out: np.ndarray, wanted: list[int], iss: int | None) -> np.ndarray:
        for k, s in enumerate(wanted):
            if (s, iss) in self._extra:
                out[k] = True
        return out

    def entry(self, serial: int, issuer_key: NameKey | None = None) -> RevokedEntry | None:
        """The entry for ``serial`` (of ``issuer_key``; ``None``: the CRL issuer), decoded
        now, or ``None``.  Duplicates: the earliest revocationDate wins.

        :raises CrlIndexError: a loaded index without its CRL bytes.
        """
        iss = self._issuer_id(issuer_key)
        if iss is None:
            return None
        found = self._candidates(int(serial), iss)
        if not found:
            return None
        entries = [decode_entry(self.entry_der(p)).entry for p in found]
        return min(entries, key=lambda e: e.revoked_at)

    def entry_der(self, pos: int) -> bytes:
        """The DER of the entry at position ``pos`` (CRL order)."""
        if self._der is None:
            raise CrlIndexError("this CRL index was loaded without its CRL")
        return _entry_bytes(self._der, int(self._a["starts"][pos]))

    def strict_parser_finding(self, positions: np.ndarray, head: bytes, tail: bytes, *,
                              v2: bool, indirect: bool = True) -> tuple[Reason, str] | None:
        """Run ``cryptography``'s DER parser over the entries at ``positions`` (CRL order),
        wrapped in batches into a CRL with the TBS fields ``head`` (version v2, signature,
        issuer, times) and the outer ``tail`` (algorithm, signature): the first RFC 5280
        §5.3 finding, as :func:`jukicard.pki.conformance_crl.check_crl_entries` reports it
        (``indirect``: the CRL is indirect; elsewhere a certificateIssuer is a finding)."""
        for a in range(0, len(positions), _STRICT_BATCH):
            entries = b"".join(self.entry_der(int(p)) for p in positions[a:a + _STRICT_BATCH])
            wrapped = emit(0, 1, 16, emit(0, 1, 16, head + emit(0, 1, 16, entries)) + tail)
            try:
                with contained_deprecations():
                    for entry in load_x509_crl(wrapped):
                        for ext in entry.extensions:
                            if not v2:
                                return (Reason.CRL_VERSION, "has entry extensions but is not "
                                        "v2 (RFC 5280 §5.1.2.1)")
                            if ext.oid.dotted_string == _OID_CERT_ISSUER and not indirect:
                                return (Reason.CRL_ENTRY_EXTENSION_INVALID,
                                        "a certificateIssuer entry extension in a CRL that is "
                                        "not indirect (RFC 5280 §5.3.3)")
                            if ext.oid.dotted_string == _OID_CERT_ISSUER and not ext.critical:
                                return (Reason.CRL_ENTRY_EXTENSION_INVALID,
                                        "a certificateIssuer entry extension is not critical "
                                        "(RFC 5280 §5.3.3)")
            except Exception:  # any refusal of the DER parser is the finding
                return (Reason.CRL_ENTRY_EXTENSION_INVALID, "a CRL entry or entry extension "
                        "is not well-formed DER (RFC 5280 §5.3)")
        return None

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str], *, crl_sha256: str | None = None) -> None:
        """Write the index to ``path`` (for :meth:`load`; :func:`~jukicard.pki.crlindexfile.
        write_index`: a new ``mkstemp`` file renamed over ``path``), completing it first.

        :param crl_sha256: hex SHA-256 of the CRL (computed from the CRL when not given).
        :raises MalformedCrlError: see :meth:`complete`.
        :raises OSError: the file cannot be written.
        """
        self.complete()
        sha = crl_sha256 or self.crl_sha256
        if sha is None:
            if self._der is None:
                raise CrlIndexError("the CRL's SHA-256 is unknown")
            sha = hashlib.sha256(self._der).hexdigest()
        write_index(path, self._a, dict(self._meta, crl_sha256=sha))

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, crl_sha256: str,
             der: bytes | memoryview | mmap.mmap | None = None) -> CrlIndex:
        """Memory-map an index saved by :meth:`save` (trust: see
        :mod:`jukicard.pki.crlindexfile`).

        :param crl_sha256: hex SHA-256 of the CRL the caller holds; the index must be of it.
        :param der: that CRL's bytes, needed by :meth:`entry` (the caller vouches that they
            hash to ``crl_sha256``).
        :raises CrlIndexError: damaged, of another CRL, or of an older format.
        :raises OSError: the file cannot be read.
        """
        arrays, meta = read_index(path, crl_sha256)
        return cls(arrays=arrays, meta=meta, der=der)


def _starts_array(starts: np.ndarray, size: int) -> np.ndarray:
    out: np.ndarray = starts.astype(np.uint32 if size < 1 << 32 else np.uint64)
    return out


def _finish(p: _Pending) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Decode the uncommon entries of ``p`` and build the look-up arrays."""
    scan, buf = p.scan, p.buf
    starts = scan.starts
    n = len(starts)
    lo, mid, top = scan.lo, scan.mid, scan.top
    keys: dict[NameKey, int] = {p.issuer_key: 0}
    issuers = [p.issuer_der]
    issuer_key = IssuerKeys()
    marks: list[tuple[int, int]] = []
    unusable = stray = False
    valid = np.ones(n, bool)
    extra_pos: list[tuple[int, int]] = []
    slow = p.slow.tolist()
    for a in range(0, len(slow), _DECODE_CHUNK):
        chunk = slow[a:a + _DECODE_CHUNK]
        decoded = decode_entries([_entry_bytes(buf, int(starts[pos])) for pos in chunk])
        for pos, dec in zip(chunk, decoded, strict=True):
            unusable = unusable or dec.unknown_critical
            if dec.certificate_issuer is not None:
                if not p.indirect:  # RFC 5280 §5.3.3: only in indirect CRLs; not applied
                    stray = True
                else:
                    key = issuer_key(dec.certificate_issuer)
                    if key not in keys:
                        keys[key] = len(issuers)
                        issuers.append(dec.certificate_issuer)
                    marks.append((pos, keys[key]))
            words = _words(dec.entry.serial)
            sign = _M64 if words is not None and words[0] >> 63 else 0
            if words is None or (mid is None and words[1:] != (sign, sign)):
                if words is not None:  # a serial wider than 64 bits: keep all three words
                    mid, top = _sign_words(lo), _sign_words(lo)
                else:
                    valid[pos] = False
                    extra_pos.append((dec.entry.serial, pos))
                    continue
            lo[pos] = words[0]
            if mid is not None and top is not None:
                mid[pos], top[pos] = words[1], words[2]
    iss = np.zeros(n, np.int32)
    if marks:
        at = np.zeros(n, np.int64)
        ids = np.zeros(n + 1, np.int32)
        for k, (pos, ident) in enumerate(marks, start=1):
            at[pos] = k
            ids[k] = ident
        iss = ids[np.maximum.accumulate(at)]
    extra = [[str(s), int(iss[q]), q] for s, q in extra_pos]
    arrays = {"lo": lo, "starts": _starts_array(starts, len(buf)), "slow": p.slow}
    if mid is not None and top is not None:
        arrays["mid"], arrays["top"] = mid, top
    if marks:
        arrays["iss"] = iss
    bits = max(1, n.bit_length())
    packed = np.empty(n, np.uint64)
    shift = np.uint64(bits)
    for a in range(0, n, 1 << 15):  # cache-sized chunks
        z = min(a + (1 << 15), n)
        sw = _sign_words(lo[a:z])
        h = _hash_arrays(lo[a:z], mid[a:z] if mid is not None else sw,
                         top[a:z] if top is not None else sw, iss[a:z].astype(np.uint64))
        packed[a:z] = (h >> shift << shift) | np.arange(a, z, dtype=np.uint64)
    if not valid.all():
        packed = packed[valid]
    packed.sort()
    arrays["packed"] = packed
    arrays["buckets"] = _buckets(packed, n)
    max_run, duplicates = _runs(packed, bits, arrays)
    if duplicates > MAX_DUPLICATES:
        raise MalformedCrlError(f"the CRL lists certificates more than once ({duplicates} "
                                f"repeats, at most {MAX_DUPLICATES})")
    meta = {"n": n, "bits": bits, "max_run": max_run, "issuers": [d.hex() for d in issuers],
            "extra": extra, "first_extension": scan.first_extension,
            "unusable": unusable, "duplicates": duplicates, "stray_certificate_issuer": stray}
    return arrays, meta


def _entry_bytes(buf: bytes | memoryview | mmap.mmap, start: int) -> bytes:
    _, hdr, length = read_header(buf, start, len(buf))
    return bytes(buf[start:start + hdr + length])


def _bucket_bits(n: int) -> int:
    return max(1, min(32, n.bit_length() - 1))


def _buckets(packed: np.ndarray, n: int) -> np.ndarray:
    """Offsets into ``packed`` of each value of its top ``_bucket_bits(n)`` bits (a
    directory: a look-up reads one bucket, one or two entries, instead of a binary search)."""
    d = _bucket_bits(n)
    counts = np.bincount((packed >> np.uint64(64 - d)).astype(np.intp), minlength=1 << d)
    out = np.zeros((1 << d) + 1, np.uint32 if len(packed) < 1 << 32 else np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _runs(packed: np.ndarray, bits: int, arrays: dict[str, np.ndarray]) -> tuple[int, int]:
    """Longest run of equal hashes, and the number of duplicate keys."""
    if len(packed) < 2:
        return (1 if len(packed) else 0), 0
    h = packed >> np.uint64(bits)
    same = np.flatnonzero(h[1:] == h[:-1])
    if not len(same):
        return 1, 0
    max_run = 2  # (informational only: look-ups read buckets)
    mask = np.uint64((1 << bits) - 1)
    a = (packed[same] & mask).astype(np.int64)
    b = (packed[same + 1] & mask).astype(np.int64)
    dup = arrays["lo"][a] == arrays["lo"][b]
    for name in ("mid", "top", "iss"):
        if name in arrays:
            dup &= arrays[name][a] == arrays[name][b]
    return max_run, int(dup.sum())
