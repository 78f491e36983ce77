"""Hostile certificate pools for the bounded-work tests and benchmark (issue 9).

Synthetic TEST material, generated at run time with ``cryptography`` (P-256 keys; nothing
is written to disk): the intermediate pools a verifier must decide quickly — 100+ look-alike
issuers sharing a subject, 100+ certificates sharing a key, cross-certification rings, a
chain deeper than ``max_chain_depth``, a wide fan-out at every level — chains whose name
constraints need thousands × thousands of comparisons, and chains whose policy mappings would
multiply an RFC 5280 valid_policy_tree at every CA (:class:`PolicyMappingChain`, the shape of
OpenSSL CVE-2023-0464).  Used by ``tests/unit/test_pki_bounded.py``,
``tests/unit/test_pki_caps.py``, ``tests/unit/test_pki_policy_graph.py`` and
``benchmarks/test_pathbuilding.py``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from asn1crypto import x509 as a509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID, NameOID

from jukicard.pki.certs import Certificate

__all__ = ["AT", "Node", "HostilePools", "NameConstraintChain", "PolicyMappingChain", "new_key",
           "name", "issue", "issue_der", "hostile_pools", "certified_by_strangers",
           "policy_mappings_extension"]

#: Validation time of every generated case (all certificates valid 2020–2030 unless said).
AT = _dt.datetime(2024, 6, 1, tzinfo=_dt.UTC)
_NB = _dt.datetime(2020, 1, 1, tzinfo=_dt.UTC)
_NA = _dt.datetime(2030, 1, 1, tzinfo=_dt.UTC)


def new_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key (fast to make and to use)."""
    return ec.generate_private_key(ec.SECP256R1())


def name(cn: str, extra: int = 0) -> x509.Name:
    """``O=bounded test, CN=cn``, plus ``extra`` OU attributes."""
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bounded test"),
             x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    attrs += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"u{i}")
              for i in range(extra)]
    return x509.Name(attrs)


@dataclass
class Node:
    """A certificate and the private key of its subject (``cert`` may be any certificate
    when the node only signs)."""

    cert: Certificate | None
    key: ec.EllipticCurvePrivateKey
    name: x509.Name


def issue_der(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: Node | None, *,
              ca: bool = True, serial: int = 1, aki: bool = False,
              not_after: _dt.datetime = _NA,
              extensions: Sequence[tuple[x509.ExtensionType, bool]] = ()) -> bytes:
    """The DER of a certificate for ``subject``/``key`` signed by ``issuer`` (self-signed
    if None): basicConstraints and keyUsage (critical), subjectKeyIdentifier, optionally the
    AKI, then ``extensions``.  Not parsed: it may be over a parser cap."""
    issuer_name = subject if issuer is None else issuer.name
    signer = key if issuer is None else issuer.key
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(_NB).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False,
                                      key_encipherment=False, data_encipherment=False,
                                      key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                      encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                        critical=False))
    if aki:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            signer.public_key()), critical=False)
    for ext, critical in extensions:
        b = b.add_extension(ext, critical=critical)
    return b.sign(signer, hashes.SHA256()).public_bytes(Encoding.DER)


def issue(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: Node | None, *,
          ca: bool = True, serial: int = 1, aki: bool = False,
          not_after: _dt.datetime = _NA,
          extensions: Sequence[tuple[x509.ExtensionType, bool]] = ()) -> Node:
    """:func:`issue_der`, parsed, with its key."""
    der = issue_der(subject, key, issuer, ca=ca, serial=serial, aki=aki, not_after=not_after,
                    extensions=extensions)
    return Node(Certificate.parse(der), key, subject)


def _cert(node: Node) -> Certificate:
    assert node.cert is not None
    return node.cert


