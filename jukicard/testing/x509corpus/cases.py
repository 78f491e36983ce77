"""The case table: each case is a base chain (:mod:`~.chain`) with exactly one change.

A *defect* case breaks one rule of RFC 5280 §4/§5 (or §6 for time and signatures) and must
be rejected; a *control* case is conformant — often the boundary next to a defect (the
second before expiry, a 20-octet serial, an empty subject with a critical SAN) — and must be
accepted.  ``notes`` holds the written reason why a named peer verifier (``cryptography``,
``openssl``) is wrong on a case; the differential test accepts a disagreement with that peer
only when such a reason is written here.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from asn1crypto import core
from asn1crypto import x509 as asn1_x509

from jukicard.testing.x509corpus.chain import (
    AT,
    LEAF_NAME,
    LEAF_SERIAL,
    Chain,
    Edit,
    bc_value,
    crl_number_value,
    ku_value,
)
from jukicard.testing.x509corpus.encode import (
    OID,
    SHA256_RSA_NO_PARAMS,
    SHA384_RSA,
    CertSpec,
    CrlSpec,
    Ext,
    RevokedSpec,
)

__all__ = ["CaseDef", "CASES", "PEERS"]

#: The peer verifiers a note may name.
PEERS = ("cryptography", "openssl")

_SECOND = _dt.timedelta(seconds=1)
_HALF_SECOND = _dt.timedelta(microseconds=500_000)


@dataclass(frozen=True)
class CaseDef:
    """One row of the corpus.

    :ivar id: stable identifier (kebab-case).
    :ivar rule: the rule family (several cases may test one rule at other positions).
    :ivar rfc: the RFC 5280 section the rule comes from.
    :ivar what: one line: the defect, or what the control shows.
    :ivar valid: True for a control (must be accepted), False for a defect.
    :ivar shape: 3 (root → intermediate → leaf) or 2 (root → leaf).
    :ivar edit: the one change to the base chain.
    :ivar crl: revocation checking is part of the case (the root's CRL is given).
    :ivar at: validation time.
    :ivar notes: peer name → why that peer's verdict on this case is wrong.
    :ivar reasons: for a defect whose jukicard reason code is already fixed by RFC 5280 §6
        (expiry, signature, revocation, CRL usability), the codes that name it; empty:
        any code that names the defect rather than a consequence of it.
    """

    id: str
    rule: str
    rfc: str
    what: str
    valid: bool
    edit: Edit = field(default=lambda c: c)
    shape: int = 3
    crl: bool = False
    at: _dt.datetime = AT
    notes: Mapping[str, str] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()


# ------------------------------------------------------------------ small edit builders
CertEdit = Callable[[CertSpec], CertSpec]


def _on(role: str, fn: CertEdit) -> Edit:
    def edit(c: Chain) -> Chain:
        return c.edit(role, fn)
    return edit


def _leaf(fn: CertEdit) -> Edit:
    return _on("leaf", fn)


def _inter(fn: CertEdit) -> Edit:
    return _on("intermediate", fn)


def _root(fn: CertEdit) -> Edit:
    return _on("root", fn)


def _crl(fn: Callable[[CrlSpec], CrlSpec]) -> Edit:
    def edit(c: Chain) -> Chain:
        return c.edit_crl(fn)
    return edit


def _rename(role: str, subject: tuple[tuple[str, str], ...]) -> Edit:
    def edit(c: Chain) -> Chain:
        return c.rename(role, subject)
    return edit


def _aki_issuer_serial(c: Chain) -> Chain:
    """The leaf's AKI names its issuer's certificate by issuer name and serial (the other
    form of §4.2.1.1), without a keyIdentifier."""
    issuer = c.certs[-2]
    value = asn1_x509.AuthorityKeyIdentifier({
        "authority_cert_issuer": [asn1_x509.GeneralName(
            "directory_name", asn1_x509.Name.build(dict(issuer.issuer)))],
        "authority_cert_serial_number": issuer.serial,
    }).dump()
    return c.edit("leaf", lambda s: s.with_ext(OID.AKI, False, value))


def _ca_as_target(c: Chain) -> Chain:
    return dataclasses.replace(c, certs=c.certs[:2])


def _dns_subtree(name: str) -> asn1_x509.GeneralSubtrees:
    return asn1_x509.GeneralSubtrees([{"base": asn1_x509.GeneralName("dns_name", name)}])


def _crl_ext(c: CrlSpec, oid: str, critical: bool, value: bytes | None) -> CrlSpec:
    """The CRL with extension ``oid`` replaced (``value`` None: removed)."""
    if value is None:
        return c.replace(extensions=tuple(e for e in c.extensions if e.oid != oid))
    return c.replace(extensions=tuple(Ext(oid, critical, value) if e.oid == oid else e
                                      for e in c.extensions))


def _crl_critical(oid: str) -> Edit:
    return _crl(lambda c: c.replace(extensions=tuple(
        Ext(e.oid, True, e.value) if e.oid == oid else e for e in c.extensions)))


_EMPTY_SUBJECT_SAN = asn1_x509.GeneralNames(
    [asn1_x509.GeneralName("rfc822_name", "corpus-leaf@example.com")]).dump()
_UNKNOWN_VALUE = core.UTF8String("corpus").dump()
_NC_VALUE = asn1_x509.NameConstraints({"excluded_subtrees": _dns_subtree("excluded.example")}
                                      ).dump()
_PC_VALUE = asn1_x509.PolicyConstraints({"inhibit_policy_mapping": 0}).dump()
_REQUIRE_POLICY_VALUE = asn1_x509.PolicyConstraints({"require_explicit_policy": 0}).dump()
_NC_EXCLUDES_LEAF = asn1_x509.NameConstraints({"excluded_subtrees": asn1_x509.GeneralSubtrees([
    {"base": asn1_x509.GeneralName("directory_name", asn1_x509.Name.build(dict(LEAF_NAME)))}])
}).dump()
_NC_PERMITS_LEAF = asn1_x509.NameConstraints({"permitted_subtrees": asn1_x509.GeneralSubtrees([
    {"base": asn1_x509.GeneralName("directory_name",
                                   asn1_x509.Name.build(dict(LEAF_NAME[:2])))}])}).dump()
_POLICY = "2.999.1.1"  # under the X.660 example arc
_EKU_CODE_SIGNING = asn1_x509.ExtKeyUsageSyntax(["code_signing"]).dump()
_EKU_NOTE = ("RFC 5280 §4.2.1.12 defines extKeyUsage for the certificate that holds it; it "
             "places no constraint on the certificates below a CA and names no purpose a path "
             "must serve. cryptography's client verifier applies the web PKI's rules instead "
             "(clientAuth required on the leaf, EKU 'chaining' through the CAs). A purpose is "
             "the caller's to check: JPKI sign/auth certificates are told apart by the JPKI "
             "profile (--usage), not by extKeyUsage.")
_DUPLICATE_POLICIES = asn1_x509.CertificatePolicies([
    {"policy_identifier": _POLICY}, {"policy_identifier": _POLICY}]).dump()
_IAP_VALUE = core.Integer(0).dump()
_AIA_VALUE = asn1_x509.AuthorityInfoAccessSyntax([{
    "access_method": "ca_issuers",
    "access_location": asn1_x509.GeneralName("uniform_resource_identifier",
                                             "http://example.invalid/corpus-ca.cer"),
}]).dump()
_TWENTY_OCTETS = (1 << 158) + 1     # 0x40 00 .. 01: 20 octets, positive
_TWENTY_ONE_OCTETS = 1 << 160       # 0x01 00 .. 00: 21 octets


def _root_aki(s: CertSpec) -> bytes:
    """AKI of a self-signed spec: its own SKI as keyIdentifier."""
    ski = s.ext(OID.SKI)
    if ski is None:
        raise KeyError(OID.SKI)
    digest = core.OctetString.load(ski.value).native
    return asn1_x509.AuthorityKeyIdentifier({"key_identifier": digest}).dump()


#: OpenSSL's X509_cmp_time() answers "earlier" for equal times, so a notAfter/nextUpdate
#: equal to the validation time counts as passed.
_OPENSSL_INCLUSIVE = (
    "OpenSSL treats a notAfter equal to the validation time as expired (X509_cmp_time "
    "answers 'earlier' for equal times); RFC 5280 §4.1.2.5 makes the validity period "
    "inclusive of notAfter, and `-attime` (whole seconds) puts T + 0.5 s in second T.")
_OPENSSL_CRL_INCLUSIVE = (
    "OpenSSL treats a CRL whose nextUpdate equals the validation time as expired (same "
    "X509_cmp_time rule); RFC 5280 §6.3.3 (a)(2) drops a CRL only when the current time is "
    "after nextUpdate.")


CASES: tuple[CaseDef, ...] = (
    # ---------------------------------------------------------------- controls
    CaseDef(id="valid-3", rule="control", rfc="§4", valid=True,
            what="conformant root → intermediate → leaf"),
    CaseDef(id="valid-2", rule="control", rfc="§4", valid=True, shape=2,
            what="conformant root → leaf"),
    CaseDef(id="valid-leaf-without-ski", rule="control", rfc="§4.2.1.2", valid=True,
            edit=_leaf(lambda s: s.without(OID.SKI)),
            what="end entity without SKI (a SHOULD for end entities, not a MUST)"),
    CaseDef(id="valid-root-with-aki", rule="control", rfc="§4.2.1.1", valid=True,
            edit=_root(lambda s: s.with_ext(OID.AKI, False, _root_aki(s))),
            what="self-signed root with an AKI (MAY)"),
    CaseDef(id="valid-serial-20-octets", rule="control", rfc="§4.1.2.2", valid=True,
            edit=_leaf(lambda s: s.replace(serial=_TWENTY_OCTETS)),
            what="leaf serial of exactly 20 octets"),
    CaseDef(id="valid-unknown-noncritical", rule="control", rfc="§4.2", valid=True,
            edit=_leaf(lambda s: s.with_ext(OID.UNKNOWN, False, _UNKNOWN_VALUE)),
            what="unknown non-critical extension on the leaf (ignored)"),
    CaseDef(id="valid-ku-noncritical", rule="control", rfc="§4.2.1.3", valid=True,
            edit=_leaf(lambda s: s.critical(OID.KU, False)),
            what="leaf keyUsage non-critical (SHOULD be critical, not MUST)"),
    CaseDef(id="valid-empty-subject-critical-san", rule="control", rfc="§4.2.1.6", valid=True,
            edit=_leaf(lambda s: s.replace(subject=()).with_ext(OID.SAN, True,
                                                                _EMPTY_SUBJECT_SAN)),
            what="leaf with an empty subject and a critical SAN"),
    CaseDef(id="valid-notafter-equals-at", rule="control", rfc="§4.1.2.5", valid=True,
            edit=_leaf(lambda s: s.replace(not_after=AT)),
            what="leaf notAfter = validation time (the period is inclusive)",
            notes={"openssl": _OPENSSL_INCLUSIVE}),
    CaseDef(id="valid-notbefore-equals-at", rule="control", rfc="§4.1.2.5", valid=True,
            edit=_leaf(lambda s: s.replace(not_before=AT)),
            what="leaf notBefore = validation time"),
    CaseDef(id="valid-notafter-subsecond", rule="control", rfc="§4.1.2.5", valid=True,
            edit=_leaf(lambda s: s.replace(not_after=AT)), at=AT + _HALF_SECOND,
            what="leaf notAfter = T, validated at T + 0.5 s (the certificate's second is "
                 "still T)",
            notes={"openssl": _OPENSSL_INCLUSIVE}),
    CaseDef(id="valid-generalizedtime-2050", rule="control", rfc="§4.1.2.5", valid=True,
            edit=_leaf(lambda s: s.replace(not_after=_dt.datetime(2050, 1, 1,
                                                                  tzinfo=_dt.UTC))),
            what="leaf notAfter in 2050 as GeneralizedTime"),
    CaseDef(id="valid-name-constraints-critical", rule="control", rfc="§4.2.1.10", valid=True,
            edit=_inter(lambda s: s.with_ext(OID.NC, True, _NC_VALUE)),
            what="intermediate with critical nameConstraints the leaf satisfies"),
    CaseDef(id="valid-policy-constraints-critical", rule="control", rfc="§4.2.1.11", valid=True,
            edit=_inter(lambda s: s.with_ext(OID.POLICY_CONSTRAINTS, True, _PC_VALUE)),
            what="intermediate with critical policyConstraints",
            notes={"cryptography": "cryptography's verifier does no certificate-policy "
                   "processing, so it must refuse a critical policyConstraints (§4.2: a critical "
                   "extension it cannot process); the certificate is conformant (§4.2.1.11 "
                   "requires the extension critical) and §6.1.4 (i) processes it."}),
    CaseDef(id="valid-ca-as-target", rule="control", rfc="§6.1", valid=True,
            edit=_ca_as_target, what="the intermediate CA certificate itself as the target",
            notes={"cryptography": "cryptography's client verifier applies the CA/B Forum rule "
                   "that a leaf must not assert cA; RFC 5280 §6.1 validates any target, and a CA "
                   "certificate is validated this way (e.g. a CRL signer)."}),
    CaseDef(id="valid-crl", rule="control", rfc="§5", valid=True, shape=2, crl=True,
            what="conformant CRL, leaf not revoked"),
    CaseDef(id="valid-crl-nextupdate-subsecond", rule="control", rfc="§5.1.2.5", valid=True,
            shape=2, crl=True, edit=_crl(lambda c: c.replace(next_update=AT)),
            at=AT + _HALF_SECOND,
            what="CRL nextUpdate = T, validated at T + 0.5 s",
            notes={"openssl": _OPENSSL_CRL_INCLUSIVE}),
    CaseDef(id="valid-crl-separate-signer", rule="control", rfc="§6.3.3 (f)", valid=True,
            shape=2, crl=True, edit=lambda c: c.with_crl_signer(),
            what="CRL signed by a separate CRL-signing certificate of the root (same name, "
                 "own key, cRLSign)"),

    # ---------------------------------------------------------------- key identifiers
    CaseDef(id="aki-missing-leaf", rule="aki-missing", rfc="§4.2.1.1", valid=False,
            edit=_leaf(lambda s: s.without(OID.AKI)), what="leaf without AKI"),
    CaseDef(id="aki-missing-leaf-2", rule="aki-missing", rfc="§4.2.1.1", valid=False,
            shape=2, edit=_leaf(lambda s: s.without(OID.AKI)),
            what="leaf issued by the root itself, without AKI"),
    CaseDef(id="aki-missing-intermediate", rule="aki-missing", rfc="§4.2.1.1", valid=False,
            edit=_inter(lambda s: s.without(OID.AKI)), what="intermediate without AKI"),
    CaseDef(id="aki-critical-leaf", rule="aki-critical", rfc="§4.2.1.1", valid=False,
            edit=_leaf(lambda s: s.critical(OID.AKI, True)), what="leaf AKI marked critical"),
    CaseDef(id="aki-without-keyid-leaf", rule="aki-no-key-identifier", rfc="§4.2.1.1",
            valid=False, edit=_aki_issuer_serial,
            what="leaf AKI with issuer and serial but no keyIdentifier"),
    CaseDef(id="ski-missing-intermediate", rule="ski-missing", rfc="§4.2.1.2", valid=False,
            edit=_inter(lambda s: s.without(OID.SKI)), what="intermediate CA without SKI"),
    CaseDef(id="ski-missing-root", rule="ski-missing", rfc="§4.2.1.2", valid=False,
            edit=_root(lambda s: s.without(OID.SKI)), what="root CA (anchor) without SKI"),
    CaseDef(id="ski-critical-leaf", rule="ski-critical", rfc="§4.2.1.2", valid=False,
            edit=_leaf(lambda s: s.critical(OID.SKI, True)), what="leaf SKI marked critical"),

    # ---------------------------------------------------------------- basicConstraints
    CaseDef(id="bc-missing-intermediate", rule="bc-missing", rfc="§4.2.1.9", valid=False,
            edit=_inter(lambda s: s.without(OID.BC)), what="intermediate without basicConstraints"),
    CaseDef(id="bc-missing-root", rule="bc-missing", rfc="§4.2.1.9", valid=False,
            edit=_root(lambda s: s.without(OID.BC)),
            what="root (anchor) without basicConstraints"),
    CaseDef(id="bc-noncritical-intermediate", rule="bc-noncritical", rfc="§4.2.1.9", valid=False,
            edit=_inter(lambda s: s.critical(OID.BC, False)),
            what="intermediate basicConstraints not critical"),
    CaseDef(id="bc-noncritical-root", rule="bc-noncritical", rfc="§4.2.1.9", valid=False,
            edit=_root(lambda s: s.critical(OID.BC, False)),
            what="root (anchor) basicConstraints not critical"),
    CaseDef(id="bc-noncritical-root-2", rule="bc-noncritical", rfc="§4.2.1.9", valid=False,
            shape=2, edit=_root(lambda s: s.critical(OID.BC, False)),
            what="root (anchor) basicConstraints not critical, root → leaf"),
    CaseDef(id="v1-root", rule="bc-missing", rfc="§4.2.1.9", valid=False,
            edit=_root(lambda s: s.replace(version=0, extensions=())),
            what="v1 root (anchor): no basicConstraints"),
    CaseDef(id="v1-intermediate", rule="bc-missing", rfc="§6.1.4 (k)", valid=False,
            edit=_inter(lambda s: s.replace(version=0, extensions=())),
            what="v1 intermediate: not a CA"),
    CaseDef(id="pathlen-on-leaf", rule="pathlen-without-ca", rfc="§4.2.1.9", valid=False,
            edit=_leaf(lambda s: s.with_ext(OID.BC, True, bc_value(False, 0))),
            what="leaf basicConstraints with pathLenConstraint but cA FALSE"),

    # ---------------------------------------------------------------- names
    CaseDef(id="subject-empty-intermediate", rule="ca-subject-empty", rfc="§4.1.2.6",
            valid=False, edit=_rename("intermediate", ()),
            what="intermediate CA with an empty subject"),
    CaseDef(id="subject-empty-root", rule="ca-subject-empty", rfc="§4.1.2.6", valid=False,
            shape=2, edit=_rename("root", ()), what="root CA (anchor) with an empty subject"),
    CaseDef(id="subject-empty-leaf-no-san", rule="subject-empty-no-san", rfc="§4.1.2.6",
            valid=False, edit=_leaf(lambda s: s.replace(subject=())),
            what="leaf with an empty subject and no SAN"),
    CaseDef(id="subject-empty-leaf-san-noncritical", rule="san-not-critical", rfc="§4.2.1.6",
            valid=False, edit=_leaf(lambda s: s.replace(subject=()).with_ext(
                OID.SAN, False, _EMPTY_SUBJECT_SAN)),
            what="leaf with an empty subject and a non-critical SAN"),
    CaseDef(id="san-empty-leaf", rule="malformed-extension", rfc="§4.2.1.6", valid=False,
            edit=_leaf(lambda s: s.with_ext(OID.SAN, False, b"\x30\x00")),
            what="leaf SAN with no names (SIZE (1..MAX))"),

    # ---------------------------------------------------------------- keyUsage
    CaseDef(id="keycertsign-leaf", rule="keycertsign-without-ca", rfc="§4.2.1.3", valid=False,
            edit=_leaf(lambda s: s.with_ext(OID.KU, True,
                                            ku_value("digital_signature", "key_cert_sign"))),
            what="end entity asserting keyCertSign (no basicConstraints)"),
    CaseDef(id="keycertsign-leaf-ca-false", rule="keycertsign-without-ca", rfc="§4.2.1.3",
            valid=False, edit=_leaf(lambda s: s.with_ext(
                OID.KU, True, ku_value("digital_signature", "key_cert_sign")).with_ext(
                OID.BC, True, bc_value(False))),
            what="end entity asserting keyCertSign with basicConstraints cA FALSE"),
    CaseDef(id="keycertsign-intermediate-ca-false", rule="keycertsign-without-ca",
            rfc="§4.2.1.3", valid=False,
            edit=_inter(lambda s: s.with_ext(OID.BC, True, bc_value(False))),
            what="intermediate with keyCertSign but basicConstraints cA FALSE"),
    CaseDef(id="ku-missing-intermediate", rule="ku-missing-on-ca", rfc="§4.2.1.3", valid=False,
            edit=_inter(lambda s: s.without(OID.KU)), what="intermediate CA without keyUsage"),
    CaseDef(id="ku-missing-root", rule="ku-missing-on-ca", rfc="§4.2.1.3", valid=False,
            edit=_root(lambda s: s.without(OID.KU)), what="root CA (anchor) without keyUsage"),
    CaseDef(id="ku-empty-leaf", rule="malformed-extension", rfc="§4.2.1.3", valid=False,
            edit=_leaf(lambda s: s.with_ext(OID.KU, True, b"\x03\x01\x00")),
            what="leaf keyUsage with no bit set"),

    # ---------------------------------------------------------------- criticality
    CaseDef(id="nc-noncritical-intermediate", rule="must-be-critical", rfc="§4.2.1.10",
            valid=False, edit=_inter(lambda s: s.with_ext(OID.NC, False, _NC_VALUE)),
            what="nameConstraints not critical"),
    CaseDef(id="pc-noncritical-intermediate", rule="must-be-critical", rfc="§4.2.1.11",
            valid=False, edit=_inter(lambda s: s.with_ext(OID.POLICY_CONSTRAINTS, False,
                                                          _PC_VALUE)),
            what="policyConstraints not critical"),
    CaseDef(id="iap-noncritical-intermediate", rule="must-be-critical", rfc="§4.2.1.14",
            valid=False, edit=_inter(lambda s: s.with_ext(OID.INHIBIT_ANY_POLICY, False,
                                                          _IAP_VALUE)),
            what="inhibitAnyPolicy not critical"),
    CaseDef(id="aia-critical-leaf", rule="must-not-be-critical", rfc="§4.2.2.1", valid=False,
            edit=_leaf(lambda s: s.with_ext(OID.AIA, True, _AIA_VALUE)),
            what="authorityInfoAccess marked critical"),
    CaseDef(id="unknown-critical-leaf", rule="unknown-critical", rfc="§4.2", valid=False,
            edit=_leaf(lambda s: s.with_ext(OID.UNKNOWN, True, _UNKNOWN_VALUE)),
            what="unknown critical extension on the leaf",
            reasons=("unknown-critical-certificate-extension",)),

    # ---------------------------------------------------------------- trust anchor constraints
    # The anchor certificate's own constraints bind the path below it (RFC 5937; what
    # OpenSSL, cryptography and Go do): jukicard.pki.pathstate.apply_anchor_constraints.
    CaseDef(id="anchor-pathlen-0-over-intermediate", rule="anchor-constraints",
            rfc="§4.2.1.9, RFC 5937", valid=False,
            edit=_root(lambda s: s.with_ext(OID.BC, True, bc_value(True, 0))),
            what="root (anchor) pathLenConstraint 0 with an intermediate CA below it",
            reasons=("path-length-exceeded",)),
    CaseDef(id="valid-anchor-pathlen-0-over-leaf", rule="control", rfc="§4.2.1.9, RFC 5937",
            valid=True, shape=2,
            edit=_root(lambda s: s.with_ext(OID.BC, True, bc_value(True, 0))),
            what="root (anchor) pathLenConstraint 0 directly over the leaf"),
    CaseDef(id="anchor-ku-without-keycertsign", rule="anchor-constraints",
            rfc="§4.2.1.3, RFC 5937", valid=False,
            edit=_root(lambda s: s.with_ext(OID.KU, True, ku_value("digital_signature"))),
            what="root (anchor) keyUsage digitalSignature only (no keyCertSign)",
            reasons=("anchor-key-usage-lacks-keyCertSign", "key-cert-sign-without-ca")),
    CaseDef(id="anchor-unknown-critical", rule="anchor-constraints", rfc="§4.2, RFC 5937",
            valid=False, edit=_root(lambda s: s.with_ext(OID.UNKNOWN, True, _UNKNOWN_VALUE)),
            what="root (anchor) with an unknown critical extension",
            reasons=("unknown-critical-certificate-extension",)),
    CaseDef(id="anchor-nc-excludes-leaf", rule="anchor-constraints",
            rfc="§4.2.1.10, RFC 5937", valid=False,
            edit=_root(lambda s: s.with_ext(OID.NC, True, _NC_EXCLUDES_LEAF)),
            what="root (anchor) nameConstraints excluding the leaf's subject",
            reasons=("name-constraints-excluded-violation",)),
    CaseDef(id="valid-anchor-nc-permits-leaf", rule="control", rfc="§4.2.1.10, RFC 5937",
            valid=True, edit=_root(lambda s: s.with_ext(OID.NC, True, _NC_PERMITS_LEAF)),
            what="root (anchor) nameConstraints permitting the chain's names"),
    CaseDef(id="anchor-require-explicit-policy", rule="anchor-constraints",
            rfc="§4.2.1.11, RFC 5937", valid=False,
            edit=_root(lambda s: s.with_ext(OID.POLICY_CONSTRAINTS, True,
                                            _REQUIRE_POLICY_VALUE)),
            what="root (anchor) requireExplicitPolicy 0, no policy in the chain",
            reasons=("no-acceptable-explicit-policy",)),
    CaseDef(id="valid-eku-code-signing-intermediate", rule="control", rfc="§4.2.1.12",
            valid=True, edit=_inter(lambda s: s.with_ext(OID.EKU, False, _EKU_CODE_SIGNING)),
            what="intermediate with extKeyUsage codeSigning only",
            notes={"cryptography": _EKU_NOTE}),
    CaseDef(id="valid-eku-code-signing-anchor", rule="control", rfc="§4.2.1.12",
            valid=True, edit=_root(lambda s: s.with_ext(OID.EKU, False, _EKU_CODE_SIGNING)),
            what="root (anchor) with extKeyUsage codeSigning only",
            notes={"cryptography": _EKU_NOTE}),
    CaseDef(id="valid-eku-code-signing-leaf", rule="control", rfc="§4.2.1.12",
            valid=True, edit=_leaf(lambda s: s.with_ext(OID.EKU, False, _EKU_CODE_SIGNING)),
            what="leaf with extKeyUsage codeSigning only (no application purpose asked)",
            notes={"cryptography": _EKU_NOTE}),
    CaseDef(id="ski-empty-intermediate", rule="malformed-extension", rfc="§4.2.1.2",
            valid=False, edit=_inter(lambda s: s.with_ext(OID.SKI, False, b"\x04\x00")),
            what="intermediate subjectKeyIdentifier is an empty OCTET STRING",
            reasons=("extension-empty",)),
    CaseDef(id="duplicate-policy-leaf", rule="malformed-extension", rfc="§4.2.1.4",
            valid=False, edit=_leaf(lambda s: s.with_ext(OID.CERT_POLICIES, False,
                                                         _DUPLICATE_POLICIES)),
            what="leaf certificatePolicies naming one policy twice",
            reasons=("malformed-extension-value",)),

    # ---------------------------------------------------------------- duplicate / malformed
    CaseDef(id="duplicate-ext-leaf", rule="duplicate-extension", rfc="§4.2", valid=False,
            edit=_leaf(lambda s: s.duplicate(OID.SKI)), what="leaf with two SKI extensions"),
    CaseDef(id="duplicate-ext-intermediate", rule="duplicate-extension", rfc="§4.2",
            valid=False, edit=_inter(lambda s: s.duplicate(OID.BC)),
            what="intermediate with two basicConstraints extensions"),
    CaseDef(id="malformed-ku-leaf", rule="malformed-extension", rfc="§4.2.1.3", valid=False,
            edit=_leaf(lambda s: s.with_ext(OID.KU, True, b"\x04\x01\x80")),
            what="leaf keyUsage value is an OCTET STRING, not a BIT STRING"),
    CaseDef(id="malformed-aki-leaf", rule="malformed-extension", rfc="§4.2.1.1", valid=False,
            edit=_leaf(lambda s: s.with_ext(OID.AKI, False, b"\x30\x03\x80\x05\x01")),
            what="leaf AKI value truncated (non-critical, still recognised)"),

    # ---------------------------------------------------------------- version / serial
    CaseDef(id="v1-leaf", rule="aki-missing", rfc="§4.1.2.1, §4.2.1.1", valid=False,
            edit=_leaf(lambda s: s.replace(version=0, extensions=())),
            what="v1 leaf without extensions, so without the AKI every certificate but a "
                 "self-signed one must carry"),
    CaseDef(id="v1-with-extensions-leaf", rule="extensions-need-v3", rfc="§4.1.2.1", valid=False,
            edit=_leaf(lambda s: s.replace(version=0)), what="v1 leaf carrying extensions"),
    CaseDef(id="v2-with-extensions-leaf", rule="extensions-need-v3", rfc="§4.1.2.1", valid=False,
            edit=_leaf(lambda s: s.replace(version=1)), what="v2 leaf carrying extensions"),
    CaseDef(id="version-invalid-leaf", rule="bad-version", rfc="§4.1.2.1", valid=False,
            edit=_leaf(lambda s: s.replace(version=3)), what="leaf version field 3 (no such v4)"),
    CaseDef(id="serial-negative-leaf", rule="bad-serial", rfc="§4.1.2.2", valid=False,
            edit=_leaf(lambda s: s.replace(serial=-LEAF_SERIAL)), what="negative leaf serial"),
    CaseDef(id="serial-zero-leaf", rule="bad-serial", rfc="§4.1.2.2", valid=False,
            edit=_leaf(lambda s: s.replace(serial=0)), what="leaf serial 0 (not positive)"),
    CaseDef(id="serial-21-octets-leaf", rule="bad-serial", rfc="§4.1.2.2", valid=False,
            edit=_leaf(lambda s: s.replace(serial=_TWENTY_ONE_OCTETS)),
            what="leaf serial of 21 octets"),

    # ---------------------------------------------------------------- signature
    CaseDef(id="sigalg-mismatch-leaf", rule="sigalg-mismatch", rfc="§4.1.1.2", valid=False,
            edit=_leaf(lambda s: s.replace(tbs_alg=SHA384_RSA)),
            what="TBS says sha384WithRSA, outer (and signature) sha256WithRSA"),
    CaseDef(id="sigalg-params-mismatch-leaf", rule="sigalg-mismatch", rfc="§4.1.1.2",
            valid=False, edit=_leaf(lambda s: s.replace(tbs_alg=SHA256_RSA_NO_PARAMS)),
            what="TBS sha256WithRSA without NULL parameters, outer with NULL"),
    CaseDef(id="bad-signature-leaf", rule="bad-signature", rfc="§6.1.3 (a)(1)", valid=False,
            edit=_leaf(lambda s: s.replace(corrupt_signature=True)),
            what="leaf signature does not verify", reasons=("bad-certificate-signature",)),

    # ---------------------------------------------------------------- time
    CaseDef(id="anchor-expired", rule="anchor-validity", rfc="§6.1 / issue 9", valid=False,
            edit=_root(lambda s: s.replace(not_after=AT - _SECOND)),
            what="root (anchor) expired one second before the validation time"),
    CaseDef(id="anchor-not-yet-valid", rule="anchor-validity", rfc="§6.1 / issue 9", valid=False,
            edit=_root(lambda s: s.replace(not_before=AT + _SECOND)),
            what="root (anchor) valid from one second after the validation time"),
    CaseDef(id="intermediate-expired", rule="expired", rfc="§6.1.3 (a)(2)", valid=False,
            edit=_inter(lambda s: s.replace(not_after=AT - _SECOND)),
            what="intermediate expired one second before the validation time",
            reasons=("certificate-expired",)),
    CaseDef(id="leaf-expired-1s", rule="expired", rfc="§6.1.3 (a)(2)", valid=False,
            edit=_leaf(lambda s: s.replace(not_after=AT - _SECOND)),
            what="leaf notAfter one second before the validation time",
            reasons=("certificate-expired",)),
    CaseDef(id="leaf-not-yet-valid-1s", rule="not-yet-valid", rfc="§6.1.3 (a)(2)", valid=False,
            edit=_leaf(lambda s: s.replace(not_before=AT + _SECOND)),
            what="leaf notBefore one second after the validation time",
            reasons=("certificate-not-yet-valid",)),
    CaseDef(id="leaf-generalizedtime-before-2050", rule="bad-time-encoding", rfc="§4.1.2.5",
            valid=False, edit=_leaf(lambda s: s.replace(generalized_time=True)),
            what="leaf validity (2026) as GeneralizedTime instead of UTCTime"),

    # ---------------------------------------------------------------- CRLs
    CaseDef(id="crl-signer-aki-missing", rule="aki-missing", rfc="§4.2.1.1", valid=False,
            shape=2, crl=True, edit=lambda c: c.with_crl_signer(lambda s: s.without(OID.AKI)),
            what="the CRL's signer (a separate certificate of the root) without AKI"),
    CaseDef(id="crl-revoked-leaf", rule="revoked", rfc="§6.3", valid=False, shape=2, crl=True,
            edit=_crl(lambda c: c.replace(revoked=c.revoked + (
                RevokedSpec(LEAF_SERIAL, AT - _dt.timedelta(days=2)),))),
            what="the CRL revokes the leaf", reasons=("revoked",)),
    CaseDef(id="crl-number-missing", rule="crl-number", rfc="§5.2.3", valid=False, shape=2,
            crl=True, edit=_crl(lambda c: _crl_ext(c, OID.CRL_NUMBER, False, None)),
            what="CRL without cRLNumber"),
    CaseDef(id="crl-number-critical", rule="crl-number", rfc="§5.2.3", valid=False, shape=2,
            crl=True, edit=_crl_critical(OID.CRL_NUMBER), what="cRLNumber marked critical"),
    CaseDef(id="crl-number-negative", rule="crl-number", rfc="§5.2.3", valid=False, shape=2,
            crl=True, edit=_crl(lambda c: _crl_ext(c, OID.CRL_NUMBER, False,
                                                   crl_number_value(-1))),
            what="cRLNumber -1"),
    CaseDef(id="crl-number-21-octets", rule="crl-number", rfc="§5.2.3", valid=False, shape=2,
            crl=True, edit=_crl(lambda c: _crl_ext(c, OID.CRL_NUMBER, False,
                                                   crl_number_value(_TWENTY_ONE_OCTETS))),
            what="cRLNumber of 21 octets"),
    CaseDef(id="crl-aki-missing", rule="crl-aki", rfc="§5.2.1", valid=False, shape=2, crl=True,
            edit=_crl(lambda c: _crl_ext(c, OID.AKI, False, None)), what="CRL without AKI"),
    CaseDef(id="crl-aki-critical", rule="crl-aki", rfc="§5.2.1, §4.2.1.1", valid=False, shape=2,
            crl=True, edit=_crl_critical(OID.AKI), what="CRL AKI marked critical"),
    CaseDef(id="crl-v1-with-extensions", rule="crl-version", rfc="§5.1.2.1", valid=False,
            shape=2, crl=True, edit=_crl(lambda c: c.replace(version=0)),
            what="v1 CRL carrying extensions"),
    CaseDef(id="crl-duplicate-ext", rule="crl-duplicate-extension", rfc="§5.2", valid=False,
            shape=2, crl=True, edit=_crl(lambda c: c.replace(extensions=c.extensions + (
                c.extensions[-1],))), what="CRL with two cRLNumber extensions"),
    CaseDef(id="crl-sigalg-mismatch", rule="crl-sigalg-mismatch", rfc="§5.1.1.2", valid=False,
            shape=2, crl=True, edit=_crl(lambda c: c.replace(tbs_alg=SHA384_RSA)),
            what="CRL TBS says sha384WithRSA, outer sha256WithRSA"),
    CaseDef(id="crl-bad-signature", rule="crl-bad-signature", rfc="§6.3.3 (g)", valid=False,
            shape=2, crl=True, edit=_crl(lambda c: c.replace(corrupt_signature=True)),
            what="CRL signature does not verify", reasons=("bad-crl-signature",)),
    CaseDef(id="crl-stale-1s", rule="crl-stale", rfc="§6.3.3", valid=False, shape=2, crl=True,
            edit=_crl(lambda c: c.replace(next_update=AT - _SECOND)),
            what="CRL nextUpdate one second before the validation time",
            reasons=("crl-stale-nextUpdate-passed",)),
    CaseDef(id="crl-nextupdate-missing", rule="crl-next-update", rfc="§5.1.2.5", valid=False,
            shape=2, crl=True, edit=_crl(lambda c: c.replace(next_update=None)),
            what="CRL without nextUpdate"),
    CaseDef(id="crl-thisupdate-future", rule="crl-not-yet-valid", rfc="§6.3.3", valid=False,
            shape=2, crl=True, edit=_crl(lambda c: c.replace(this_update=AT + _SECOND)),
            what="CRL thisUpdate one second after the validation time",
            # not yet usable: no CRL covers the time, which is what "undetermined" says
            reasons=("revocation-status-undetermined",)),
    CaseDef(id="crl-issuer-without-crlsign", rule="crl-issuer-crlsign", rfc="§6.3.3 (f)",
            valid=False, shape=2, crl=True,
            edit=_root(lambda s: s.with_ext(OID.KU, True, ku_value("key_cert_sign"))),
            what="the CRL's issuer (the root) lacks cRLSign",
            reasons=("crl-issuer-lacks-cRLSign",)),
    CaseDef(id="crl-unknown-critical", rule="crl-unknown-critical", rfc="§5.2", valid=False,
            shape=2, crl=True, edit=_crl(lambda c: c.replace(extensions=c.extensions + (
                Ext(OID.UNKNOWN, True, _UNKNOWN_VALUE),))),
            what="CRL with an unknown critical extension",
            reasons=("unknown-critical-crl-or-entry-extension",)),
    CaseDef(id="crl-entry-ext-malformed", rule="crl-entry-malformed", rfc="§5.3.1", valid=False,
            shape=2, crl=True, edit=_crl(lambda c: c.replace(revoked=tuple(
                RevokedSpec(r.serial, r.date, (Ext(OID.REASON_CODE, False, b"\x02\x01\x01"),))
                for r in c.revoked))),
            what="CRL entry reasonCode is an INTEGER, not an ENUMERATED"),
)
