"""Large test CRLs, built fast with NumPy (issue 10): millions of entries in seconds.

cryptography's ``CertificateRevocationListBuilder`` is quadratic in the number of entries, so
the CRL-scale tests and benchmarks build the DER themselves: the small parts (version,
signature algorithm, issuer, times, CRL extensions) with asn1crypto, the revokedCertificates
list as rows of a NumPy array (one row per entry, filled column block by column block and
compacted), and the TBS is signed by hashing it in pieces with :mod:`hashlib` and signing the
digest with ``cryptography`` (``Prehashed``).  Nothing holds the whole CRL twice.

Shapes: serial numbers of a fixed or a random width (1–21 content octets, optionally negative,
all distinct), a revocationDate per entry (UTCTime, GeneralizedTime from 2050 on), a reasonCode
on a fraction of the entries, an invalidityDate on another fraction, and certificateIssuer
entry extensions at chosen positions (an indirect CRL).  Explicit serial numbers may be given
(duplicates included) for the tests.

Command line (writes the CRL, and the signer's certificate next to it)::

    python -m jukicard.testing.bigcrl --entries 10000000 --out /tmp/big.crl
    python -m jukicard.testing.bigcrl --entries 1000 --reason-fraction 0.3 --out /tmp/s.crl
    openssl crl -inform DER -in /tmp/s.crl -noout -text -CAfile /tmp/s.crl.ca.pem

Everything produced is synthetic TEST material.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from asn1crypto import algos as a_algos
from asn1crypto import crl as a_crl
from asn1crypto import parser as a_parser
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding

__all__ = ["Signer", "CrlShape", "make_signer", "crl_bytes", "write_crl", "main"]

_EPOCH_2050 = int(_dt.datetime(2050, 1, 1, tzinfo=_dt.UTC).timestamp())
_NB = _dt.datetime(2020, 1, 1, tzinfo=_dt.UTC)
#: reasonCode values a generated entry may carry (RFC 5280 §5.3.1; 7 is unused).
REASON_CODES = np.array([0, 1, 2, 3, 4, 5, 6, 8, 9, 10], dtype=np.uint8)
# extension prefixes (RFC 5280 §5.3.1 reasonCode, §5.3.2 invalidityDate)
_REASON_EXT = bytes.fromhex("300a0603551d150403 0a01".replace(" ", ""))
_INVALIDITY_EXT = bytes.fromhex("30180603551d1804111 80f".replace(" ", ""))


@dataclass(frozen=True)
class Signer:
    """A CRL issuer: its key and self-signed certificate (``cryptography`` objects)."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def name_der(self) -> bytes:
        return self.certificate.subject.public_bytes()

    @property
    def key_id(self) -> bytes:
        return self.certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier).value.digest


