"""Issue 10 review fixes of CRL ingest; each test fails on the code before the fix.

1. uncommon ("slow") entries are decoded lazily, after the CRL's signature verified, and
   capped; 2. entry-candidate memory is capped; 3. a saved index is used only from a folder
   only the current user writes, and is written through ``mkstemp``; 4. certificateIssuer
   outside an indirect CRL moves no entry (LENIENT) and breaks the strict profile.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from asn1crypto import crl as acrl
from asn1crypto import parser
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from jukicard.pki import crlindex, crlslow
from jukicard.pki.certs import Certificate
from jukicard.pki.crl import Crl
from jukicard.pki.crlindex import CrlIndex
from jukicard.pki.errors import MalformedCrlError
from jukicard.pki.policy import Conformance, ValidationPolicy
from jukicard.pki.reasons import Reason
from jukicard.pki.result import RevocationState
from jukicard.pki.revocation import CrlRevocationSource
from jukicard.pki.validate import Validator

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "pki"
BASE = (VECTORS / "crl" / "sign-2023.crl").read_bytes()
CA = Certificate.parse((VECTORS / "ca" / "sign-2023.cer").read_bytes())
R1 = Certificate.parse((VECTORS / "ee" / "r1-sign.cer").read_bytes())
R2 = Certificate.parse((VECTORS / "ee" / "r2-sign.cer").read_bytes())
AT = _dt.datetime(2026, 6, 1, tzinfo=_dt.UTC)
UNKNOWN_EXT = bytes.fromhex("300b30090603 2a0304 04020500".replace(" ", ""))


def _tlv(tag: int, content: bytes) -> bytes:
    return parser.emit(tag >> 6, (tag >> 5) & 1, tag & 0x1F, content)


def _forged(entries: bytes) -> bytes:
    """The vector CRL's header and signature around another entry list (a forgery)."""
    cl = acrl.CertificateList.load(BASE)
    c = cl["tbs_cert_list"].contents
    kids, off = [], 0
    while off < len(c):
        r = parser.parse(c[off:])
        n = len(r[3]) + len(r[4]) + len(r[5])
        kids.append(c[off:off + n])
        off += n
    tbs = _tlv(0x30, b"".join(kids[:5]) + _tlv(0x30, entries) + kids[5])
    return _tlv(0x30, tbs + cl["signature_algorithm"].dump() + cl["signature"].dump())


def _unknown_ext_entries(n: int) -> bytes:
    t = _tlv(0x17, b"260510030000Z")
    return b"".join(_tlv(0x30, _tlv(0x02, struct.pack(">I", 0x10000000 + i)) + t + UNKNOWN_EXT)
                    for i in range(n))


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    real = crlslow.decode_entries

    def count(entries: Any) -> Any:
        seen.append(len(entries))
        return real(entries)

    monkeypatch.setattr(crlindex, "decode_entries", count)
    return seen


