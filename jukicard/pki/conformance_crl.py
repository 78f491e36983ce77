"""The strict profile for CRLs: RFC 5280 §5 conformance checks (the certificate checks of
§4 and the shared helpers are :mod:`jukicard.pki.conformance`).

Each check is a pure function over a :class:`~jukicard.pki.crl.Crl` returning a
:class:`~jukicard.pki.conformance.Violation` (the rule's own
:class:`~jukicard.pki.reasons.Reason`) or ``None``; its docstring cites the RFC words it
enforces.  :func:`crl_violation` runs them in a fixed order and returns the first one.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from jukicard.pki.backend import contained_deprecations, load_x509_crl, recognised_extension_oids
from jukicard.pki.conformance import (
    _CRL_NUMBER,
    _DELTA,
    _IDP,
    _MAX_INTEGER_OCTETS,
    CRL_CRITICALITY,
    Violation,
    _extension_values_problem,
    _is_empty_name,
    _time_violation,
    _v,
)
from jukicard.pki.crl import Crl
from jukicard.pki.reasons import Reason

__all__ = ["crl_violation", "CRL_CHECKS"]


def _crl_tbs(crl: Crl) -> Any:
    return crl.header_asn1["tbs_cert_list"]


def _crl_extensions(crl: Crl) -> Any:
    return _crl_tbs(crl)["crl_extensions"]


def check_crl_version(crl: Crl) -> Violation | None:
    """RFC 5280 §5.1.2.1: "When extensions are used, as required by this profile, this
    field MUST be present and MUST specify version 2" (CRL extensions here, entry
    extensions in :func:`check_crl_entries`)."""
    tbs = _crl_tbs(crl)
    if tbs["version"].native != "v2" and len(tbs["crl_extensions"]) > 0:
        return _v(Reason.CRL_VERSION, "has extensions but is not v2 (§5.1.2.1)")
    return None


def check_crl_signature_fields(crl: Crl) -> Violation | None:
    """RFC 5280 §5.1.1.2 / §5.1.2.2: the signatureAlgorithm "MUST contain the same
    algorithm identifier as the signature field in the sequence tbsCertList"."""
    if crl.header_asn1["signature_algorithm"].dump() != _crl_tbs(crl)["signature"].dump():
        return _v(Reason.CRL_SIGNATURE_ALGORITHM_MISMATCH,
                  "signatureAlgorithm differs from the TBS signature field (§5.1.1.2)")
    return None


def check_crl_issuer_name(crl: Crl) -> Violation | None:
    """RFC 5280 §5.1.2.3: "The issuer field MUST contain a non-empty X.500 distinguished
    name"."""
    if _is_empty_name(crl.issuer):
        return _v(Reason.CRL_ISSUER_EMPTY, "issuer name is empty (§5.1.2.3)")
    return None


def check_crl_time_encoding(crl: Crl) -> Violation | None:
    """RFC 5280 §5.1.2.4 / §5.1.2.5: "CRL issuers conforming to this profile MUST encode
    thisUpdate [nextUpdate] as UTCTime for dates through the year 2049" and as
    GeneralizedTime from 2050, in the forms of §4.1.2.5."""
    tbs = _crl_tbs(crl)
    for field, label in (("this_update", "thisUpdate"), ("next_update", "nextUpdate")):
        if tbs[field].native is None:
            continue
        problem = _time_violation(tbs[field])
        if problem is not None:
            return _v(Reason.CRL_TIME_ENCODING, f"{label}: {problem} (§5.1.2.4)")
    return None


#: What ``cryptography``'s strict DER parser makes of a CRL, per CRL object: whether it
#: loads, and the extension OIDs it reads (``None``: it refuses them).  Two checks need it
#: and a 10M-entry CRL takes 0.6 s to load, so it is loaded once.
_STRICT_READS: weakref.WeakKeyDictionary[Crl, tuple[bool, frozenset[str] | None]] = \
    weakref.WeakKeyDictionary()


def _strict_read(crl: Crl) -> tuple[bool, frozenset[str] | None]:
    found = _STRICT_READS.get(crl)
    if found is None:
        with contained_deprecations():
            try:
                parsed = load_x509_crl(crl.der)
            except ValueError:
                found = (False, None)
            else:
                try:
                    found = (True, recognised_extension_oids(parsed.extensions))
                except ValueError:
                    found = (True, None)
        _STRICT_READS[crl] = found
    return found


def check_crl_der(crl: Crl) -> Violation | None:
    """RFC 5280 §5.1: a CRL is DER ("the DER encoding of the CRL"): ``cryptography``'s DER
    parser must accept it (see :func:`check_der`)."""
    if not _strict_read(crl)[0]:
        return _v(Reason.CRL_NOT_DER, "is not DER: a strict DER parser refuses it (§5.1)")
    return None


def check_crl_extension_encoding(crl: Crl) -> Violation | None:
    """RFC 5280 §5.2: each CRL extension value is the DER encoding of one ASN.1 value (as
    :func:`check_extension_encoding`); the issuingDistributionPoint MUST NOT be "an empty
    sequence" (§5.2.5)."""
    for ext in _crl_extensions(crl):
        idp = ext["extn_value"].parsed if ext["extn_id"].dotted == _IDP else None
        if idp is not None and all(idp[f].native in (None, False) for f in idp):
            return _v(Reason.CRL_EXTENSION_MALFORMED,
                      "issuingDistributionPoint is an empty sequence (§5.2.5)")
    read = _strict_read(crl)[1]
    if read is None:
        return _v(Reason.CRL_EXTENSION_MALFORMED,
                  "a CRL extension value is malformed: a strict DER parser refuses it (§5.2)")
    problem = _extension_values_problem(_crl_extensions(crl), read)
    return None if problem is None else _v(Reason.CRL_EXTENSION_MALFORMED, f"{problem} (§5.2)")


