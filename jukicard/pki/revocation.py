"""Revocation from CRLs (RFC 5280 §6.3): the pluggable source and the CRL algorithm.

A :class:`RevocationSource` answers GOOD / REVOKED / UNKNOWN for one certificate; the policy
decides what UNKNOWN means (under ``CRL_REQUIRED`` it is a hard failure, never a pass).

:class:`CrlRevocationSource` implements §6.3.3 over CRLs given as bytes/files/objects or
fetched through a :class:`CrlFetcher` (URLs, or DirName distribution points mapped to a
URL/file, as JPKI publishes them):

* distribution points and reason masks (onlySomeReasons accumulation),
* issuingDistributionPoint scope (DP names incl. nameRelativeToCRLIssuer, onlyContainsUser/
  CA/AttributeCerts), indirect CRLs (cRLIssuer, certificateIssuer entries),
* freshness against the validation time (with the policy's clock skew),
* CRL signer: cRLSign, signature, and a separate signer certificate validated to the same
  trust anchor (through the :class:`RevocationContext` the validator provides),
* delta CRLs (deltaCRLIndicator, removeFromCRL),
* unknown critical CRL / entry extensions → CRL unusable (the entries of an uncommon shape
  are decoded only once the CRL's signature has verified: see :mod:`jukicard.pki.crl`),
* under ``Conformance.STRICT`` (the context's ``conformance``; the default), the RFC 5280 §5
  profile of every CRL once its signature has verified
  (:func:`jukicard.pki.conformance_crl.crl_violation`: CRL number, AKI, version, encodings...)
  and a keyUsage on its signer: a CRL that breaks it is not used (its own reason, an
  undetermined status when no other CRL answers).

Times are compared at the one-second granularity of X.509 times.

Each CRL is parsed and indexed once and looked up in O(log n) (:class:`jukicard.pki.crl.Crl`).
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from asn1crypto import x509 as _x509

from jukicard.errors import JukiError
from jukicard.pki.backend import PublicKey, load_public_key, verify_signature
from jukicard.pki.certs import Certificate
from jukicard.pki.conformance import Violation, crl_signer_violation, to_second
from jukicard.pki.conformance_crl import crl_violation
from jukicard.pki.crl import (
    ALL_REASONS,
    REASON_NAMES,
    Crl,
    general_name_key,
    load_crls,
    relative_key,
)
from jukicard.pki.errors import MalformedCrlError, MalformedError, UnsupportedAlgorithmError
from jukicard.pki.names import NameKey, name_key
from jukicard.pki.policy import Conformance
from jukicard.pki.reasons import CRL_PROFILE_REASONS, Reason
from jukicard.pki.result import RevocationState, RevocationStatus
from jukicard.pki.store import CrlStore

__all__ = [
    "RevocationState",
    "RevocationStatus",
    "RevocationSource",
    "RevocationContext",
    "CrlFetcher",
    "CrlRevocationSource",
    "DistributionPoint",
    "distribution_points",
    "dirname_key",
]

log = logging.getLogger(__name__)


@runtime_checkable
class CrlFetcher(Protocol):
    """Fetches CRL bytes (DER or PEM) for a URL; the HTTP implementation caches."""

    def fetch(self, url: str) -> bytes: ...


class RevocationContext(Protocol):
    """What a revocation source may ask the validator while checking one certificate.

    ``path`` is the validated path anchor → ... → the certificate being checked;
    ``conformance`` says whether CRLs must follow the RFC 5280 §5 profile (a context without
    it is taken as STRICT).  A context may also set ``crl_signer_checks`` (the validator's
    sets it from its :class:`~jukicard.pki.policy.PathBudget`): the most candidate signers
    whose key is tried on one CRL before the search stops with ``path-building-limit``
    (:data:`DEFAULT_CRL_SIGNER_CHECKS` otherwise).
    """

    at: _dt.datetime
    clock_skew: _dt.timedelta
    use_delta_crls: bool
    path: tuple[Certificate, ...]
    conformance: Conformance

    def signer_candidates(self, issuer: NameKey) -> list[Certificate]:
        """Certificates named ``issuer``: path certificates first, then anchors, the pool."""
        ...

    def public_key(self, cert: Certificate) -> PublicKey:
        """The (working) public key of ``cert``; raises UnsupportedAlgorithmError."""
        ...

    def check_algorithm(self, signature_algorithm: Any, key: PublicKey) -> None:
        """Raise UnsupportedAlgorithmError if the policy forbids this signature."""
        ...

    def validate_crl_signer(self, signer: Certificate, crl: Crl) -> str | None:
        """Validate the signer's own path to the same anchor; None if OK, else a reason."""
        ...


