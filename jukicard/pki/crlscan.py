"""The vectorised scan of a CRL's revokedCertificates list (NumPy over the raw DER bytes).

:func:`layout` reads the few TLV headers around the entry list (CertificateList, TBSCertList
and its fields) and builds a small *header* CertificateList without the list (for asn1crypto);
:func:`entry_starts` finds where every entry starts without a Python step per entry;
:func:`scan_entries` reads each entry's serial number into fixed-width 64-bit words and
classifies it:

* a **fast** entry has one of the common shapes, checked completely here: a DER SEQUENCE with a
  short length, a minimal INTEGER serial of 1–21 octets, a UTCTime ``YYMMDDHHMMSSZ`` or
  GeneralizedTime ``YYYYMMDDHHMMSSZ`` revocationDate naming a real calendar second, and either
  no extensions, or exactly one non-critical reasonCode (a defined code), or exactly one
  non-critical invalidityDate (GeneralizedTime, checked as the revocationDate), or both
  (reasonCode first);
* every other entry is **slow**: :mod:`jukicard.pki.crlindex` decodes it with asn1crypto at
  ingest (certificateIssuer, unknown critical extensions, odd encodings...).

Finding the entry starts: the entries are TLVs laid end to end, so their starts are a chain.
Pass 1 takes every ``30 LL 02`` as a candidate, keeps those shaped like an entry and checks
that they tile the list exactly (each candidate's end is the next candidate's start, the first
starts the list and the last ends it): if so they *are* the chain.  Otherwise (a serial number
containing an entry-like byte run, long-form lengths, hostile input), pass 2 takes every
``30 <definite length> 02`` and resolves the chain from the first entry by pointer doubling
(``O(n log n)`` NumPy gathers); a chain that leaves the list or does not end exactly at its end
is a :class:`~jukicard.pki.errors.MalformedCrlError`.

Candidate memory is bounded: the shortest entry is 20 octets (``30 12 02 01 vv 17 0d`` and a
13-octet UTCTime), so a list of ``L`` octets holds at most ``L/20`` entries, and random
serial numbers add about one false candidate per 64 KiB.  A list with more than
:func:`candidate_cap` (``L/16 + 4096``) candidates in either pass is a byte pattern made to
look like entries (or a CA choosing serial numbers full of ``30 xx 02``): it is refused as
soon as the count passes the cap, so the candidate arrays stay within about the size of the
list (16 octets a candidate) and the chain resolution within a few times it.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass

import numpy as np
from asn1crypto import parser as _parser

from jukicard.pki.errors import MalformedCrlError

__all__ = ["Layout", "Scan", "layout", "read_header", "entry_starts", "scan_entries",
           "candidate_cap",
           "FAST_NONE", "FAST_REASON", "FAST_INVALIDITY", "FAST_BOTH", "SLOW"]

#: What the scanner reads: bytes, a view, or a memory-mapped file.
Buffer = bytes | memoryview | mmap.mmap

#: Entry kinds.
FAST_NONE, FAST_REASON, FAST_INVALIDITY, FAST_BOTH, SLOW = 0, 1, 2, 3, 4

_CHUNK = 1 << 20          # bytes per candidate-search chunk
_ENTRY_CHUNK = 1 << 15    # entries per field-extraction chunk
_REASON_EXT = np.frombuffer(bytes.fromhex("300c300a0603551d1504030a01"), np.uint8)
_INVALIDITY_EXT = np.frombuffer(bytes.fromhex("301a30180603551d180411180f"), np.uint8)
_BOTH_EXT = np.frombuffer(bytes.fromhex("3026300a0603551d1504030a010030180603551d180411180f"),
                          np.uint8)
_REASON_OK = np.zeros(256, dtype=bool)
_REASON_OK[[0, 1, 2, 3, 4, 5, 6, 8, 9, 10]] = True
_DIGITS_HI = np.uint64(0xF0F0F0F0F0F0F0F0)
_DIGITS_LO = np.uint64(0x0F0F0F0F0F0F0F0F)
_DIGITS_30 = np.uint64(0x3030303030303030)
_SIX = np.uint64(0x0606060606060606)
_DAYS_U = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.uint64)


def read_header(buf: Buffer, off: int, end: int) -> tuple[int, int, int]:
    """``(tag, header length, content length)`` of the DER TLV at ``off`` (within ``end``).

    :raises MalformedCrlError: truncated, indefinite or non-minimal length, or past ``end``.
    """
    if off + 2 > end:
        raise MalformedCrlError("malformed CRL (truncated TLV)")
    tag, first = buf[off], buf[off + 1]
    if tag & 0x1F == 0x1F:
        raise MalformedCrlError("malformed CRL (multi-octet tag)")
    if first < 0x80:
        hdr, length = 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or off + 2 + count > end:
            raise MalformedCrlError("malformed CRL (indefinite or oversized length)")
        length = int.from_bytes(bytes(buf[off + 2:off + 2 + count]), "big")
        if length < 0x80 or length >> (8 * (count - 1)) == 0:
            raise MalformedCrlError("malformed CRL (BER framing: non-minimal length)")
        hdr = 2 + count
    if off + hdr + length > end:
        raise MalformedCrlError("malformed CRL (a length points past the end)")
    return tag, hdr, length


@dataclass(frozen=True)
class Layout:
    """Where the parts of a CRL are.

    :ivar tbs: ``(start, end)`` of the TBSCertList TLV (the signed bytes).
    :ivar entries: ``(start, end)`` of the revokedCertificates *content*, or ``None``.
    :ivar header_der: the CertificateList without revokedCertificates (for asn1crypto).
    """

    tbs: tuple[int, int]
    entries: tuple[int, int] | None
    header_der: bytes


def _children(buf: Buffer, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    off = start
    while off < end:
        tag, hdr, length = read_header(buf, off, end)
        out.append((tag, off, off + hdr + length))
        off += hdr + length
    return out


def layout(der: Buffer) -> Layout:
    """Find the TBSCertList and the entry list of a CRL, reading only TLV headers.

    :raises MalformedCrlError: if the outer framing is not a CertificateList's.
    """
    size = len(der)
    tag, hdr, length = read_header(der, 0, size)
    if tag != 0x30 or hdr + length != size:
        raise MalformedCrlError("malformed CRL (not one DER SEQUENCE)")
    outer = _children(der, hdr, size)
    if len(outer) != 3 or outer[0][0] != 0x30:
        raise MalformedCrlError("malformed CRL (not a CertificateList)")
    t_tag, t_start, t_end = outer[0]
    _, t_hdr, _ = read_header(der, t_start, t_end)
    fields = _children(der, t_start + t_hdr, t_end)
    times = [i for i, f in enumerate(fields) if f[0] in (0x17, 0x18)]
    entries: tuple[int, int] | None = None
    kept = fields
    if times:
        last_time = times[1] if len(times) > 1 and times[1] == times[0] + 1 else times[0]
        nxt = last_time + 1
        if nxt < len(fields) and fields[nxt][0] == 0x30:
            _, l_start, l_end = fields[nxt]
            _, l_hdr, _ = read_header(der, l_start, l_end)
            entries = (l_start + l_hdr, l_end)
            kept = fields[:nxt] + fields[nxt + 1:]
    tbs_content = b"".join(bytes(der[s:e]) for _, s, e in kept)
    rest = b"".join(bytes(der[s:e]) for _, s, e in outer[1:])
    header = _parser.emit(0, 1, 16, _parser.emit(0, 1, 16, tbs_content) + rest)
    return Layout((t_start, t_end), entries, header)


# ------------------------------------------------------------------ entry starts
def _window(buf: np.ndarray) -> np.ndarray:
    """Big-endian 64-bit words starting at every byte offset (a strided view, no copy)."""
    n = max(len(buf) - 7, 0)
    return np.ndarray(shape=(n,), dtype=">u8", buffer=buf.data, offset=0, strides=(1,))


def candidate_cap(size: int) -> int:
    """The most entry candidates a list of ``size`` octets may have (see the module doc)."""
    return size // 16 + 4096


def _over_cap(count: int, cap: int) -> None:
    if count > cap:
        raise MalformedCrlError(
            f"malformed CRL (more than {cap} entry-like byte patterns in the entry list: "
            "not a list of entries)")


def _short_candidates(buf: np.ndarray, start: int, end: int) -> np.ndarray:
    out: list[np.ndarray] = []
    cap, count = candidate_cap(end - start), 0
    for i in range(start, end, _CHUNK):
        stop = min(i + _CHUNK, end)
        x = buf[i:min(stop + 2, len(buf))]
        m = min(stop - i, len(x) - 2)
        hit = np.flatnonzero((x[:m] == 0x30) & (x[2:m + 2] == 0x02))
        count += len(hit)
        _over_cap(count, cap)
        out.append(hit + i)
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _all_candidates(buf: np.ndarray, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``30 <definite length> 02`` in ``[start, end)``, and each one's end."""
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    cap, found = candidate_cap(end - start), 0
    for i in range(start, end, _CHUNK):
        stop = min(i + _CHUNK, end)
        c = np.flatnonzero(buf[i:stop] == 0x30) + i
        b1 = buf[np.minimum(c + 1, end - 1)].astype(np.int64)
        count = np.where(b1 < 0x80, 0, b1 & 0x7F)
        ok = (c + 1 < end) & (count <= 3) & (b1 != 0x80)
        length = np.where(b1 < 0x80, b1, 0)
        for k in range(1, 4):
            byte = buf[np.minimum(c + 1 + k, end - 1)].astype(np.int64)
            length = np.where(count >= k, length * 256 + byte, length)
        hdr = 2 + count
        ok &= buf[np.minimum(c + hdr, end - 1)] == 0x02
        ok &= c + hdr < end
        found += int(ok.sum())
        _over_cap(found, cap)
        starts.append(c[ok])
        ends.append((c + hdr + length)[ok])
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(starts), np.concatenate(ends)


