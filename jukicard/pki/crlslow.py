"""Decoding the CRL entries not of a common shape (the "slow" entries of
:mod:`jukicard.pki.crlscan`).

:func:`decode_entry` is the reference reading of one entry (asn1crypto).  :func:`decode_entries`
reads many: they are wrapped, in batches, into a CRL for ``cryptography``'s Rust DER parser
(a few microseconds an entry); a batch that parser refuses is split in halves down to the
single entries, and an entry it refuses (or that carries something it does not decode the
reference's way: a holdInstructionCode) is read by :func:`decode_entry`.  certificateIssuer
names are keyed (:func:`jukicard.pki.names.name_key`) once per distinct DER.

Costs are bounded: :data:`MAX_SLOW_ENTRIES` uncommon entries per CRL (checked by the index
before any decoding) and :data:`MAX_REFERENCE_DECODES` entries read by the reference
(asn1crypto, about 170 µs each) per CRL; over either, the CRL is refused with a
:class:`~jukicard.pki.errors.MalformedCrlError` naming the cap.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from asn1crypto import crl as _crl
from asn1crypto import x509 as _x509
from asn1crypto.parser import emit
from cryptography import x509 as _cx509

from jukicard.pki.backend import load_x509_crl
from jukicard.pki.errors import MalformedCrlError
from jukicard.pki.names import NameKey, name_key

__all__ = ["REASON_NAMES", "RevokedEntry", "DecodedEntry", "decode_entry", "decode_entries",
           "IssuerKeys", "MAX_SLOW_ENTRIES", "MAX_REFERENCE_DECODES"]

#: The most entries of an uncommon shape a CRL may have (each costs a few µs to 30 µs).
MAX_SLOW_ENTRIES = 1_000_000
#: The most entries of one CRL that only the reference (asn1crypto) reads (about 170 µs each).
MAX_REFERENCE_DECODES = 50_000

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
_OID_HOLD_INSTRUCTION = "2.5.29.23"
_BATCH = 4096
# the frame around a batch of entries: v2, sha256WithRSAEncryption, an empty issuer, a
# thisUpdate; an empty signature (the frame is never verified)
_ALG = bytes.fromhex("300d06092a864886f70d01010b0500")
_HEAD = b"\x02\x01\x01" + _ALG + b"\x30\x00" + b"\x17\x0d" + b"260101000000Z"
_TAIL = _ALG + b"\x03\x01\x00"


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
    """A decoded entry: the entry, the DER of its certificateIssuer DirName (or ``None``),
    and whether it carries an unrecognised critical extension."""

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


class IssuerKeys:
    """certificateIssuer DirName DER → its §7.1 name key, each distinct DER keyed once."""

    def __init__(self) -> None:
        self._keys: dict[bytes, NameKey] = {}

    def __call__(self, der: bytes) -> NameKey:
        key = self._keys.get(der)
        if key is None:
            try:
                key = name_key(_x509.Name.load(der))
            except Exception as exc:  # asn1crypto: never leak
                raise MalformedCrlError("malformed certificateIssuer name") from exc
            self._keys[der] = key
        return key


class _Reference:
    """Counts the entries only the reference reads (the :data:`MAX_REFERENCE_DECODES` cap)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, der: bytes) -> DecodedEntry:
        self.count += 1
        if self.count > MAX_REFERENCE_DECODES:
            raise MalformedCrlError(
                f"CRL refused: more than {MAX_REFERENCE_DECODES} entries "
                "(MAX_REFERENCE_DECODES) that are not well-formed DER")
        return decode_entry(der)


def _fast_one(rc: Any) -> DecodedEntry | None:
    """One entry as ``cryptography`` read it, or ``None`` to ask the reference."""
    reason = inv = issuer = None
    unknown = False
    for ext in rc.extensions:
        value = ext.value
        if isinstance(value, _cx509.CRLReason):
            reason = str(value.reason.value)
        elif isinstance(value, _cx509.InvalidityDate):
            inv = value.invalidity_date_utc
        elif isinstance(value, _cx509.CertificateIssuer):
            dns = [gn.value for gn in value if isinstance(gn, _cx509.DirectoryName)]
            if not dns:
                raise MalformedCrlError("certificateIssuer without a directoryName")
            issuer = dns[0].public_bytes()
        elif ext.oid.dotted_string == _OID_HOLD_INSTRUCTION:
            return None
        elif isinstance(value, _cx509.UnrecognizedExtension):
            unknown = unknown or ext.critical
        else:
            return None  # a type the reference does not know: read it there
    entry = RevokedEntry(int(rc.serial_number), rc.revocation_date_utc, reason, inv)
    return DecodedEntry(entry, issuer, unknown)


def _batch(entries: Sequence[bytes], out: list[DecodedEntry], ref: _Reference) -> None:
    if len(entries) == 1:
        try:
            rows = list(load_x509_crl(_frame(entries)))
            got = _fast_one(rows[0]) if len(rows) == 1 else None
        except MalformedCrlError:
            raise
        except Exception:  # cryptography refuses it: the reference decides
            got = None
        out.append(got if got is not None else ref(entries[0]))
        return
    try:
        rows = list(load_x509_crl(_frame(entries)))
    except Exception:  # somewhere in the batch: split it
        half = len(entries) // 2
        _batch(entries[:half], out, ref)
        _batch(entries[half:], out, ref)
        return
    if len(rows) != len(entries):
        raise MalformedCrlError("malformed CRL entry")
    for der, rc in zip(entries, rows, strict=True):
        try:
            got = _fast_one(rc)
        except MalformedCrlError:
            raise
        except Exception:  # a lazily parsed part cryptography refuses
            got = None
        out.append(got if got is not None else ref(der))


def _frame(entries: Sequence[bytes]) -> bytes:
    out: bytes = emit(0, 1, 16, emit(0, 1, 16, _HEAD + emit(0, 1, 16, b"".join(entries)))
                      + _TAIL)
    return out


def decode_entries(entries: Sequence[bytes]) -> list[DecodedEntry]:
    """Decode many entries (in order), as :func:`decode_entry` reads each (see the module
    doc for how).

    :raises MalformedCrlError: an entry :func:`decode_entry` refuses, or over
        :data:`MAX_REFERENCE_DECODES`.
    """
    out: list[DecodedEntry] = []
    ref = _Reference()
    for a in range(0, len(entries), _BATCH):
        _batch(entries[a:a + _BATCH], out, ref)
    return out