@dataclass
class HostilePools:
    """A normal 3-certificate hierarchy and the hostile pools around it (all under ``root``
    or under nobody).

    :ivar same_subject: look-alikes of ``ca`` (same subject, own keys, signed by the root).
    :ivar same_key: certificates of ``ca``'s key and subject issued by strangers.
    :ivar ring2: A and B certifying each other; ``ring2_ee`` is issued by A; ``ring2_out``
        certifies B under the root (the way out).
    :ivar ring12: 12 CAs, each certified by the next two around the ring; ``ring12_ee``
        is issued by the first.
    :ivar long_chain: ``deep`` CAs in a row under the root; ``long_ee`` under the last.
    :ivar fanout: ``fan_levels`` levels of ``fan_width`` keys, every key of a level
        certified by every key of the level above, nobody above the top; ``fanout_ee``
        under the bottom level.
    """

    root: Node
    ca: Node
    ee: Node
    same_subject: list[Certificate] = field(default_factory=list)
    same_key: list[Certificate] = field(default_factory=list)
    ring2: list[Certificate] = field(default_factory=list)
    ring2_ee: Certificate | None = None
    ring2_out: Certificate | None = None
    ring12: list[Certificate] = field(default_factory=list)
    ring12_ee: Certificate | None = None
    long_chain: list[Certificate] = field(default_factory=list)
    long_ee: Certificate | None = None
    fanout: list[Certificate] = field(default_factory=list)
    fanout_ee: Certificate | None = None


def hostile_pools(width: int = 120, *, deep: int = 20, fan_levels: int = 5,
                  fan_width: int = 5) -> HostilePools:
    """Generate every pool (a few seconds at most; build once per test module).

    :param width: look-alikes in ``same_subject`` and ``same_key`` ("100+").
    :param deep: CAs in ``long_chain``.
    :param fan_levels: / :param fan_width: the shape of ``fanout``.
    """
    root = issue(name("Root"), new_key(), None)
    ca = issue(name("Issuing CA"), new_key(), root, serial=2)
    ee = issue(name("EE"), new_key(), ca, ca=False, serial=3)
    p = HostilePools(root, ca, ee)
    p.same_subject = [_cert(issue(name("Issuing CA"), new_key(), root, serial=100 + i))
                      for i in range(width)]
    p.same_key = certified_by_strangers(ca, width)
    a, b = Node(None, new_key(), name("Ring A")), Node(None, new_key(), name("Ring B"))
    p.ring2 = [_cert(issue(a.name, a.key, b, serial=20)), _cert(issue(b.name, b.key, a,
                                                                      serial=21))]
    p.ring2_ee = _cert(issue(name("Ring EE"), new_key(), a, ca=False, serial=22))
    p.ring2_out = _cert(issue(b.name, b.key, root, serial=23))
    ring = [Node(None, new_key(), name(f"Ring {i}")) for i in range(12)]
    for i, node in enumerate(ring):
        for step in (1, 2):
            p.ring12.append(_cert(issue(node.name, node.key, ring[(i + step) % 12],
                                        serial=40 + 2 * i + step)))
    p.ring12_ee = _cert(issue(name("Ring12 EE"), new_key(), ring[0], ca=False, serial=70))
    top = root
    for i in range(deep):
        top = issue(name(f"Deep {i}"), new_key(), top, serial=200 + i)
        p.long_chain.append(_cert(top))
    p.long_ee = _cert(issue(name("Deep EE"), new_key(), top, ca=False, serial=299))
    levels = [[Node(None, new_key(), name(f"Fan {lv}")) for _ in range(fan_width)]
              for lv in range(fan_levels + 1)]
    serial = 20_000
    for lv in range(fan_levels):
        for child in levels[lv]:
            for parent in levels[lv + 1]:
                serial += 1
                p.fanout.append(_cert(issue(child.name, child.key, parent, serial=serial)))
    p.fanout_ee = _cert(issue(name("Fan EE"), new_key(), levels[0][0], ca=False,
                              serial=30_000))
    return p


def certified_by_strangers(node: Node, count: int, serial: int = 10_000
                           ) -> list[Certificate]:
    """``count`` certificates of ``node``'s subject and key, each issued by a different
    stranger (nobody certifies the strangers)."""
    out = []
    for i in range(count):
        stranger = Node(None, new_key(), name(f"Stranger {i}"))
        out.append(_cert(issue(node.name, node.key, stranger, serial=serial + i)))
    return out