@runtime_checkable
class RevocationSource(Protocol):
    """Answers the revocation status of one certificate (style §10)."""

    def status(self, cert: Certificate, issuer: Certificate, at: _dt.datetime, *,
               context: RevocationContext | None = None) -> RevocationStatus:
        """:param cert: the certificate to check.
        :param issuer: its issuer in the validated path.
        :param at: validation time.
        :param context: validator services (CRL signer path validation...).
        """
        ...


@dataclass(frozen=True)
class DistributionPoint:
    """One cRLDistributionPoints entry of a certificate, resolved.

    :ivar names: DP names (``("dn", key)``, ``("uniform_resource_identifier", url)``...), or
        None when the distributionPoint field is absent.
    :ivar reasons: the reasons field (None = all reasons).
    :ivar crl_issuers: DirName keys of cRLIssuer (None = the certificate issuer).
    :ivar urls: URL full names (for fetching).
    :ivar dirnames: DirName full names (asn1crypto, for DirName → location mapping).
    """

    names: tuple[tuple[str, Any], ...] | None
    reasons: frozenset[str] | None
    crl_issuers: tuple[NameKey, ...] | None
    urls: tuple[str, ...] = ()
    dirnames: tuple[NameKey, ...] = ()


def distribution_points(cert: Certificate) -> list[DistributionPoint]:
    """The certificate's cRLDistributionPoints, resolved (empty list if absent).

    :raises MalformedError: if the extension content is unusable.
    """
    value = cert.ext_value("crl_distribution_points")
    if value is None:
        return []
    out: list[DistributionPoint] = []
    try:
        for dp in value:
            issuers: tuple[NameKey, ...] | None = None
            if dp["crl_issuer"].native is not None:
                issuers = tuple(name_key(gn.chosen) for gn in dp["crl_issuer"]
                                if gn.name == "directory_name")
            reasons = None
            if dp["reasons"].native is not None:
                reasons = frozenset(REASON_NAMES.get(r, r) for r in dp["reasons"].native
                                    if r != "unused")
            names: tuple[tuple[str, Any], ...] | None = None
            urls: list[str] = []
            dirnames: list[NameKey] = []
            dpn = dp["distribution_point"]
            if dpn.native is not None:
                if dpn.name == "full_name":
                    names = tuple(general_name_key(gn) for gn in dpn.chosen)
                    for gn in dpn.chosen:
                        if gn.name == "uniform_resource_identifier":
                            urls.append(str(gn.chosen.native))
                        elif gn.name == "directory_name":
                            dirnames.append(name_key(gn.chosen))
                else:
                    base = issuers[0] if issuers else cert.issuer_key
                    full = base + (relative_key(dpn.chosen),)
                    names = (("dn", full),)
                    dirnames.append(full)
            out.append(DistributionPoint(names, reasons, issuers, tuple(urls), tuple(dirnames)))
    except MalformedError:
        raise
    except Exception as exc:
        raise MalformedError(f"unusable cRLDistributionPoints ({type(exc).__name__})",
                             reason=Reason.MALFORMED) from exc
    return out


# problem ranks: the most relevant problem is reported when the status stays UNKNOWN
#: The most candidate signers tried on one CRL when the context does not say.
DEFAULT_CRL_SIGNER_CHECKS = 100