def check_crl_number(crl: Crl) -> Violation | None:
    """RFC 5280 §5.2.3: "CRL issuers conforming to this profile MUST include this
    extension in all CRLs and MUST mark this extension as non-critical"; CRLNumber is
    ``INTEGER (0..MAX)`` and "MUST NOT use CRLNumber values longer than 20 octets" (also
    the BaseCRLNumber of §5.2.4)."""
    found = False
    for ext in _crl_extensions(crl):
        oid = ext["extn_id"].dotted
        if oid not in (_CRL_NUMBER, _DELTA):
            continue
        value = ext["extn_value"].parsed
        if value.native < 0 or len(value.contents) > _MAX_INTEGER_OCTETS:
            return _v(Reason.CRL_NUMBER_RANGE,
                      "CRL number is negative or over 20 octets (§5.2.3)")
        if oid == _CRL_NUMBER and ext["critical"].native:
            return _v(Reason.CRL_NUMBER_CRITICAL, "cRLNumber is critical (§5.2.3)")
        found = found or oid == _CRL_NUMBER
    return None if found else _v(Reason.CRL_NUMBER_MISSING, "has no cRLNumber (§5.2.3)")


def check_crl_authority_key_identifier(crl: Crl) -> Violation | None:
    """RFC 5280 §5.2.1: "Conforming CRL issuers MUST use the key identifier method, and
    MUST include this extension in all CRLs issued"."""
    if crl.authority_key_identifier is None:
        return _v(Reason.CRL_AKI_MISSING, "has no authorityKeyIdentifier keyIdentifier (§5.2.1)")
    return None


def check_crl_criticality(crl: Crl) -> Violation | None:
    """RFC 5280 §5.2: authorityKeyIdentifier non-critical (§5.2.1 → §4.2.1.1),
    deltaCRLIndicator and issuingDistributionPoint critical (§5.2.4, §5.2.5: each "is a
    critical CRL extension"), freshestCRL and authorityInfoAccess non-critical (§5.2.6:
    "MUST be marked as non-critical", §5.2.7: "MUST mark this extension as
    non-critical")."""
    for ext in _crl_extensions(crl):
        rule = CRL_CRITICALITY.get(ext["extn_id"].dotted)
        if rule is not None and bool(ext["critical"].native) != rule[0]:
            want = "critical" if rule[0] else "non-critical"
            return _v(Reason.CRL_EXTENSION_CRITICALITY, f"{rule[1]} is not {want}")
    return None


def check_crl_entries(crl: Crl) -> Violation | None:
    """RFC 5280 §5.3: every CRL entry extension is well-formed (decoded by
    ``cryptography``'s DER parser: reasonCode, invalidityDate, certificateIssuer...), the
    certificateIssuer entry extension is critical (§5.3.3: "CRL issuers MUST mark this
    extension as critical") and appears only in an indirect CRL (§5.3.3: "only in CRLs
    where the indirectCRL indicator is asserted"; elsewhere the index does not apply it),
    and a CRL with entry extensions is v2 (§5.1.2.1).

    The first finding in CRL order is reported.  The entries of the common shapes were
    checked completely when the CRL was indexed (:mod:`jukicard.pki.crlscan`: DER, no
    extension or one well-formed non-critical reasonCode or invalidityDate), so only the
    version rule applies to them; every other entry goes through ``cryptography``'s parser
    here, as the whole CRL did before issue 10."""
    v2 = _crl_tbs(crl)["version"].native == "v2"
    index = crl.index
    limit = index.first_extension if index.first_extension >= 0 and not v2 else len(index)
    slow = index.slow_positions
    tbs = _crl_tbs(crl)
    head = (b"\x02\x01\x01" + tbs["signature"].dump() + tbs["issuer"].dump()
            + tbs["this_update"].dump()
            + (tbs["next_update"].dump() if tbs["next_update"].native is not None else b""))
    tail = crl.header_asn1["signature_algorithm"].dump() + crl.header_asn1["signature"].dump()
    found = index.strict_parser_finding(slow[slow < limit], head, tail, v2=v2,
                                        indirect=crl.is_indirect)
    if found is not None:
        return _v(*found)
    if limit < len(index):
        return _v(Reason.CRL_VERSION, "has entry extensions but is not v2 (RFC 5280 §5.1.2.1)")
    return None


#: The CRL checks, in the order they are run.
CRL_CHECKS: tuple[Callable[[Crl], Violation | None], ...] = (
    check_crl_version, check_crl_signature_fields, check_crl_der, check_crl_issuer_name,
    check_crl_time_encoding, check_crl_number, check_crl_authority_key_identifier,
    check_crl_criticality, check_crl_extension_encoding, check_crl_entries,
)


def crl_violation(crl: Crl) -> Violation | None:
    """The first RFC 5280 §5 rule ``crl`` breaks, or ``None`` (complete and delta CRLs).

    :param crl: the CRL (its signature is checked elsewhere).
    """
    for check in CRL_CHECKS:
        found = check(crl)
        if found is not None:
            return found
    return None