# ------------------------------------------------------------------ 1. lazy, capped
def test_forged_crl_decodes_no_uncommon_entry_before_its_signature(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: Crl.parse decoded every uncommon entry with asn1crypto (167 µs each) before
    anything checked the signature.  Now parse and a failing signature decode none."""
    seen = _counting(monkeypatch)
    crl = Crl.parse(_forged(_unknown_ext_entries(300)))
    assert len(crl) == 300 and not crl.index.is_complete and seen == []
    status = CrlRevocationSource([crl]).status(R2, CA, AT)
    assert status.state is RevocationState.UNKNOWN
    assert status.problem == Reason.BAD_CRL_SIGNATURE
    assert seen == [] and not crl.index.is_complete


def _signed_crl(entries: list[x509.RevokedCertificate], *, indirect: bool = False) -> bytes:
    key = serialization.load_pem_private_key(
        (VECTORS / "keys" / "ca-sign-2023.pem").read_bytes(), None)
    ca = x509.load_der_x509_certificate(CA.der)
    t = _dt.datetime(2026, 5, 1, tzinfo=_dt.UTC)
    b = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject).last_update(t)
         .next_update(t + _dt.timedelta(days=60))
         .add_extension(x509.CRLNumber(9999), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()),
                        critical=False))
    if indirect:
        b = b.add_extension(x509.IssuingDistributionPoint(
            None, None, False, False, None, True, False), critical=True)
    for e in entries:
        b = b.add_revoked_certificate(e)
    crl = b.sign(key, hashes.SHA256())  # type: ignore[arg-type]
    return crl.public_bytes(serialization.Encoding.DER)


def _entry(serial: int, *extensions: tuple[x509.ExtensionType, bool]
           ) -> x509.RevokedCertificate:
    b = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(
        _dt.datetime(2026, 5, 1, tzinfo=_dt.UTC))
    for value, critical in extensions:
        b = b.add_extension(value, critical=critical)
    return b.build()


def test_authentic_crl_decodes_its_uncommon_entries_once_after_the_signature(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The uncommon entries of an authentic CRL are decoded (once, in a batch) when the
    revocation source consults it, and the answer is the reference's."""
    odd = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4"), b"\x05\x00")
    entries = [_entry(1000 + i, (odd, False)) for i in range(40)]
    entries.append(_entry(R2.serial, (odd, False)))
    seen = _counting(monkeypatch)
    crl = Crl.parse(_signed_crl(entries))
    assert seen == []
    status = CrlRevocationSource([crl]).status(R2, CA, AT)
    assert status.state is RevocationState.REVOKED
    assert seen == [41] and crl.index.is_complete


def test_uncommon_entries_over_the_cap_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: no cap (a forged CRL at the 512 MiB size cap cost 40–100 minutes)."""
    monkeypatch.setattr(crlindex, "MAX_SLOW_ENTRIES", 10)
    with pytest.raises(MalformedCrlError, match="MAX_SLOW_ENTRIES"):
        Crl.parse(_forged(_unknown_ext_entries(11)))
    assert len(Crl.parse(_forged(_unknown_ext_entries(10)))) == 10


def test_entries_only_the_reference_reads_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries cryptography refuses (an explicit DEFAULT FALSE: not DER) go to asn1crypto,
    at most MAX_REFERENCE_DECODES of them per CRL."""
    ext = bytes.fromhex("300e300c06032a03040101000402 0500".replace(" ", ""))
    t = _tlv(0x17, b"260510030000Z")
    body = b"".join(_tlv(0x30, _tlv(0x02, bytes([1, i])) + t + ext) for i in range(3))
    assert len(crlslow.decode_entries([_tlv(0x30, _tlv(0x02, b"\x01") + t + ext)])) == 1
    monkeypatch.setattr(crlslow, "MAX_REFERENCE_DECODES", 2)
    crl = Crl.parse(_forged(body))
    with pytest.raises(MalformedCrlError, match="MAX_REFERENCE_DECODES"):
        crl.check_entries()
    with pytest.raises(MalformedCrlError):  # every later consultation says so again
        crl.lookup(crl.issuer_key, 0x101)


# ------------------------------------------------------------------ 2. candidate memory
def test_entry_like_byte_patterns_are_refused_within_the_size_of_the_list() -> None:
    """Before: 8 MiB of ``30 30 02 02`` peaked at 24.5 times its size before the refusal."""
    der = _forged(b"\x30\x30\x02\x02" * (1 << 21))
    tracemalloc.start()
    try:
        with pytest.raises(MalformedCrlError, match="entry-like byte patterns"):
            CrlIndex.ingest(der)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * len(der)


# ------------------------------------------------------------------ 3. index files
def _tamper(path: Path, serial: int) -> None:
    """Flip the low bit of ``serial`` in a saved index and recompute its own SHA-256 (what
    anyone who can write the folder can do)."""
    raw = bytearray(path.read_bytes())
    magic = crlindex._MAGIC
    hlen = int.from_bytes(raw[len(magic):len(magic) + 8], "big")
    h0 = len(magic) + 72
    meta = json.loads(raw[h0:h0 + hlen])
    body = -(-(h0 + hlen) // 64) * 64
    off, dtype, n = meta["arrays"]["lo"]
    lo = np.frombuffer(bytes(raw), np.dtype(dtype), n, body + off)
    k = int(np.flatnonzero(lo == np.uint64(serial))[0])
    at = body + off + 8 * k
    raw[at:at + 8] = np.array([serial ^ 1], np.dtype(dtype)).tobytes()
    d = hashlib.sha256(raw[h0:h0 + hlen])
    d.update(raw[h0 + hlen:])
    raw[len(magic) + 8:h0] = d.hexdigest().encode()
    path.write_bytes(bytes(raw))


def _validate_r2(folder: Path) -> Any:
    src = CrlRevocationSource([VECTORS / "crl" / "sign-2023.crl"], index_dir=folder)
    return Validator(ValidationPolicy(trust_anchors=(CA,)), [], src).validate(R2, AT)


def test_an_index_folder_others_can_write_is_not_used(tmp_path: Path) -> None:
    """Before: an index edited in a shared folder was loaded and a revoked certificate
    validated."""
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    assert _validate_r2(mine).reason == Reason.REVOKED
    saved = next(mine.glob("*.crlidx"))
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / saved.name).write_bytes(saved.read_bytes())
    _tamper(shared / saved.name, R2.serial)
    result = _validate_r2(shared)
    assert not result.valid and result.reason == Reason.REVOKED
    before = (shared / saved.name).read_bytes()
    assert sorted(p.name for p in shared.iterdir()) == [saved.name]  # nothing written there
    assert (shared / saved.name).read_bytes() == before


def test_save_never_writes_through_a_planted_file(tmp_path: Path) -> None:
    """Before: save() opened the predictable ``<path>.tmp<pid>`` with ``open(..., "wb")``,
    following a symlink planted there."""
    index = CrlIndex.ingest(BASE)
    target = tmp_path / "x.crlidx"
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    (tmp_path / f"x.crlidx.tmp{os.getpid()}").symlink_to(victim)
    index.save(target, crl_sha256=hashlib.sha256(BASE).hexdigest())
    assert victim.read_bytes() == b"keep me"
    assert CrlIndex.load(target, crl_sha256=hashlib.sha256(BASE).hexdigest()).contains(
        R2.serial)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "victim", "x.crlidx", f"x.crlidx.tmp{os.getpid()}"]