def make_signer(common_name: str = "jukicard bigcrl test CA", *, ec_key: bool = False,
                units: Sequence[str] = ()) -> Signer:
    """A fresh test CA (RSA-2048, or P-256 with ``ec_key``) allowed to sign CRLs; ``units``
    adds organizationalUnitName attributes (a long name)."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        ec.generate_private_key(ec.SECP256R1()) if ec_key
        else rsa.generate_private_key(public_exponent=65537, key_size=2048))
    name = x509.Name([x509.NameAttribute(x509.NameOID.ORGANIZATIONAL_UNIT_NAME, u)
                      for u in units]
                     + [x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(_NB).not_valid_after(_dt.datetime(2040, 1, 1, tzinfo=_dt.UTC))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256()))
    return Signer(key, cert)


@dataclass(frozen=True)
class CrlShape:
    """What to generate.

    :ivar entries: number of revoked entries (ignored when ``serials`` is given).
    :ivar serial_octets: content octets of each serial: one width, or ``(min, max)``.
    :ivar negative_fraction: share of negative serials (not profile-conforming; tests only).
    :ivar reason_fraction: share of entries with a reasonCode.
    :ivar invalidity_fraction: share of entries with an invalidityDate.
    :ivar generalized_fraction: share of revocation dates after 2049 (GeneralizedTime).
    :ivar certificate_issuers: entry position → DER Name: a critical certificateIssuer
        extension on that entry (it applies to the following entries too); the CRL then
        carries an issuingDistributionPoint with indirectCRL (RFC 5280 §5.3.3).
    :ivar serials: explicit serial numbers (duplicates allowed), instead of generated ones.
    """

    entries: int = 1000
    serial_octets: int | tuple[int, int] = 8
    negative_fraction: float = 0.0
    reason_fraction: float = 0.0
    invalidity_fraction: float = 0.0
    generalized_fraction: float = 0.0
    certificate_issuers: Mapping[int, bytes] | None = None
    serials: Sequence[int] | None = None
    seed: int = 0
    this_update: _dt.datetime = _dt.datetime(2024, 6, 1, tzinfo=_dt.UTC)
    next_update: _dt.datetime = _dt.datetime(2024, 7, 1, tzinfo=_dt.UTC)
    crl_number: int = 1
    chunk: int = 500_000


def _header(tag: int, length: int) -> bytes:
    """DER identifier and definite length (the generator frames the big list itself)."""
    if length < 0x80:
        return bytes([tag, length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw


def _serials(shape: CrlShape, rng: np.random.Generator, start: int, m: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """``(m, 21)`` right-aligned two's-complement serial contents and their lengths."""
    out = np.zeros((m, 21), dtype=np.uint8)
    if shape.serials is not None:
        lens = np.zeros(m, dtype=np.int64)
        for r, value in enumerate(shape.serials[start:start + m]):
            raw = value.to_bytes((value + (value < 0)).bit_length() // 8 + 1, "big", signed=True)
            out[r, 21 - len(raw):] = np.frombuffer(raw, np.uint8)
            lens[r] = len(raw)
        return out, lens
    lo_w, hi_w = (shape.serial_octets, shape.serial_octets) \
        if isinstance(shape.serial_octets, int) else shape.serial_octets
    if not 2 <= lo_w <= hi_w <= 21:
        raise ValueError("serial_octets must be within 2..21")
    lens = rng.integers(lo_w, hi_w + 1, size=m) if hi_w > lo_w else np.full(m, lo_w)
    idx = np.arange(start, start + m, dtype=np.uint64)
    # a bijection of the entry number (odd multiplier) in the last octets: all distinct
    mixed = idx * np.uint64(0x9E3779B97F4A7C15)
    body = mixed.astype(">u8").view(np.uint8).reshape(m, 8)
    out[:, 13:] = body
    out[:, :13] = rng.integers(0, 256, size=(m, 13), dtype=np.uint8)
    for w in np.unique(lens):
        sel = lens == w
        keep = min(int(w) - 1, 8)
        if shape.entries > 1 << (8 * keep):
            raise ValueError(f"{shape.entries} distinct serials do not fit in {w} octets")
        rows = out[sel]
        if keep < 8:  # only the low ``keep`` octets of the bijection: keep them unique
            part = (mixed[sel] % np.uint64(1 << (8 * keep))).astype(">u8").view(np.uint8)
            rows[:, 13:] = part.reshape(-1, 8)
        rows[:, :21 - int(w)] = 0
        rows[:, 21 - int(w)] = 0x40  # positive, minimal, of exactly w octets
        out[sel] = rows
    neg = rng.random(m) < shape.negative_fraction
    first = 21 - lens
    out[neg, first[neg]] = 0xC0
    return out, lens


def _time_digits(epochs: np.ndarray, generalized: bool) -> np.ndarray:
    """``(m, 13|15)`` UTCTime / GeneralizedTime contents of ``epochs`` (seconds, UTC)."""
    t = epochs.astype("datetime64[s]")
    year = t.astype("datetime64[Y]").astype(np.int64) + 1970
    month0 = t.astype("datetime64[M]")
    month = month0.astype(np.int64) % 12 + 1
    day = (t.astype("datetime64[D]") - month0.astype("datetime64[D]")).astype(np.int64) + 1
    sod = (t - t.astype("datetime64[D]")).astype(np.int64)
    parts = [year if generalized else year % 100, month, day, sod // 3600, sod // 60 % 60,
             sod % 60]
    widths = [4 if generalized else 2, 2, 2, 2, 2, 2]
    cols: list[np.ndarray] = []
    for value, w in zip(parts, widths, strict=True):
        for k in range(w - 1, -1, -1):
            cols.append((value // 10 ** k % 10 + 0x30).astype(np.uint8))
    cols.append(np.full(len(epochs), ord("Z"), dtype=np.uint8))
    return np.stack(cols, axis=1)


def _entry_chunk(shape: CrlShape, rng: np.random.Generator, start: int, m: int) -> bytes:
    """DER of entries ``start .. start+m``."""
    ser, lens = _serials(shape, rng, start, m)
    base = int(shape.this_update.timestamp()) - 10 * 365 * 86400
    epochs = base + rng.integers(0, 10 * 365 * 86400, size=m)
    late = rng.random(m) < shape.generalized_fraction
    epochs[late] = _EPOCH_2050 + rng.integers(0, 40 * 365 * 86400, size=int(late.sum()))
    reason = np.where(rng.random(m) < shape.reason_fraction,
                      REASON_CODES[rng.integers(0, len(REASON_CODES), size=m)], 255)
    inv = rng.random(m) < shape.invalidity_fraction
    ext_len = np.where(reason != 255, 12, 0) + np.where(inv, 26, 0)
    ext_len = np.where(ext_len > 0, ext_len + 2, 0)
    tlen = np.where(late, 15, 13)
    content = 2 + lens + 2 + tlen + ext_len
    width = int((content + 2).max())
    rows = np.zeros((m, width), dtype=np.uint8)
    rows[:, 0] = 0x30
    rows[:, 1] = content
    rows[:, 2] = 0x02
    rows[:, 3] = lens
    utc = _time_digits(epochs[~late], False)
    gen = _time_digits(epochs[late], True)
    times = np.zeros((m, 15), dtype=np.uint8)
    times[~late, :13] = utc
    times[late] = gen
    inv_digits = _time_digits(epochs + 3600, True)
    key = lens * 4 + late * 2  # groups of equal layout: one block assignment per group
    for g in np.unique(key):
        sel = np.flatnonzero(key == g)
        w, tl = int(lens[sel[0]]), int(tlen[sel[0]])
        rows[sel, 4:4 + w] = ser[sel, 21 - w:]
        t0 = 4 + w
        rows[sel, t0] = 0x18 if tl == 15 else 0x17
        rows[sel, t0 + 1] = tl
        rows[sel, t0 + 2:t0 + 2 + tl] = times[sel, :tl]
        e0 = t0 + 2 + tl
        has = sel[ext_len[sel] > 0]
        if not len(has):
            continue
        rows[has, e0] = 0x30
        rows[has, e0 + 1] = ext_len[has] - 2
        r_sel = has[reason[has] != 255]
        if len(r_sel):
            rows[r_sel, e0 + 2:e0 + 2 + 11] = np.frombuffer(_REASON_EXT, np.uint8)
        rows[r_sel, e0 + 13] = reason[r_sel]
        i_sel = has[inv[has]]
        i0 = np.where(reason[i_sel] != 255, e0 + 14, e0 + 2)
        for k, b in enumerate(_INVALIDITY_EXT):
            rows[i_sel, i0 + k] = b
        for k in range(15):
            rows[i_sel, i0 + len(_INVALIDITY_EXT) + k] = inv_digits[i_sel, k]
    total = content + 2
    flat = rows[np.arange(width)[None, :] < total[:, None]]
    issuers = {p - start: v for p, v in (shape.certificate_issuers or {}).items()
               if start <= p < start + m}
    if not issuers:
        return bytes(flat.tobytes())
    ends = np.cumsum(total)
    pieces: list[bytes] = []
    prev = 0
    for r in sorted(issuers):
        lo = int(ends[r - 1]) if r else 0
        pieces.append(flat[prev:lo].tobytes())
        entry = bytes(flat[lo:int(ends[r])])
        pieces.append(_with_certificate_issuer(entry, issuers[r]))
        prev = int(ends[r])
    pieces.append(flat[prev:].tobytes())
    return b"".join(pieces)


def _with_certificate_issuer(entry: bytes, name_der: bytes) -> bytes:
    """The entry with a critical certificateIssuer added to its extensions (asn1crypto)."""
    rc = a_crl.RevokedCertificate.load(entry)
    exts = list(rc["crl_entry_extensions"]) if rc["crl_entry_extensions"].native else []
    gn = a_x509.GeneralName(name="directory_name", value=a_x509.Name.load(name_der))
    exts.append(a_crl.CRLEntryExtension({"extn_id": "certificate_issuer", "critical": True,
                                         "extn_value": a_x509.GeneralNames([gn])}))
    new = a_crl.RevokedCertificate({
        "user_certificate": a_crl.RevokedCertificate.load(entry)["user_certificate"].copy(),
        "revocation_date": rc["revocation_date"].copy(),
        "crl_entry_extensions": a_crl.CRLEntryExtensions([e.copy() for e in exts]),
    })
    return bytes(new.dump(force=True))


def _count(shape: CrlShape) -> int:
    return len(shape.serials) if shape.serials is not None else shape.entries


def _tbs_pieces(shape: CrlShape, signer: Signer, algorithm: bytes) -> Iterator[bytes]:
    """The TBSCertList DER, in pieces (the entry list chunk by chunk)."""
    rng = np.random.default_rng(shape.seed)
    n = _count(shape)
    chunks = [_entry_chunk(shape, rng, s, min(shape.chunk, n - s))
              for s in range(0, n, shape.chunk)]
    size = sum(len(c) for c in chunks)
    ext_list: list[dict[str, object]] = [
        {"extn_id": "crl_number", "critical": False, "extn_value": shape.crl_number},
        {"extn_id": "authority_key_identifier", "critical": False,
         "extn_value": {"key_identifier": signer.key_id}},
    ]
    if shape.certificate_issuers:  # RFC 5280 §5.3.3: certificateIssuer only in indirect CRLs
        ext_list.append({"extn_id": "issuing_distribution_point", "critical": True,
                         "extn_value": {"indirect_crl": True}})
    exts = a_crl.TBSCertListExtensions(ext_list)
    head = (a_parser.emit(0, 0, 2, b"\x01") + algorithm + signer.name_der
            + a_x509.Time(name="utc_time", value=shape.this_update).dump()
            + a_x509.Time(name="utc_time", value=shape.next_update).dump())
    tail = a_parser.emit(2, 1, 0, exts.dump())
    list_header = _header(0x30, size) if n else b""
    yield _header(0x30, len(head) + len(list_header) + size + len(tail))
    yield head + list_header
    yield from chunks
    yield tail


def _algorithm(signer: Signer) -> bytes:
    name = "sha256_ecdsa" if isinstance(signer.key, ec.EllipticCurvePrivateKey) else "sha256_rsa"
    params = None if name == "sha256_ecdsa" else a_algos.Null()
    return bytes(a_algos.SignedDigestAlgorithm(
        {"algorithm": name, "parameters": params}).dump())


def _emit(shape: CrlShape, signer: Signer, out: BinaryIO) -> None:
    algorithm = _algorithm(signer)
    pieces = list(_tbs_pieces(shape, signer, algorithm))
    digest = hashlib.sha256()
    for p in pieces:
        digest.update(p)
    if isinstance(signer.key, ec.EllipticCurvePrivateKey):
        signature = signer.key.sign(digest.digest(), ec.ECDSA(Prehashed(hashes.SHA256())))
    else:
        signature = signer.key.sign(digest.digest(), padding.PKCS1v15(),
                                    Prehashed(hashes.SHA256()))
    bits = a_parser.emit(0, 0, 3, b"\x00" + signature)
    tbs_size = sum(len(p) for p in pieces)
    out.write(_header(0x30, tbs_size + len(algorithm) + len(bits)))
    for p in pieces:
        out.write(p)
    out.write(algorithm + bits)


def crl_bytes(shape: CrlShape, signer: Signer) -> bytes:
    """The DER of a CRL of ``shape`` signed by ``signer``."""
    import io

    buf = io.BytesIO()
    _emit(shape, signer, buf)
    return buf.getvalue()


def write_crl(path: str | os.PathLike[str], shape: CrlShape, signer: Signer) -> None:
    """Write a CRL of ``shape`` signed by ``signer`` to ``path`` (DER)."""
    with open(path, "wb") as f:
        _emit(shape, signer, f)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m jukicard.testing.bigcrl --entries N --out FILE``: write a signed test CRL
    and its issuer's certificate (``FILE.ca.pem``)."""
    ap = argparse.ArgumentParser(prog="python -m jukicard.testing.bigcrl", description=__doc__
                                 .split("\n\n")[0])
    ap.add_argument("--entries", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--serial-octets", type=int, default=8)
    ap.add_argument("--reason-fraction", type=float, default=0.0)
    ap.add_argument("--invalidity-fraction", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    signer = make_signer()
    shape = CrlShape(entries=args.entries, serial_octets=args.serial_octets,
                     reason_fraction=args.reason_fraction,
                     invalidity_fraction=args.invalidity_fraction, seed=args.seed)
    write_crl(args.out, shape, signer)
    with open(f"{args.out}.ca.pem", "wb") as f:
        f.write(signer.certificate.public_bytes(Encoding.PEM))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
