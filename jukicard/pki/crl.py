"""CRLs parsed once, with a compact index of revoked serials.

:class:`Crl` decodes a CRL's header and CRL extensions in :meth:`Crl.parse` (asn1crypto, on
the CRL without its entry list) and indexes the entries with :class:`~jukicard.pki.crlindex.
CrlIndex` (NumPy over the raw DER, no Python object per entry): a look-up is keyed by
``(certificate issuer, serial)`` (the certificate issuer is the CRL issuer, or the
``certificateIssuer`` entry extension of an indirect CRL), and only the entry that matched is
decoded.  The signature is checked over a view of the TBS bytes (hashed once, no copy).

A CRL with an unrecognised *critical* CRL or entry extension is still parsed, but marked
unusable (:attr:`Crl.unusable_reason` = ``unknown-critical-crl-or-entry-extension``): RFC 5280
§5.2/§5.3 forbid using it to determine the status of any certificate.

:meth:`Crl.parse` runs only the vectorised pass over the entries: entries of an uncommon
shape are decoded when the index is first consulted (a look-up, :attr:`Crl.unusable_reason`,
:meth:`Crl.check_entries`), which :class:`jukicard.pki.revocation.CrlRevocationSource` does
only after the CRL's signature has verified; a malformed uncommon entry is reported then
(:class:`~jukicard.pki.errors.MalformedCrlError`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from asn1crypto import crl as _crl
from asn1crypto import x509 as _x509

from jukicard.pki.crlindex import REASON_NAMES, CrlIndex, CrlIndexError, RevokedEntry
from jukicard.pki.crlindexfile import folder_problem
from jukicard.pki.crlscan import layout
from jukicard.pki.der import (
    MAX_CRL_SIZE,
    MAX_EXTENSIONS,
    Source,
    check_count,
    check_der_framing,
    check_der_nesting,
    check_name_caps,
    check_size,
    der_blobs,
    read_source,
    single_der,
)
from jukicard.pki.errors import MalformedCrlError
from jukicard.pki.names import NameKey, format_name, name_key
from jukicard.pki.reasons import Reason

__all__ = [
    "ALL_REASONS",
    "REASON_NAMES",
    "RevokedEntry",
    "IssuingDistributionPoint",
    "Crl",
    "general_name_key",
    "load_crl",
    "load_crls",
]

log = logging.getLogger(__name__)

#: The ReasonFlags of RFC 5280 §6.3.3 "all-reasons" (``unused`` bit excluded).
ALL_REASONS: frozenset[str] = frozenset({
    "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
    "cessationOfOperation", "certificateHold", "privilegeWithdrawn", "aACompromise",
})

#: PEM labels accepted for a CRL.
PEM_LABELS = ("X509 CRL",)

_KNOWN_CRL_EXTENSIONS = frozenset({
    "authority_key_identifier", "issuer_alt_name", "crl_number", "delta_crl_indicator",
    "issuing_distribution_point", "freshest_crl", "authority_information_access",
})
_KNOWN_ENTRY_EXTENSIONS = frozenset({
    "crl_reason", "invalidity_date", "certificate_issuer", "hold_instruction_code",
})

GeneralNameKey = tuple[str, Any]


def general_name_key(gn: Any) -> GeneralNameKey:
    """Hashable comparison key of a GeneralName (DirName by §7.1, URIs/DNS as strings)."""
    kind = gn.name
    if kind == "directory_name":
        return ("dn", name_key(gn.chosen))
    if kind in ("uniform_resource_identifier", "dns_name", "rfc822_name"):
        return (kind, str(gn.chosen.native))
    return (kind, gn.chosen.dump())


def _reasons(flags: Any) -> frozenset[str] | None:
    if flags is None or isinstance(flags.native, type(None)):
        return None
    return frozenset(REASON_NAMES.get(n, n) for n in flags.native if n != "unused")


@dataclass(frozen=True)
class IssuingDistributionPoint:
    """The issuingDistributionPoint CRL extension (RFC 5280 §5.2.5), decoded.

    :ivar full_names: keys of the fullName GeneralNames (empty tuple if none).
    :ivar relative_name: the nameRelativeToCRLIssuer RDN as a name-key element, or ``None``.
    """

    full_names: tuple[GeneralNameKey, ...]
    relative_name: tuple[tuple[str, Any], ...] | None
    only_user_certs: bool
    only_ca_certs: bool
    only_some_reasons: frozenset[str] | None
    indirect_crl: bool
    only_attribute_certs: bool
    der: bytes = field(repr=False)

    @property
    def has_name(self) -> bool:
        return bool(self.full_names) or self.relative_name is not None

    def names(self, crl_issuer: NameKey) -> tuple[GeneralNameKey, ...]:
        """The distribution point names, resolving nameRelativeToCRLIssuer."""
        if self.relative_name is not None:
            return (("dn", crl_issuer + (self.relative_name,)),)
        return self.full_names

    @classmethod
    def from_asn1(cls, value: Any) -> IssuingDistributionPoint:
        dp = value["distribution_point"]
        full: tuple[GeneralNameKey, ...] = ()
        rel = None
        if dp.native is None:
            pass
        elif dp.name == "full_name":
            full = tuple(general_name_key(gn) for gn in dp.chosen)
        elif dp.name == "name_relative_to_crl_issuer":
            rel = relative_key(dp.chosen)
        return cls(
            full_names=full,
            relative_name=rel,
            only_user_certs=bool(value["only_contains_user_certs"].native),
            only_ca_certs=bool(value["only_contains_ca_certs"].native),
            only_some_reasons=_reasons(value["only_some_reasons"]),
            indirect_crl=bool(value["indirect_crl"].native),
            only_attribute_certs=bool(value["only_contains_attribute_certs"].native),
            der=value.dump(),
        )


def relative_key(rdn: Any) -> tuple[tuple[str, Any], ...]:
    """Name-key element of one RDN (for nameRelativeToCRLIssuer)."""
    name = _x509.Name(name="", value=_x509.RDNSequence([rdn]))
    return name_key(name)[0]


@dataclass(frozen=True, eq=False)
class Crl:
    """A parsed X.509 CRL (v1 or v2), complete or delta.

    :ivar issuer_key: RFC 5280 §7.1 key of the issuer name.
    :ivar this_update: / :ivar next_update: timezone-aware (``next_update`` may be None).
    :ivar crl_number: cRLNumber or None.
    :ivar base_crl_number: deltaCRLIndicator (the base CRL number) for a delta CRL, else None.
    :ivar idp: the issuingDistributionPoint, or None.
    :ivar header_unusable_reason: an unknown critical CRL extension (known at parse);
        :attr:`unusable_reason` adds the entry extensions.
    :ivar header_asn1: asn1crypto ``CertificateList`` of the CRL *without* its entry list
        (every header field and CRL extension; the profile checks read it).
    :ivar index: the entries (:class:`~jukicard.pki.crlindex.CrlIndex`).
    :ivar tbs_range: ``(start, end)`` of the signed TBSCertList in :attr:`der`.
    """

    der: bytes = field(repr=False)
    header_asn1: _crl.CertificateList = field(repr=False)
    issuer: _x509.Name = field(repr=False)
    issuer_key: NameKey = field(repr=False)
    this_update: _dt.datetime
    next_update: _dt.datetime | None
    crl_number: int | None
    base_crl_number: int | None
    idp: IssuingDistributionPoint | None
    authority_key_identifier: bytes | None
    tbs_range: tuple[int, int] = field(repr=False)
    signature: bytes = field(repr=False)
    signature_algorithm: str
    header_unusable_reason: Reason | None
    fingerprint: str
    index: CrlIndex = field(repr=False)

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview, *,
              index_dir: str | os.PathLike[str] | None = None) -> Crl:
        """Parse a CRL from DER or PEM and index its entries.

        :param data: DER bytes or one PEM ``X509 CRL`` block.
        :param index_dir: a folder for saved indexes (``<CRL SHA-256>.crlidx``): a saved
            index of this CRL is memory-mapped instead of indexing again (a damaged one is
            rebuilt); a new index is saved there once complete (best effort).  A folder not
            owned by the current user, or writable by group or others, is not used (logged:
            a saved index is as trusted as its folder).
        :raises MalformedCrlError: (reason ``malformed-crl``) if it does not parse (the
            framing, the header, the common-shape entries; over a cap).
        """
        der = single_der(data if isinstance(data, bytes) else bytes(data), PEM_LABELS,
                         MalformedCrlError, "CRL")
        try:
            return cls._from_der(der, index_dir)
        except MalformedCrlError:
            raise
        except Exception as exc:  # asn1crypto/ValueError/KeyError/...: never leak
            raise MalformedCrlError(
                "malformed CRL (not a well-formed X.509 CRL structure)") from exc

    @classmethod
    def _from_der(cls, der: bytes, index_dir: str | os.PathLike[str] | None = None) -> Crl:
        check_size(der, MAX_CRL_SIZE, MalformedCrlError, "CRL")
        lay = layout(der)
        try:
            check_der_framing(lay.header_der)
        except ValueError as exc:
            raise MalformedCrlError(f"malformed CRL ({exc})") from exc
        asn1 = _crl.CertificateList.load(lay.header_der, strict=True)
        tbs = asn1["tbs_cert_list"]
        issuer = tbs["issuer"]
        _check_header_caps(tbs)
        issuer_key = name_key(issuer)
        this_update = _aware(tbs["this_update"].native)
        nu = tbs["next_update"].native
        next_update = None if nu is None else _aware(nu)
        if not _same_algorithm(tbs["signature"], asn1["signature_algorithm"]):
            # RFC 5280 §5.1.1.2: the (unsigned) outer field must repeat the signed one,
            # parameters included (absent and NULL parameters are treated alike)
            raise MalformedCrlError("CRL signature algorithm fields differ")
        crl_number = base = None
        idp = None
        aki = None
        known, unusable = _known_extensions(tbs["crl_extensions"], _KNOWN_CRL_EXTENSIONS,
                                            "CRL extension")
        for name, value in known:
            _ = value.native  # force the parse
            if name == "crl_number":
                crl_number = int(value.native)
            elif name == "delta_crl_indicator":
                base = int(value.native)
            elif name == "issuing_distribution_point":
                idp = IssuingDistributionPoint.from_asn1(value)
            elif name == "authority_key_identifier":
                kid = value["key_identifier"].native
                aki = None if kid is None else bytes(kid)
        fingerprint = hashlib.sha256(der).hexdigest()
        indirect = idp is not None and idp.indirect_crl

        def build() -> CrlIndex:
            return CrlIndex.build(der, lay.entries, bytes(issuer.dump()), issuer_key,
                                  indirect=indirect)

        index = build() if index_dir is None else _saved_index(index_dir, fingerprint, der,
                                                               build)
        return cls(
            der=der,
            header_asn1=asn1,
            issuer=issuer,
            issuer_key=issuer_key,
            this_update=this_update,
            next_update=next_update,
            crl_number=crl_number,
            base_crl_number=base,
            idp=idp,
            authority_key_identifier=aki,
            tbs_range=lay.tbs,
            signature=bytes(asn1["signature"].native),
            signature_algorithm=str(asn1["signature_algorithm"]["algorithm"].native),
            header_unusable_reason=unusable,
            fingerprint=fingerprint,
            index=index,
        )

    def __bytes__(self) -> bytes:
        return self.der

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Crl) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.der)

    @property
    def unusable_reason(self) -> Reason | None:
        """Set when the CRL must not be used: an unknown critical CRL or entry extension
        (consulting the entries decodes the uncommon ones, see :meth:`check_entries`)."""
        return self.header_unusable_reason or self.index.unusable_reason

    def check_entries(self) -> None:
        """Decode the entries of an uncommon shape now (:meth:`CrlIndex.complete`).

        :raises MalformedCrlError: one does not decode, or over a cap.
        """
        self.index.complete()

    @cached_property
    def asn1(self) -> _crl.CertificateList:
        """The whole CRL as an asn1crypto ``CertificateList`` (decoded on first use: for a
        large CRL prefer :attr:`header_asn1` and :attr:`index`)."""
        return _crl.CertificateList.load(self.der, strict=True)

    @property
    def tbs_view(self) -> memoryview:
        """The signed TBSCertList bytes, without a copy."""
        return memoryview(self.der)[self.tbs_range[0]:self.tbs_range[1]]

    @property
    def tbs(self) -> bytes:
        """The signed TBSCertList bytes (a copy: prefer :attr:`tbs_view`)."""
        return bytes(self.tbs_view)

    @property
    def signature_algorithm_asn1(self) -> Any:
        return self.header_asn1["signature_algorithm"]

    @property
    def is_delta(self) -> bool:
        return self.base_crl_number is not None

    @property
    def is_indirect(self) -> bool:
        return self.idp is not None and self.idp.indirect_crl

    def __len__(self) -> int:
        return len(self.index)

    def lookup(self, issuer_key: NameKey, serial: int) -> RevokedEntry | None:
        """The entry for certificate ``serial`` issued by ``issuer_key``, or None (O(log n);
        the entry is decoded now).

        :param issuer_key: name key of the certificate's issuer.
        :param serial: the certificate's serial number.
        """
        if issuer_key == self.issuer_key:
            return self.index.entry(serial)
        return self.index.entry(serial, issuer_key)

    def describe(self) -> str:
        """Short description for messages and results."""
        num = "" if self.crl_number is None else f" #{self.crl_number}"
        kind = "delta CRL" if self.is_delta else "CRL"
        return f"{kind} of '{format_name(self.issuer)}'{num}"


def _saved_index(folder: str | os.PathLike[str], fingerprint: str, der: bytes,
                 build: Callable[[], CrlIndex]) -> CrlIndex:
    """The index saved in ``folder`` for the CRL ``fingerprint``, or a new one (saved once
    complete); the folder is used only if :func:`folder_problem` finds nothing."""
    try:
        problem = folder_problem(folder)
    except OSError as exc:
        problem = str(exc)
    if problem is not None:
        log.warning("CRL index folder not used (%s): indexing in memory", problem)
        return build()
    path = os.path.join(os.fspath(folder), f"{fingerprint}.crlidx")
    if os.path.exists(path):
        try:
            return CrlIndex.load(path, crl_sha256=fingerprint, der=der)
        except (CrlIndexError, OSError) as exc:
            log.info("saved CRL index unusable, rebuilding it: %s", exc)
    index = build()
    index.save_on_completion(path, crl_sha256=fingerprint)
    return index


def _check_header_caps(tbs: Any) -> None:
    """The parser's caps on a CRL's header (the entries are bounded by the size cap):
    issuer name attributes, extension count, nesting of the issuer and the extensions.

    :raises MalformedCrlError: over a cap.
    """
    check_name_caps(tbs["issuer"], MalformedCrlError, "CRL issuer")
    extensions = tbs["crl_extensions"]
    check_count(len(extensions), MAX_EXTENSIONS, MalformedCrlError, "CRL extensions")
    for part in (tbs["issuer"], extensions):
        check_der_nesting(part.dump(), MalformedCrlError, "CRL")


def _known_extensions(extensions: Any, known: frozenset[str] | set[str], what: str
                      ) -> tuple[list[tuple[str, Any]], Reason | None]:
    """The ``(name, parsed value)`` of the recognised extensions, and whether an
    unrecognised critical one makes the CRL unusable (RFC 5280 §5.2, §5.3).

    :raises MalformedCrlError: the same extension appears twice.
    """
    out: list[tuple[str, Any]] = []
    unusable: Reason | None = None
    seen: set[str] = set()
    for ext in extensions:
        oid = ext["extn_id"].dotted
        if oid in seen:
            raise MalformedCrlError(f"duplicate {what}")
        seen.add(oid)
        name = ext["extn_id"].native
        if name not in known:
            if bool(ext["critical"].native):
                unusable = Reason.CRL_UNKNOWN_CRITICAL
            continue
        out.append((name, ext["extn_value"].parsed))
    return out, unusable


def _index_entries_asn1(tbs: Any, issuer_key: NameKey
                        ) -> tuple[dict[tuple[NameKey, int], RevokedEntry], Reason | None]:
    """Index the revoked entries with asn1crypto (the reference path, slower).  A
    certificateIssuer applies only in an indirect CRL (RFC 5280 §5.3.3)."""
    entries: dict[tuple[NameKey, int], RevokedEntry] = {}
    unusable: Reason | None = None
    indirect = any(ext["extn_id"].native == "issuing_distribution_point"
                   and bool(ext["extn_value"].parsed["indirect_crl"].native)
                   for ext in tbs["crl_extensions"])
    current_issuer = issuer_key
    for rc in tbs["revoked_certificates"]:
        if not rc["user_certificate"].contents:
            raise MalformedCrlError("empty serial number INTEGER in a CRL entry")
        serial = rc["user_certificate"].native
        revoked_at = _aware(rc["revocation_date"].native)
        reason = None
        inv = None
        known, entry_unusable = _known_extensions(rc["crl_entry_extensions"],
                                                  _KNOWN_ENTRY_EXTENSIONS, "CRL entry extension")
        unusable = unusable or entry_unusable
        for name, value in known:
            if name == "crl_reason":
                reason = REASON_NAMES.get(value.native, str(value.native))
            elif name == "invalidity_date":
                inv = _aware(value.native)
            elif name == "certificate_issuer":
                dns = [gn.chosen for gn in value if gn.name == "directory_name"]
                if not dns:
                    raise MalformedCrlError("certificateIssuer without a directoryName")
                if indirect:
                    current_issuer = name_key(dns[0])
        if not isinstance(serial, int):
            raise MalformedCrlError("CRL entry serial is not an integer")
        entries[(current_issuer, serial)] = RevokedEntry(serial, revoked_at, reason, inv)
    return entries, unusable


def _aware(value: Any) -> _dt.datetime:
    if not isinstance(value, _dt.datetime):
        raise MalformedCrlError("CRL time is not a date-time")
    return value if value.tzinfo is not None else value.replace(tzinfo=_dt.UTC)


def _same_algorithm(inner: Any, outer: Any) -> bool:
    """The two AlgorithmIdentifiers name the same algorithm with the same parameters."""
    if inner["algorithm"].dotted != outer["algorithm"].dotted:
        return False
    pi, po = inner["parameters"], outer["parameters"]
    absent = (b"", b"\x05\x00")
    if pi.dump() in absent and po.dump() in absent:
        return True
    return bool(pi.dump() == po.dump())


def load_crl(source: Source) -> Crl:
    """Load one CRL (DER/PEM bytes or path) as a :class:`Crl`.

    :raises MalformedCrlError: if it does not parse.
    :raises OSError: if the file cannot be read.
    """
    return Crl.parse(read_source(source))


def load_crls(source: Source, *, index_dir: str | os.PathLike[str] | None = None
              ) -> list[Crl]:
    """Load every CRL from DER bytes, a PEM bundle or a file path.

    :param index_dir: see :meth:`Crl.parse`.
    :raises MalformedCrlError: if one does not parse.
    :raises OSError: if the file cannot be read.
    """
    return [Crl.parse(d, index_dir=index_dir)
            for d in der_blobs(source, PEM_LABELS, MalformedCrlError)]