@dataclass
class NameConstraintChain:
    """anchor → CA(s) with dNSName name constraints → an end entity with dNSName SANs.

    :ivar root: / :ivar cas: / :ivar ee: the chain, top-down.
    """

    root: Certificate
    cas: list[Certificate]
    ee: Certificate

    @classmethod
    def build(cls, subtrees: Sequence[int], sans: int, *, excluded: bool = False
              ) -> NameConstraintChain:
        """:param subtrees: the number of subtrees of each CA, top-down.
        :param sans: the end entity's dNSNames (``h0.example``...).
        :param excluded: the CAs' subtrees are excluded (``x<ca>-<j>.example``, so every
            name is compared with every one of them) instead of permitted
            (``h<j>.example``).
        """
        key = new_key()  # one key: these chains are not about signatures
        root = issue(name("NC root"), key, None)
        cas: list[Certificate] = []
        parent = root
        for i, count in enumerate(subtrees):
            bases = [x509.DNSName(f"x{i}-{j}.example" if excluded else f"h{j}.example")
                     for j in range(count)]
            nc = x509.NameConstraints(None, bases) if excluded else \
                x509.NameConstraints(bases, None)
            parent = issue(name(f"NC CA {i}"), key, parent, serial=10 + i,
                           extensions=[(nc, True)])
            cas.append(_cert(parent))
        san = x509.SubjectAlternativeName([x509.DNSName(f"h{j}.example")
                                           for j in range(sans)])
        ee = issue(name("NC EE"), key, parent, ca=False, serial=99,
                   extensions=[(san, False)])
        return cls(_cert(root), cas, _cert(ee))


def policy_mappings_extension(pairs: Sequence[tuple[str, str]]) -> x509.UnrecognizedExtension:
    """A policyMappings extension (RFC 5280 §4.2.1.5) for :func:`issue`'s ``extensions``:
    ``cryptography`` cannot build one, so ``asn1crypto`` encodes its value.

    :param pairs: (issuerDomainPolicy, subjectDomainPolicy) dotted OIDs.
    """
    value = a509.PolicyMappings([{"issuer_domain_policy": idp, "subject_domain_policy": sdp}
                                 for idp, sdp in pairs])
    return x509.UnrecognizedExtension(ExtensionOID.POLICY_MAPPINGS, value.dump())


@dataclass
class PolicyMappingChain:
    """anchor → ``depth`` CAs that each assert the same ``width`` policies and map every one
    of them to every one (``width``² mappings) → an end entity asserting them too.

    Under RFC 5280 §6.1 each CA multiplies the valid_policy_tree by ``width`` (``width`` ^
    ``depth`` nodes at the end entity: the shape of OpenSSL CVE-2023-0464); the RFC 9618
    policy graph keeps ``width`` nodes per level.  Every certificate carries SKI and AKI, so
    the chain passes the strict profile too: it is a valid path whose valid policies are the
    ``width`` policies.

    :ivar root: / :ivar cas: / :ivar ee: the chain, top-down.
    :ivar policies: the asserted policy OIDs (``2.999.9.<j>``, under the X.660 example arc).
    """

    root: Certificate
    cas: list[Certificate]
    ee: Certificate
    policies: tuple[str, ...]

    @property
    def path(self) -> tuple[Certificate, ...]:
        """The whole path, anchor first, end entity last."""
        return (self.root, *self.cas, self.ee)

    @classmethod
    def build(cls, width: int = 8, depth: int = 8, *, any_policy: bool = False
              ) -> PolicyMappingChain:
        """:param width: policies per certificate (``N``).
        :param depth: CAs between the anchor and the end entity.
        :param any_policy: the CAs also assert anyPolicy (RFC 5280 §6.1.3 (d)(2) then adds
            a node for every expected policy of every parent node).
        """
        key = new_key()  # one key: this chain is not about signatures
        policies = tuple(f"2.999.9.{j}" for j in range(1, width + 1))
        asserted = [x509.PolicyInformation(x509.ObjectIdentifier(p), None) for p in policies]
        ca_policies = x509.CertificatePolicies(
            asserted + [x509.PolicyInformation(x509.ObjectIdentifier("2.5.29.32.0"), None)]
            if any_policy else asserted)
        mappings = policy_mappings_extension([(a, b) for a in policies for b in policies])
        root = issue(name("Policy root"), key, None)
        cas: list[Certificate] = []
        parent = root
        for i in range(depth):
            parent = issue(name(f"Policy CA {i}"), key, parent, serial=10 + i, aki=True,
                           extensions=[(ca_policies, False), (mappings, False)])
            cas.append(_cert(parent))
        ee = issue(name("Policy EE"), key, parent, ca=False, serial=99, aki=True,
                   extensions=[(x509.CertificatePolicies(asserted), False)])
        return cls(_cert(root), cas, _cert(ee), policies)