_RANK = {
    Reason.PATH_BUILDING_LIMIT: 9,
    **{r: 5 for r in CRL_PROFILE_REASONS},
    Reason.CRL_PATH: 6,
    Reason.CRL_NO_CRLSIGN: 6,
    Reason.CRL_UNKNOWN_CRITICAL: 5,
    Reason.MALFORMED_CRL: 5,
    Reason.BAD_CRL_SIGNATURE: 4,
    Reason.CRL_STALE: 4,
    Reason.UNSUPPORTED_ALGORITHM: 3,
    Reason.CRL_SCOPE: 2,
    Reason.UNDETERMINED: 1,
}


class _Problem(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class _IssuerOnlyContext:
    """Context used when a source is called without a validator: only ``issuer`` may sign."""

    def __init__(self, issuer: Certificate, at: _dt.datetime) -> None:
        self.at = at
        self.clock_skew = _dt.timedelta(0)
        self.use_delta_crls = True
        self.path = (issuer,)
        self.conformance = Conformance.STRICT
        self._issuer = issuer

    def signer_candidates(self, issuer: NameKey) -> list[Certificate]:
        return [self._issuer] if self._issuer.subject_key == issuer else []

    def public_key(self, cert: Certificate) -> PublicKey:
        return load_public_key(cert.spki)

    def check_algorithm(self, signature_algorithm: Any, key: PublicKey) -> None:
        return None

    def validate_crl_signer(self, signer: Certificate, crl: Crl) -> str | None:
        return None if signer == self._issuer else Reason.CRL_PATH


def _strict(ctx: RevocationContext) -> bool:
    """The context asks for the RFC 5280 §5 profile; a caller's own context written before
    ``conformance`` existed gets the default, STRICT."""
    return getattr(ctx, "conformance", Conformance.STRICT) is Conformance.STRICT


DirNameMapKey = Any  # NameKey | asn1crypto Name | cryptography Name | bytes | Certificate


def dirname_key(name: DirNameMapKey) -> NameKey:
    """Name key of a DirName given as a name key, an asn1crypto Name, a cryptography
    ``x509.Name``, DER bytes of a Name, or a CA certificate (its subject).

    :raises MalformedError: if it is none of these.
    """
    if isinstance(name, Certificate):
        return name.subject_key
    if isinstance(name, _x509.Name):
        return name_key(name)
    if isinstance(name, tuple):
        return name
    if hasattr(name, "public_bytes"):  # cryptography.x509.Name
        name = name.public_bytes()
    if isinstance(name, (bytes, bytearray)):
        try:
            return name_key(_x509.Name.load(bytes(name)))
        except MalformedError:
            raise
        except Exception as exc:
            raise MalformedError("DirName is not a DER Name", reason=Reason.MALFORMED_NAME) from exc
    raise MalformedError(f"cannot use {type(name).__name__} as a DirName",
                         reason=Reason.MALFORMED_NAME)


class CrlRevocationSource:
    """RFC 5280 §6.3 revocation from CRLs.

    :param crls: CRLs as :class:`~jukicard.pki.crl.Crl`, DER/PEM bytes or file paths.
    :param store: an existing :class:`~jukicard.pki.store.CrlStore` to share (optional).
    :param fetcher: optional :class:`CrlFetcher` used for URL distribution points and for
        mapped DirNames when no fresh CRL of that issuer is in the store.
    :param dirname_map: DirName distribution point → URL (fetched) or local file path
        (read).  A mapping, or ``(name, location)`` pairs (asn1crypto Names are not
        hashable); names as accepted by :func:`dirname_key`.
    :param index_dir: a folder where the CRLs' entry indexes are saved and reused (a large
        CRL is then indexed once per machine, not once per process): see
        :meth:`jukicard.pki.crl.Crl.parse`.
    :raises MalformedCrlError: for CRL bytes/files that do not parse.
    """

    def __init__(
        self,
        crls: Iterable[Crl | bytes | str | os.PathLike[str]] = (),
        *,
        store: CrlStore | None = None,
        fetcher: CrlFetcher | None = None,
        dirname_map: Mapping[Any, str] | Iterable[tuple[DirNameMapKey, str]] | None = None,
        index_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.store = store if store is not None else CrlStore()
        self.index_dir = index_dir
        self.fetcher = fetcher
        # (CRL fingerprint, signer SPKI) → signature valid: each CRL is verified once per key
        self._sig_ok: dict[tuple[str, bytes], bool] = {}
        # CRL fingerprint → its §5 profile violation (strict): each CRL is checked once
        self._profile: dict[str, Violation | None] = {}
        self._dirname_map: dict[NameKey, str] = {}
        pairs = dirname_map.items() if isinstance(dirname_map, Mapping) else (dirname_map or ())
        for k, v in pairs:
            self._dirname_map[dirname_key(k)] = v
        for c in crls:
            self.add(c)

    def add(self, crl: Crl | bytes | str | os.PathLike[str]) -> None:
        """Add a CRL object, DER/PEM bytes, or a file path.

        :raises MalformedCrlError: if it does not parse.
        """
        if isinstance(crl, Crl):
            self.store.add(crl)
        elif isinstance(crl, (bytes, bytearray, memoryview)):
            self._add_bytes(bytes(crl))
        else:
            with open(os.fspath(crl), "rb") as f:
                self._add_bytes(f.read())

    def _add_bytes(self, data: bytes) -> None:
        if self.index_dir is None:
            self.store.add_bytes(data)
            return
        for c in load_crls(data, index_dir=self.index_dir):
            self.store.add(c)

    # ------------------------------------------------------------------ fetching
    def _has_fresh(self, issuers: Sequence[NameKey], at: _dt.datetime) -> bool:
        for ik in issuers:
            for c in self.store.for_issuer(ik):
                if not c.is_delta and c.next_update is not None and c.next_update >= at:
                    return True
        return False

    def _load_location(self, location: str) -> None:
        try:
            if "://" in location:
                if self.fetcher is None:
                    log.info("no CRL fetcher configured for %s", location)
                    return
                data = self.fetcher.fetch(location)
            else:
                with open(location, "rb") as f:
                    data = f.read()
            self._add_bytes(data)
        except (JukiError, OSError) as exc:
            # the status stays UNKNOWN (fail closed); the reason is logged, not raised, and
            # callers report it with the result (services.verify lists it in "problems")
            log.info("CRL from %s unusable: %s", location, exc)

    def _maybe_fetch(self, dp: DistributionPoint, issuers: Sequence[NameKey],
                     at: _dt.datetime) -> None:
        if self._has_fresh(issuers, at):
            return
        for url in dp.urls:
            if url.startswith(("http://", "https://", "file://")):
                self._load_location(url)
        for dn in dp.dirnames:
            loc = self._dirname_map.get(dn)
            if loc is not None:
                self._load_location(loc)

    # ------------------------------------------------------------------ §6.3.3
    def status(self, cert: Certificate, issuer: Certificate, at: _dt.datetime, *,
               context: RevocationContext | None = None) -> RevocationStatus:
        """Revocation status of ``cert`` (RFC 5280 §6.3.3).

        :param cert: the certificate to check.
        :param issuer: its issuer in the validated path.
        :param at: validation time (timezone-aware).
        :param context: validator services; without it only ``issuer`` may sign CRLs.
        :returns: GOOD, REVOKED (with date and reason) or UNKNOWN (with ``problem``).
        """
        at = to_second(at)
        ctx: RevocationContext = context if context is not None else \
            _IssuerOnlyContext(issuer, at)  # type: ignore[assignment]
        try:
            dps = distribution_points(cert)
        except MalformedError as exc:
            return RevocationStatus.unknown(Reason.UNDETERMINED, str(exc))
        if not dps:
            dps = [DistributionPoint(None, None, None)]
        reasons_mask: set[str] = set()
        problems: list[_Problem] = []
        used: list[str] = []
        named_issuer = False
        for dp in dps:
            if reasons_mask >= ALL_REASONS:
                break
            if dp.crl_issuers is not None and not dp.crl_issuers:
                problems.append(_Problem(Reason.UNDETERMINED, "cRLIssuer has no DirName"))
                continue
            issuers = list(dp.crl_issuers) if dp.crl_issuers else [cert.issuer_key]
            named_issuer = named_issuer or bool(dp.crl_issuers)
            self._maybe_fetch(dp, issuers, at)
            for ik in issuers:
                complete = [c for c in self.store.for_issuer(ik) if not c.is_delta]
                # newest first: thisUpdate, then cRLNumber
                complete.sort(key=lambda c: (c.this_update, c.crl_number or -1), reverse=True)
                for crl in complete:
                    if reasons_mask >= ALL_REASONS:
                        break
                    try:
                        outcome = self._use_crl(cert, dp, crl, ctx, reasons_mask)
                    except _Problem as p:
                        log.debug("CRL %s not usable: %s", crl.describe(), p)
                        problems.append(p)
                        continue
                    if outcome is None:
                        continue
                    status, interim, source = outcome
                    if status is not None:
                        return status
                    reasons_mask |= interim
                    used.append(source)
        if reasons_mask >= ALL_REASONS:
            return RevocationStatus.good(source="; ".join(used))
        if not problems:
            if reasons_mask:
                msg = "the usable CRLs do not cover all revocation reasons"
            elif named_issuer:
                msg = "no CRL found from the cRLIssuer named in the distribution point"
            else:
                msg = "no CRL found for this certificate's issuer"
            return RevocationStatus.unknown(Reason.UNDETERMINED, msg,
                                            source="; ".join(used) or None)
        best = max(problems, key=lambda p: _RANK.get(p.reason, 0))
        return RevocationStatus.unknown(best.reason, str(best), source="; ".join(used) or None)

    def _use_crl(self, cert: Certificate, dp: DistributionPoint, crl: Crl,
                 ctx: RevocationContext, reasons_mask: set[str],
                 ) -> tuple[RevocationStatus | None, frozenset[str], str] | None:
        """Apply §6.3.3 (a)–(k) with one complete CRL; raise _Problem if unusable."""
        at, skew = ctx.at, ctx.clock_skew
        desc = crl.describe()
        # (b) scope
        self._check_scope(cert, dp, crl)
        # (d)/(e) reasons
        idp_reasons = crl.idp.only_some_reasons if crl.idp else None
        interim = (idp_reasons if idp_reasons is not None else ALL_REASONS) & \
            (dp.reasons if dp.reasons is not None else ALL_REASONS)
        if interim <= reasons_mask:
            return None
        if crl.header_unusable_reason:
            raise _Problem(crl.header_unusable_reason,
                           f"{desc} has an unrecognised critical extension")
        # (a) freshness
        self._check_fresh(crl, at, skew)
        # (f)/(g) signer and signature; then the entries (decoded only now, for an authentic
        # CRL: a forged one never costs the uncommon entries' decoding) and, strict, the
        # CRL profile
        signer = self._find_signer(crl, ctx)
        self._check_entries(crl)
        self._check_profile(crl, ctx)
        # (c)/(h) delta
        delta = self._find_delta(crl, signer, ctx) if ctx.use_delta_crls else None
        # (i)–(k) lookup
        entry = None
        where = desc
        if delta is not None:
            entry = delta.lookup(cert.issuer_key, cert.serial)
            where = delta.describe()
            if entry is not None and entry.reason == "removeFromCRL":
                return None, frozenset(interim), f"{desc} + {delta.describe()}"
        if entry is None:
            entry = crl.lookup(cert.issuer_key, cert.serial)
            where = desc
        source = desc if delta is None else f"{desc} + {delta.describe()}"
        if entry is not None and entry.reason != "removeFromCRL" and \
                entry.revoked_at <= to_second(at + skew):
            return (RevocationStatus(RevocationState.REVOKED, revoked_at=entry.revoked_at,
                                     revocation_reason=entry.reason, source=where,
                                     message=f"revoked on {entry.revoked_at.isoformat()}"
                                     f" ({entry.reason or 'no reason given'}) per {where}"),
                    frozenset(interim), source)
        return None, frozenset(interim), source

    def _check_scope(self, cert: Certificate, dp: DistributionPoint, crl: Crl) -> None:
        desc = crl.describe()
        idp = crl.idp
        if dp.crl_issuers:
            if idp is None or not idp.indirect_crl:
                # a CRL that is not indirect only speaks for its issuer's own certificates:
                # it is not a CRL for this distribution point at all
                raise _Problem(Reason.UNDETERMINED,
                               f"{desc} is not an indirect CRL but is named as cRLIssuer")
        elif crl.issuer_key != cert.issuer_key:
            raise _Problem(Reason.CRL_SCOPE, f"{desc} is not from the certificate issuer")
        if idp is None:
            return
        if idp.has_name:
            idp_names = set(idp.names(crl.issuer_key))
            if dp.names is not None:
                ok = bool(idp_names & set(dp.names))
            else:
                alt = dp.crl_issuers if dp.crl_issuers else (cert.issuer_key,)
                ok = any(("dn", k) in idp_names for k in alt)
            if not ok:
                raise _Problem(Reason.CRL_SCOPE,
                               f"{desc} covers another distribution point")
        if idp.only_user_certs and cert.is_ca:
            raise _Problem(Reason.CRL_SCOPE, f"{desc} covers only end-entity certificates")
        if idp.only_ca_certs and not cert.is_ca:
            raise _Problem(Reason.CRL_SCOPE, f"{desc} covers only CA certificates")
        if idp.only_attribute_certs:
            raise _Problem(Reason.CRL_SCOPE, f"{desc} covers only attribute certificates")

    @staticmethod
    def _check_fresh(crl: Crl, at: _dt.datetime, skew: _dt.timedelta) -> None:
        desc = crl.describe()
        if crl.this_update > to_second(at + skew):
            raise _Problem(Reason.UNDETERMINED, f"{desc} is issued after the validation time")
        if crl.next_update is None:
            raise _Problem(Reason.CRL_STALE, f"{desc} has no nextUpdate")
        if crl.next_update < to_second(at - skew):
            raise _Problem(Reason.CRL_STALE,
                           f"{desc} is stale (nextUpdate {crl.next_update.isoformat()})")

    def _find_signer(self, crl: Crl, ctx: RevocationContext) -> Certificate:
        desc = crl.describe()
        cands = ctx.signer_candidates(crl.issuer_key)
        if crl.authority_key_identifier is not None:
            aki = crl.authority_key_identifier
            cands.sort(key=lambda c: 0 if c.subject_key_identifier == aki else 1)
        problems: list[_Problem] = []
        limit = getattr(ctx, "crl_signer_checks", DEFAULT_CRL_SIGNER_CHECKS)
        tried = 0
        for cand in cands:
            if (crl.fingerprint, cand.spki) not in self._sig_ok:
                # a pool of look-alike CRL issuers costs at most `limit` verifications per
                # CRL (the signer the CRL's AKI names is tried first)
                tried += 1
                if tried > limit:
                    raise _Problem(Reason.PATH_BUILDING_LIMIT,
                                   f"{desc}: CRL signer search stopped after {limit} "
                                   "candidate signers")
            try:
                key = ctx.public_key(cand)
                ctx.check_algorithm(crl.signature_algorithm_asn1, key)
                ok = self._verify(crl, cand, key)
            except UnsupportedAlgorithmError as exc:
                problems.append(_Problem(Reason.UNSUPPORTED_ALGORITHM,
                                         f"{desc}: {exc}"))
                continue
            if not ok:
                problems.append(_Problem(Reason.BAD_CRL_SIGNATURE,
                                         f"{desc}: signature does not verify"))
                continue
            ku = cand.key_usage
            if ku is not None and "crl_sign" not in ku:
                problems.append(_Problem(Reason.CRL_NO_CRLSIGN,
                                         f"{desc}: signer {cand.describe()} lacks cRLSign"))
                continue
            bad_signer = crl_signer_violation(cand) if _strict(ctx) else None
            if bad_signer is not None:
                problems.append(_Problem(bad_signer.reason, f"{desc}: {bad_signer}"))
                continue
            reason = ctx.validate_crl_signer(cand, crl)
            if reason is not None:
                problems.append(_Problem(Reason.CRL_PATH,
                                         f"{desc}: signer {cand.describe()} does not "
                                         f"validate ({reason})"))
                continue
            return cand
        if not problems:
            raise _Problem(Reason.UNDETERMINED, f"{desc}: no certificate for its issuer")
        raise max(problems, key=lambda p: _RANK.get(p.reason, 0))

    def _verify(self, crl: Crl, signer: Certificate, key: PublicKey) -> bool:
        ck = (crl.fingerprint, signer.spki)
        ok = self._sig_ok.get(ck)
        if ok is None:
            ok = verify_signature(key, crl.signature_algorithm_asn1, crl.signature,
                                  crl.tbs_view)
            if len(self._sig_ok) > 4096:
                self._sig_ok.clear()
            self._sig_ok[ck] = ok
        return ok

    @staticmethod
    def _check_entries(crl: Crl) -> None:
        """Decode the CRL's uncommon entries (once its signature has verified): a malformed
        one, or an unknown critical entry extension, makes it unusable."""
        try:
            crl.check_entries()
        except MalformedCrlError as exc:
            raise _Problem(Reason.MALFORMED_CRL, f"{crl.describe()}: {exc}") from exc
        if crl.index.unusable_reason:
            raise _Problem(crl.index.unusable_reason,
                           f"{crl.describe()} has an unrecognised critical entry extension")

    def _check_profile(self, crl: Crl, ctx: RevocationContext) -> None:
        """Under ``Conformance.STRICT``, refuse a CRL that breaks the RFC 5280 §5 profile
        (checked once per CRL)."""
        if not _strict(ctx):
            return
        if crl.fingerprint not in self._profile:
            if len(self._profile) > 4096:
                self._profile.clear()
            self._profile[crl.fingerprint] = crl_violation(crl)
        found = self._profile[crl.fingerprint]
        if found is not None:
            raise _Problem(found.reason, f"{crl.describe()}: {found}")

    def _find_delta(self, crl: Crl, signer: Certificate, ctx: RevocationContext) -> Crl | None:
        if crl.crl_number is None:
            return None
        deltas = [
            d for d in self.store.for_issuer(crl.issuer_key)
            if d.is_delta and d.crl_number is not None
            and d.crl_number > crl.crl_number
            and d.base_crl_number is not None and d.base_crl_number <= crl.crl_number
            and (d.idp.der if d.idp else None) == (crl.idp.der if crl.idp else None)
        ]
        if not deltas:
            return None
        deltas.sort(key=lambda d: d.crl_number or 0, reverse=True)
        problems: list[_Problem] = []
        for d in deltas:
            try:
                if d.header_unusable_reason:
                    raise _Problem(d.header_unusable_reason,
                                   f"{d.describe()} has an unrecognised critical extension")
                self._check_fresh(d, ctx.at, ctx.clock_skew)
                key = ctx.public_key(signer)
                ctx.check_algorithm(d.signature_algorithm_asn1, key)
                if not self._verify(d, signer, key):
                    # the delta may be signed by another key of the same CRL issuer
                    self._find_signer(d, ctx)
                self._check_entries(d)
                self._check_profile(d, ctx)
            except UnsupportedAlgorithmError as exc:
                problems.append(_Problem(Reason.UNSUPPORTED_ALGORITHM, str(exc)))
                continue
            except _Problem as p:
                problems.append(p)
                continue
            return d
        # delta CRLs exist for this CRL but none is usable: the complete CRL alone is not
        # current enough (fail closed)
        raise max(problems, key=lambda p: _RANK.get(p.reason, 0))