def _shape_filter(buf: np.ndarray, cand: np.ndarray, end: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Pass-1 candidates shaped like a short-form entry, and their ends (in cache-sized
    chunks)."""
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    for a in range(0, len(cand), _ENTRY_CHUNK):
        s, e = _shape_chunk(buf, cand[a:a + _ENTRY_CHUNK], end)
        starts.append(s)
        ends.append(e)
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(starts), np.concatenate(ends)


def _shape_chunk(buf: np.ndarray, c: np.ndarray, end: int) -> tuple[np.ndarray, np.ndarray]:
    last = end - 1
    b1 = buf[np.minimum(c + 1, last)].astype(np.int64)
    ls = buf[np.minimum(c + 3, last)].astype(np.int64)
    t = c + 4 + ls
    tag = buf[np.minimum(t, last)]
    tl = buf[np.minimum(t + 1, last)].astype(np.int64)
    e = c + 2 + b1
    te = t + 2 + tl
    ok = (b1 < 0x80) & (ls >= 1) & (ls <= 21) & (e <= end) & (te <= e)
    ok &= ((tag == 0x17) & (tl == 13)) | ((tag == 0x18) & (tl == 15))
    ok &= (te == e) | (buf[np.minimum(te, last)] == 0x30)
    return c[ok], e[ok]


def _tiles(starts: np.ndarray, ends: np.ndarray, begin: int, end: int) -> bool:
    return bool(len(starts) and starts[0] == begin and ends[-1] == end
                and np.array_equal(ends[:-1], starts[1:]))


def _drop_inner_candidates(starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """Pass 1½: where a candidate's end is not the next candidate's start, drop the
    candidates up to the one starting there (a serial number that looks like an entry).
    Only for a few such places; the caller checks the result tiles the list."""
    bad = np.flatnonzero(ends[:-1] != starts[1:])
    if len(bad) > 1000:
        return None
    keep = np.ones(len(starts), bool)
    for i in bad.tolist():
        if not keep[i]:
            continue
        j = int(np.searchsorted(starts, ends[i]))
        if j >= len(starts) or starts[j] != ends[i]:
            return None
        keep[i + 1:j] = False
    return np.flatnonzero(keep)


def _resolve_chain(starts: np.ndarray, ends: np.ndarray, begin: int, end: int) -> np.ndarray:
    """The chain of candidates from ``begin`` to exactly ``end``, by pointer doubling: after
    round ``j`` the reached set holds the chain's first ``2**(j+1)`` entries (the chain's
    offsets strictly increase, so the rounds are at most ``log2(n) + 2``).

    :raises MalformedCrlError: the chain breaks or does not end exactly at ``end``.
    """
    n = len(starts)
    if n == 0 or starts[0] != begin:
        raise MalformedCrlError("malformed CRL (the entry list does not parse)")
    done, dead = n, n + 1
    j = np.searchsorted(starts, ends)
    hit = (j < n) & (starts[np.minimum(j, n - 1)] == ends)
    jump = np.where(hit, j, np.where(ends == end, done, dead)).astype(np.int64)
    jump = np.concatenate([jump, np.array([done, dead], np.int64)])
    reached = np.zeros(1, np.int64)
    for _ in range(n.bit_length() + 2):
        step = jump[reached]
        if (step == dead).any():
            break
        reached = np.concatenate([reached, step])
        if (step == done).any():
            chain = np.sort(reached[reached < n])
            if _tiles(starts[chain], ends[chain], begin, end):
                return starts[chain]
            break
        jump = jump[jump]
    raise MalformedCrlError("malformed CRL (the entry list does not parse)")


def entry_starts(buf: np.ndarray, begin: int, end: int) -> np.ndarray:
    """Offsets of the entries of the list content ``[begin, end)`` of ``buf`` (int64).

    :raises MalformedCrlError: if the list is not a sequence of DER TLVs tiling it exactly.
    """
    if begin == end:
        return np.zeros(0, np.int64)
    cand = _short_candidates(buf, begin, end)
    starts, ends = _shape_filter(buf, cand, end)
    if _tiles(starts, ends, begin, end):
        return starts
    repaired = _drop_inner_candidates(starts, ends)
    if repaired is not None and _tiles(starts[repaired], ends[repaired], begin, end):
        out: np.ndarray = starts[repaired]
        return out
    starts, ends = _all_candidates(buf, begin, end)
    return _resolve_chain(starts, ends, begin, end)


# ------------------------------------------------------------------ fields
@dataclass
class Scan:
    """Per entry (in CRL order): serial words, kind, and where it starts.

    :ivar lo: / :ivar mid: / :ivar top: the serial's two's-complement value, sign-extended
        to 192 bits, as three 64-bit words (``mid``/``top`` ``None`` when every serial fits
        in 64 bits).
    :ivar kind: ``FAST_*`` or ``SLOW``.
    :ivar first_extension: position of the first fast entry with an extension, or -1.
    """

    starts: np.ndarray
    lo: np.ndarray
    mid: np.ndarray | None
    top: np.ndarray | None
    kind: np.ndarray
    first_extension: int


def _digits_ok(w: np.ndarray, skip_low: int) -> np.ndarray:
    """Each byte of ``w`` but the ``skip_low`` lowest is an ASCII digit (SWAR)."""
    mask = np.uint64((1 << 64) - (1 << (8 * skip_low)))
    hi_ok = (w & _DIGITS_HI & mask) == (_DIGITS_30 & mask)
    lo_ok = (((w & _DIGITS_LO) + _SIX) & _DIGITS_HI & mask) == 0
    ok: np.ndarray = hi_ok & lo_ok
    return ok


_PAIR = np.uint64(0x000F000F000F000F)


def _lanes(w: np.ndarray) -> list[np.ndarray]:
    """The four two-digit numbers of a word of 8 ASCII digits (SWAR), most significant first."""
    pairs = ((w >> np.uint64(8)) & _PAIR) * np.uint64(10) + (w & _PAIR)
    return [(pairs >> np.uint64(s)) & np.uint64(0xFFFF) for s in (48, 32, 16, 0)]


def _times_ok(buf: np.ndarray, win: np.ndarray, at: np.ndarray, generalized: np.ndarray
              ) -> np.ndarray:
    """The UTCTime (13 octets) / GeneralizedTime (15) contents at ``at`` are DER and name a
    real second (years 1950–2049 / 0001–9999).

    Two 64-bit words per time: ``YYMMDDhh`` + ``DDhhmmss`` (UTCTime) or ``YYYYMMDD`` +
    ``DDhhmmss`` (GeneralizedTime), then the ``Z``."""
    g_any = bool(generalized.any())
    a = win[at].astype(np.uint64)
    b = win[at + (np.where(generalized, 6, 4) if g_any else 4)].astype(np.uint64)
    z = buf[at + (np.where(generalized, 14, 12) if g_any else 12)]
    ok = _digits_ok(a, 0) & _digits_ok(b, 0) & (z == ord("Z"))
    a0, a1, a2, _ = _lanes(a)
    day, hour, minute, second = _lanes(b)
    year = np.where(a0 < 50, a0 + np.uint64(2000), a0 + np.uint64(1900))
    month = a1
    if g_any:
        year = np.where(generalized, a0 * np.uint64(100) + a1, year)
        month = np.where(generalized, a2, a1)
    month_ok = (month >= 1) & (month <= 12)
    dim = _DAYS_U[np.where(month_ok, month, np.uint64(1))]
    feb29 = (month == 2) & (day == 29)
    if feb29.any():
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        dim = np.where(feb29 & ~leap, np.uint64(28), dim)
    ok &= month_ok & (day >= 1) & (day <= dim) & (hour <= 23) & (minute <= 59)
    ok &= (second <= 59) & (year >= 1)
    out: np.ndarray = ok
    return out


def _words(win: np.ndarray, buf: np.ndarray, p: np.ndarray, ls: np.ndarray, k: int
           ) -> np.ndarray:
    """Word ``k`` (0 = least significant) of the sign-extended serial at ``p`` (``ls`` long)."""
    avail = np.clip(ls - 8 * k, 0, 8)
    at = np.maximum(p + ls - 8 * (k + 1), 0)
    w = win[at].astype(np.uint64)
    neg = buf[p] >= 0x80
    bits = (8 * avail).astype(np.uint64)
    mask = np.where(avail >= 8, np.uint64(0xFFFFFFFFFFFFFFFF),
                    (np.uint64(1) << np.minimum(bits, np.uint64(63))) - np.uint64(1))
    mask = np.where(avail == 0, np.uint64(0), mask)
    out: np.ndarray = (w & mask) | np.where(neg, ~mask, np.uint64(0))
    return out


def scan_entries(buf: np.ndarray, starts: np.ndarray, end: int) -> Scan:
    """Read the serials and classify the entries starting at ``starts`` (see module doc)."""
    n = len(starts)
    win = _window(buf)
    last = len(buf) - 1
    lo = np.zeros(n, np.uint64)
    kind = np.zeros(n, np.uint8)
    ls_all = buf[np.minimum(starts + 3, last)]
    b1_all = buf[np.minimum(starts + 1, last)]
    wide = bool(n) and bool(((ls_all > 8) & (b1_all < 0x80)).any() or (b1_all >= 0x80).any())
    mid = np.zeros(n, np.uint64) if wide else None
    top = np.zeros(n, np.uint64) if wide else None
    first_ext = -1
    for a in range(0, n, _ENTRY_CHUNK):
        c = starts[a:a + _ENTRY_CHUNK]
        b1 = buf[c + 1].astype(np.int64)
        e = c + 2 + b1
        ls = buf[np.minimum(c + 3, last)].astype(np.int64)
        p = c + 4
        t = p + ls
        ok = (b1 < 0x80) & (buf[np.minimum(c + 2, last)] == 0x02) & (ls >= 1) & (ls <= 21)
        ok &= t + 15 <= e
        first = buf[np.minimum(p, last)]
        second = buf[np.minimum(p + 1, last)]
        ok &= (ls == 1) | ~(((first == 0) & (second < 0x80)) | ((first == 0xFF) & (second >= 0x80)))
        tag = buf[np.minimum(t, last)]
        tl = buf[np.minimum(t + 1, last)]
        gen = tag == 0x18
        ok &= ((tag == 0x17) & (tl == 13)) | (gen & (tl == 15))
        te = t + 2 + np.where(gen, 15, 13)
        ok &= te <= e
        safe = np.where(ok, t + 2, 0)
        ok &= _times_ok(buf, win, safe, gen)
        k = np.full(len(c), SLOW, np.uint8)
        k[ok & (te == e)] = FAST_NONE
        rest = ok & (te < e)
        r_idx = np.flatnonzero(rest & (e - te == 14))
        if len(r_idx):
            block = buf[te[r_idx, None] + np.arange(13)]
            good = (block == _REASON_EXT).all(axis=1) & _REASON_OK[buf[te[r_idx] + 13]]
            k[r_idx[good]] = FAST_REASON
        i_idx = np.flatnonzero(rest & (e - te == 28))
        if len(i_idx):
            block = buf[te[i_idx, None] + np.arange(13)]
            good = (block == _INVALIDITY_EXT).all(axis=1)
            good &= _times_ok(buf, win, te[i_idx] + 13, np.ones(len(i_idx), bool))
            k[i_idx[good]] = FAST_INVALIDITY
        b_idx = np.flatnonzero(rest & (e - te == 40))
        if len(b_idx):
            block = buf[te[b_idx, None] + np.arange(25)]
            good = (block[:, :13] == _BOTH_EXT[:13]).all(axis=1)
            good &= (block[:, 14:] == _BOTH_EXT[14:]).all(axis=1)
            good &= _REASON_OK[block[:, 13]]
            good &= _times_ok(buf, win, te[b_idx] + 25, np.ones(len(b_idx), bool))
            k[b_idx[good]] = FAST_BOTH
        kind[a:a + len(c)] = k
        if first_ext < 0:
            has = np.flatnonzero((k != FAST_NONE) & (k != SLOW))
            if len(has):
                first_ext = a + int(has[0])
        fast = k != SLOW
        pf, lf = np.where(fast, p, 0), np.where(fast, ls, 1)
        lo[a:a + len(c)] = np.where(fast, _words(win, buf, pf, lf, 0), 0)
        if mid is not None and top is not None:
            mid[a:a + len(c)] = np.where(fast, _words(win, buf, pf, lf, 1), 0)
            top[a:a + len(c)] = np.where(fast, _words(win, buf, pf, lf, 2), 0)
    return Scan(starts, lo, mid, top, kind, first_ext)