# ------------------------------------------------------------------ 4. certificateIssuer
OTHER = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "some other CA")])


def _stray_crl() -> bytes:
    return _signed_crl([_entry(12345, (x509.CertificateIssuer([x509.DirectoryName(OTHER)]),
                                       True)),
                        _entry(R1.serial)])


@pytest.mark.parametrize("conformance", [Conformance.LENIENT, Conformance.STRICT])
def test_certificate_issuer_outside_an_indirect_crl(conformance: Conformance) -> None:
    """Before: the certificateIssuer of a CRL that is not indirect moved the next entry to
    another CA, and r1-sign, listed, read as good.  Now LENIENT keeps every entry with the
    CRL issuer (OpenSSL's reading: revoked); STRICT refuses the CRL (RFC 5280 §5.3.3)."""
    crl = Crl.parse(_stray_crl())
    assert crl.lookup(R1.issuer_key, R1.serial) is not None
    assert crl.index.stray_certificate_issuer
    policy = ValidationPolicy(trust_anchors=(CA,), conformance=conformance)
    result = Validator(policy, [], CrlRevocationSource([crl])).validate(R1, AT)
    assert not result.valid
    if conformance is Conformance.LENIENT:
        assert result.reason == Reason.REVOKED
    else:
        assert result.reason == Reason.CRL_ENTRY_EXTENSION_INVALID


def test_certificate_issuer_in_an_indirect_crl_still_moves_entries() -> None:
    crl = Crl.parse(_signed_crl(
        [_entry(12345, (x509.CertificateIssuer([x509.DirectoryName(OTHER)]), True)),
         _entry(R1.serial)], indirect=True))
    assert crl.lookup(R1.issuer_key, R1.serial) is None
    assert not crl.index.stray_certificate_issuer
