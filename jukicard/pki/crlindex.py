"""A compact index of a CRL's revoked serial numbers, built with NumPy over the raw DER.

:meth:`CrlIndex.ingest` scans the entry list once (:mod:`jukicard.pki.crlscan`: no Python
object per entry for the common entry shapes) and keeps, per entry, its serial number as
three 64-bit words, its offset in the DER and, for an indirect CRL, the certificate issuer it
applies to.  Look-ups hash ``(serial, issuer)`` into one sorted ``uint64`` array
(``np.searchsorted``: O(log n), batched with :meth:`CrlIndex.contains_many`).  The entry's
details (revocationDate, reasonCode, invalidityDate) are decoded only for the entry that
matched (:meth:`CrlIndex.entry`, asn1crypto).

Duplicates: a CRL may list the same ``(certificate issuer, serial)`` more than once (RFC 5280
does not forbid it).  Every copy is kept; :meth:`CrlIndex.entry` answers with the copy of the
**earliest revocationDate** (the first listed among equal dates), the conservative reading.
:attr:`CrlIndex.duplicates` counts the extra copies.

An index can be saved (:meth:`CrlIndex.save`) and memory-mapped back
(:meth:`CrlIndex.load`): the file records the SHA-256 of the CRL it indexes, which the caller
must give (the index is refused for any other CRL), and a SHA-256 over its own header and
arrays (a changed byte is refused).  The file is as trusted as the code that reads it: keep
it where only the verifier writes.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import mmap
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from asn1crypto import crl as _crl
from asn1crypto import x509 as _x509
from asn1crypto.parser import emit

from jukicard.pki.backend import contained_deprecations, load_x509_crl
from jukicard.pki.crlscan import SLOW, entry_starts, layout, read_header, scan_entries
from jukicard.pki.errors import MalformedCrlError
from jukicard.pki.names import NameKey, name_key
from jukicard.pki.reasons import Reason

__all__ = ["CrlIndex", "CrlIndexError", "RevokedEntry", "REASON_NAMES", "decode_entry",
           "DecodedEntry"]

#: asn1crypto reason names → RFC 5280 names.
REASON_NAMES: Mapping[str, str] = MappingProxyType({
    "unspecified": "unspecified",
    "key_compromise": "keyCompromise",
    "ca_compromise": "cACompromise",
    "affiliation_changed": "affiliationChanged",
    "superseded": "superseded",
    "cessation_of_operation": "cessationOfOperation",
    "certificate_hold": "certificateHold",
    "remove_from_crl": "removeFromCRL",
    "privilege_withdrawn": "privilegeWithdrawn",
    "aa_compromise": "aACompromise",
})
_KNOWN_ENTRY_EXTENSIONS = frozenset({
    "crl_reason", "invalidity_date", "certificate_issuer", "hold_instruction_code",
})
_M64 = (1 << 64) - 1
_K1, _K2, _K3, _K4 = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0xFF51AFD7ED558CCD)
_MAGIC = b"JUKICARD-CRL-INDEX-1\n"
_STRICT_BATCH = 4096
_OID_CERT_ISSUER = "2.5.29.29"
_ALIGN = 64


class CrlIndexError(MalformedCrlError):
    """A saved index is damaged, tampered with, or made for another CRL."""


@dataclass(frozen=True)
class RevokedEntry:
    """One revoked certificate.

    :ivar serial: its serial number.
    :ivar revoked_at: revocationDate.
    :ivar reason: RFC 5280 reason name (``"keyCompromise"``...) or ``None`` when absent.
    :ivar invalidity_date: optional invalidityDate.
    """

    serial: int
    revoked_at: _dt.datetime
    reason: str | None = None
    invalidity_date: _dt.datetime | None = None


@dataclass(frozen=True)
class DecodedEntry:
    """An entry decoded with asn1crypto: the entry, the DER of its certificateIssuer
    DirName (or ``None``), and whether it carries an unrecognised critical extension."""

    entry: RevokedEntry
    certificate_issuer: bytes | None
    unknown_critical: bool


def _aware(value: Any) -> _dt.datetime:
    if not isinstance(value, _dt.datetime):
        raise MalformedCrlError("CRL time is not a date-time")
    return value if value.tzinfo is not None else value.replace(tzinfo=_dt.UTC)


def decode_entry(der: bytes) -> DecodedEntry:
    """Decode one revokedCertificates entry (the reference reading, asn1crypto).

    :raises MalformedCrlError: empty or non-INTEGER serial, a bad time, a duplicate entry
        extension, a certificateIssuer without a directoryName, or anything undecodable.
    """
    try:
        rc = _crl.RevokedCertificate.load(der, strict=True)
        if not rc["user_certificate"].contents:
            raise MalformedCrlError("empty serial number INTEGER in a CRL entry")
        serial = rc["user_certificate"].native
        if not isinstance(serial, int):
            raise MalformedCrlError("CRL entry serial is not an integer")
        revoked_at = _aware(rc["revocation_date"].native)
        reason = inv = issuer = None
        unknown = False
        seen: set[str] = set()
        for ext in rc["crl_entry_extensions"]:
            oid = ext["extn_id"].dotted
            if oid in seen:
                raise MalformedCrlError("duplicate CRL entry extension")
            seen.add(oid)
            name = ext["extn_id"].native
            if name not in _KNOWN_ENTRY_EXTENSIONS:
                unknown = unknown or bool(ext["critical"].native)
                continue
            value = ext["extn_value"].parsed
            if name == "crl_reason":
                reason = REASON_NAMES.get(value.native, str(value.native))
            elif name == "invalidity_date":
                inv = _aware(value.native)
            elif name == "certificate_issuer":
                dns = [gn.chosen for gn in value if gn.name == "directory_name"]
                if not dns:
                    raise MalformedCrlError("certificateIssuer without a directoryName")
                issuer = bytes(dns[0].untag().dump())
            else:
                _ = value.native  # hold instruction: decoded, not used
    except MalformedCrlError:
        raise
    except Exception as exc:  # asn1crypto ValueError/TypeError...: never leak
        raise MalformedCrlError("malformed CRL entry") from exc
    return DecodedEntry(RevokedEntry(serial, revoked_at, reason, inv), issuer, unknown)


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


class CrlIndex:
    """The revoked serial numbers of one CRL (see the module doc).

    Build it with :meth:`ingest` or :meth:`load`; it is immutable and may be shared between
    threads.  ``len()`` is the number of entries.
    """

    def __init__(self, *, arrays: dict[str, np.ndarray], meta: dict[str, Any],
                 der: bytes | memoryview | mmap.mmap | None) -> None:
        self._a = arrays
        self._meta = meta
        self._der = der
        self._n = int(meta["n"])
        self._bits = int(meta["bits"])
        self._max_run = int(meta["max_run"])
        self.issuers: tuple[bytes, ...] = tuple(bytes.fromhex(h) for h in meta["issuers"])
        self._issuer_ids = {name_key(_x509.Name.load(d)): i for i, d in enumerate(self.issuers)}
        self._extra = {(int(s), int(i)): int(p) for s, i, p in meta["extra"]}
        #: positions (CRL order) of the entries not of a common shape.
        self.slow_positions: np.ndarray = arrays["slow"]
        #: position of the first common-shape entry with an extension, or -1.
        self.first_extension: int = int(meta["first_extension"])
        #: an entry carries an unrecognised critical extension (RFC 5280 §5.3: unusable).
        self.unusable_reason: Reason | None = Reason.CRL_UNKNOWN_CRITICAL \
            if meta["unusable"] else None
        #: number of extra copies of an ``(issuer, serial)`` already listed.
        self.duplicates: int = int(meta["duplicates"])
        self.crl_sha256: str | None = meta.get("crl_sha256")

    # ------------------------------------------------------------------ building
    @classmethod
    def ingest(cls, der: bytes | memoryview | str | os.PathLike[str]) -> CrlIndex:
        """Index the CRL ``der`` (DER bytes, or a file path, memory-mapped).

        The CRL's signature is not checked here (see :class:`jukicard.pki.crl.Crl`).

        :raises MalformedCrlError: the framing or an entry does not parse.
        :raises OSError: the file cannot be read.
        """
        buf: bytes | memoryview | mmap.mmap
        if isinstance(der, (bytes, bytearray, memoryview)):
            buf = der if not isinstance(der, bytearray) else bytes(der)
        else:
            with open(os.fspath(der), "rb") as f:
                buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        lay = layout(buf)
        issuer = _crl.CertificateList.load(lay.header_der)["tbs_cert_list"]["issuer"]
        return cls.build(buf, lay.entries, bytes(issuer.dump()), name_key(issuer))

    @classmethod
    def build(cls, buf: bytes | memoryview | mmap.mmap, span: tuple[int, int] | None,
              issuer_der: bytes, issuer_key: NameKey) -> CrlIndex:
        """Index the entry list whose content is ``buf[span[0]:span[1]]`` (``None``: no list)
        of a CRL issued by ``issuer_der`` (whose §7.1 key is ``issuer_key``); used by
        :meth:`ingest` and by :class:`jukicard.pki.crl.Crl`, which found the span already.

        :raises MalformedCrlError: an entry does not parse.
        """
        arr = np.frombuffer(buf, np.uint8)
        starts = entry_starts(arr, *span) if span else np.zeros(0, np.int64)
        scan = scan_entries(arr, starts, span[1] if span else 0)
        n = len(starts)
        lo, mid, top = scan.lo, scan.mid, scan.top
        keys: dict[NameKey, int] = {issuer_key: 0}
        issuers = [issuer_der]
        marks: list[tuple[int, int]] = []
        unusable = False
        valid = np.ones(n, bool)
        extra_pos: list[tuple[int, int]] = []
        slow = np.flatnonzero(scan.kind == SLOW)
        for pos in slow.tolist():
            dec = decode_entry(_entry_bytes(buf, int(starts[pos])))
            unusable = unusable or dec.unknown_critical
            if dec.certificate_issuer is not None:
                key = name_key(_x509.Name.load(dec.certificate_issuer))
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
        extra = [[str(s), int(iss[p]), p] for s, p in extra_pos]
        arrays = {"lo": lo, "starts": starts.astype(np.uint32 if len(buf) < 1 << 32
                                                    else np.uint64),
                  "slow": slow.astype(np.int64)}
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
                             top[a:z] if top is not None else sw,
                             iss[a:z].astype(np.uint64))
            packed[a:z] = (h >> shift << shift) | np.arange(a, z, dtype=np.uint64)
        if not valid.all():
            packed = packed[valid]
        packed.sort()
        arrays["packed"] = packed
        arrays["buckets"] = _buckets(packed, n)
        max_run, duplicates = _runs(packed, bits, arrays)
        meta = {"n": n, "bits": bits, "max_run": max_run, "issuers": [d.hex() for d in issuers],
                "extra": extra, "first_extension": scan.first_extension,
                "unusable": unusable, "duplicates": duplicates}
        return cls(arrays=arrays, meta=meta, der=buf)

    # ------------------------------------------------------------------ look-ups
    def __len__(self) -> int:
        return self._n

    def _issuer_id(self, issuer_key: NameKey | None) -> int | None:
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
                              v2: bool) -> tuple[Reason, str] | None:
        """Run ``cryptography``'s DER parser over the entries at ``positions`` (CRL order),
        wrapped in batches into a CRL with the TBS fields ``head`` (version v2, signature,
        issuer, times) and the outer ``tail`` (algorithm, signature): the first RFC 5280
        §5.3 finding, as :func:`jukicard.pki.conformance.check_crl_entries` reports it."""
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
        """Write the index to ``path`` (for :meth:`load`).

        :param crl_sha256: hex SHA-256 of the CRL (computed from the CRL when not given).
        """
        sha = crl_sha256 or self.crl_sha256
        if sha is None:
            if self._der is None:
                raise CrlIndexError("the CRL's SHA-256 is unknown")
            sha = hashlib.sha256(self._der).hexdigest()
        names = sorted(self._a)
        layout_: dict[str, list[Any]] = {}
        off = 0
        for name in names:
            a = self._a[name]
            off = -(-off // _ALIGN) * _ALIGN
            layout_[name] = [off, a.dtype.str, len(a)]
            off += a.nbytes
        meta = dict(self._meta, crl_sha256=sha, arrays=layout_)
        head = json.dumps(meta, sort_keys=True).encode()
        digest = hashlib.sha256(head)
        body_start = -(-(len(_MAGIC) + 8 + 64 + len(head)) // _ALIGN) * _ALIGN
        tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(_MAGIC + len(head).to_bytes(8, "big") + b"\0" * 64 + head)
            pos = 0
            for name in names:
                start = layout_[name][0]
                pad = b"\0" * (body_start + start - f.tell())
                digest.update(pad)
                f.write(pad)
                raw = np.ascontiguousarray(self._a[name]).tobytes()
                digest.update(raw)
                f.write(raw)
                pos = start
            del pos
            f.seek(len(_MAGIC) + 8)
            f.write(digest.hexdigest().encode())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, crl_sha256: str,
             der: bytes | memoryview | mmap.mmap | None = None) -> CrlIndex:
        """Memory-map an index saved by :meth:`save`.

        :param crl_sha256: hex SHA-256 of the CRL the caller holds; the index must be of it.
        :param der: that CRL's bytes, needed by :meth:`entry` (the caller vouches that they
            hash to ``crl_sha256``).
        :raises CrlIndexError: damaged, tampered with, or of another CRL.
        :raises OSError: the file cannot be read.
        """
        with open(os.fspath(path), "rb") as f:
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            if mm[:len(_MAGIC)] != _MAGIC:
                raise CrlIndexError("not a CRL index file")
            hlen = int.from_bytes(mm[len(_MAGIC):len(_MAGIC) + 8], "big")
            stored = bytes(mm[len(_MAGIC) + 8:len(_MAGIC) + 72]).decode("ascii")
            h0 = len(_MAGIC) + 72
            head = bytes(mm[h0:h0 + hlen])
            digest = hashlib.sha256(head)
            body_start = -(-(h0 + hlen) // _ALIGN) * _ALIGN
            digest.update(memoryview(mm)[h0 + hlen:])
            if digest.hexdigest() != stored:
                raise CrlIndexError("the CRL index file is damaged or was changed")
            meta = json.loads(head)
            if meta.get("crl_sha256") != crl_sha256.lower():
                raise CrlIndexError("the CRL index was made for another CRL")
            arrays = {}
            for name, (off, dtype, count) in meta["arrays"].items():
                arrays[name] = np.frombuffer(mm, dtype=np.dtype(dtype), count=count,
                                             offset=body_start + off)
        except CrlIndexError:
            raise
        except Exception as exc:
            raise CrlIndexError("the CRL index file does not parse") from exc
        return cls(arrays=arrays, meta=meta, der=der)


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
