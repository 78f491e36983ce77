"""Name constraints (RFC 5280 §4.2.1.10, §6.1.3 (b)–(c), §6.1.4 (g)).

Supported name forms: directoryName (§7.1 comparison, subtree = RDN prefix), rfc822Name
(mailbox / host / ``.domain``; also emailAddress attributes of a subject DN), dNSName
(label-wise suffix), uniformResourceIdentifier (host part; ``.domain`` form) and iPAddress
(address + mask).  Other forms (otherName, x400Address, ediPartyName, registeredID) are not
supported: a certificate carrying such a name under a constraint of that form is rejected
(fail closed, reason ``name-constraints-unsupported``).

The work is bounded (a :class:`NameCheckBudget`, shared by the paths of one validation):
checking a certificate costs one comparison per name and subtree of its form, the
§6.1.4 (g) intersection one per pair of subtrees, and a path that would need more than the
budget fails with ``name-constraints-limit`` — thousands of names against thousands of
subtrees is a hostile input.  Go's ``crypto/x509`` caps the same count at 250,000 per
certificate (``VerifyOptions.MaxConstraintComparisions``) and pyca/cryptography's verifier
at 2**20 per validation (``Budget::DEFAULT_NAME_CONSTRAINT_CHECK_LIMIT``).  A comparison
costs 0.2-0.4 µs here, so the default (:class:`~jukicard.pki.policy.PathBudget`) is 2**18
per validated certificate: about 0.1 s at most.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Union
from urllib.parse import urlsplit

from jukicard.pki.certs import Certificate
from jukicard.pki.names import NameKey, name_is_within, name_key
from jukicard.pki.policy import PathBudget
from jukicard.pki.reasons import Reason

__all__ = ["NameCheckBudget", "NameConstraintsState", "NameConstraintViolation",
           "SUPPORTED_FORMS"]

SUPPORTED_FORMS = frozenset({
    "directory_name", "rfc822_name", "dns_name", "uniform_resource_identifier", "ip_address",
})
_EMAIL_ATTR = "1.2.840.113549.1.9.1"

Base = Union[NameKey, str, "ipaddress.IPv4Network", "ipaddress.IPv6Network", bytes]


class NameConstraintViolation(Exception):
    """Internal: carries the reason code of a violated constraint."""

    def __init__(self, reason: Reason, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass
class NameCheckBudget:
    """The comparisons name-constraint checking may still make.

    :ivar limit: the most comparisons (:attr:`PathBudget.max_name_constraint_checks`).
    :ivar spent: comparisons counted so far.
    """

    limit: int = field(default_factory=lambda: PathBudget().max_name_constraint_checks)
    spent: int = 0

    def charge(self, count: int) -> bool:
        """Count ``count`` comparisons; False (nothing counted) if that exceeds the limit."""
        if self.spent + count > self.limit:
            return False
        self.spent += count
        return True


def _ip_base(raw: bytes) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    half = len(raw) // 2
    if len(raw) not in (8, 32):
        raise ValueError("bad iPAddress constraint length")
    addr = ipaddress.ip_address(raw[:half])
    mask = int.from_bytes(raw[half:], "big")
    prefix = bin(mask).count("1")
    return ipaddress.ip_network(f"{addr}/{prefix}", strict=False)


def _base_of(gn: Any) -> tuple[str, Base]:
    form = gn.name
    if form == "directory_name":
        return form, name_key(gn.chosen)
    if form in ("rfc822_name", "dns_name", "uniform_resource_identifier"):
        return form, str(gn.chosen.native).lower()
    if form == "ip_address":
        return form, _ip_base(bytes(gn.chosen.contents))
    return form, gn.chosen.dump()


def _dns_match(name: str, base: str) -> bool:
    name = name.lower().rstrip(".")
    if base == "":
        return True
    if base.startswith("."):
        return name.endswith(base)
    return name == base or name.endswith("." + base)


def _host_match(host: str, base: str) -> bool:
    """URI host vs constraint: ``host`` exact, ``.domain`` any host inside the domain."""
    host = host.lower()
    if base.startswith("."):
        return host.endswith(base)
    return host == base


def _email_match(mail: str, base: str) -> bool:
    if "@" not in mail:
        return False
    local, _, host = mail.rpartition("@")
    host = host.lower()
    if "@" in base:
        blocal, _, bhost = base.rpartition("@")
        return local == blocal and host == bhost.lower()
    if base.startswith("."):
        return host.endswith(base)
    return host == base


def _matches(form: str, name: Any, base: Base) -> bool:
    if form == "directory_name":
        return name_is_within(name, base)  # type: ignore[arg-type]
    if form == "dns_name":
        return _dns_match(name, base)  # type: ignore[arg-type]
    if form == "rfc822_name":
        return _email_match(name, base)  # type: ignore[arg-type]
    if form == "uniform_resource_identifier":
        return name is not None and _host_match(name, base)  # type: ignore[arg-type]
    if form == "ip_address":
        return isinstance(name, (ipaddress.IPv4Address, ipaddress.IPv6Address)) and \
            name.version == base.version and name in base  # type: ignore[union-attr]
    return bool(name == base)


def _base_within(form: str, a: Base, b: Base) -> bool:
    """True if subtree ``a`` lies inside subtree ``b`` (same form)."""
    if form == "directory_name":
        return name_is_within(a, b)  # type: ignore[arg-type]
    if form == "dns_name":
        return _dns_match(a, b)  # type: ignore[arg-type]
    if form in ("rfc822_name", "uniform_resource_identifier"):
        sa, sb = str(a), str(b)
        if "@" in sa:
            return _email_match(sa, sb)
        if "@" in sb:
            return False
        if sb.startswith("."):
            return sa.endswith(sb)
        return sa == sb
    if form == "ip_address":
        return a.version == b.version and a.subnet_of(b)  # type: ignore[union-attr,arg-type]
    return a == b


def _intersect(form: str, xs: list[Base], ys: list[Base]) -> list[Base]:
    out: list[Base] = []
    for x in xs:
        if any(_base_within(form, x, y) for y in ys):
            out.append(x)
    for y in ys:
        if any(_base_within(form, y, x) for x in xs) and y not in out:
            out.append(y)
    return out


def _names_of(cert: Certificate) -> list[tuple[str, Any]]:
    """(form, comparable value) for the subject DN, its emailAddress attrs and the SAN."""
    out: list[tuple[str, Any]] = []
    if cert.subject_key:
        out.append(("directory_name", cert.subject_key))
        for rdn in cert.subject.chosen:
            for ava in rdn:
                if ava["type"].dotted == _EMAIL_ATTR:
                    out.append(("rfc822_name", str(ava["value"].native)))
    san = cert.ext_value("subject_alt_name")
    if san is not None:
        for gn in san:
            form = gn.name
            if form == "directory_name":
                out.append((form, name_key(gn.chosen)))
            elif form in ("rfc822_name", "dns_name"):
                out.append((form, str(gn.chosen.native)))
            elif form == "uniform_resource_identifier":
                try:
                    host = urlsplit(str(gn.chosen.native)).hostname
                except ValueError:
                    host = None
                out.append((form, host))
            elif form == "ip_address":
                raw = bytes(gn.chosen.contents)
                try:
                    out.append((form, ipaddress.ip_address(raw)))
                except ValueError:
                    out.append((form, raw))
            else:
                out.append((form, gn.chosen.dump()))
    return out


@dataclass
class NameConstraintsState:
    """permitted_subtrees / excluded_subtrees of §6.1.2 (b)–(c).

    ``permitted[form]`` absent means "no restriction on that form"; an empty list means
    "nothing of that form is permitted".
    """

    permitted: dict[str, list[Base]] = field(default_factory=dict)
    excluded: dict[str, list[Base]] = field(default_factory=dict)
    budget: NameCheckBudget = field(default_factory=NameCheckBudget)
    #: set when an update did not fit the budget: every later check fails
    over_budget: bool = False

    def check(self, cert: Certificate) -> None:
        """§6.1.3 (b)–(c) for one certificate.

        :raises NameConstraintViolation: with reason ``name-constraints-permitted-violation``,
            ``name-constraints-excluded-violation``, ``name-constraints-unsupported`` or
            ``name-constraints-limit``.
        """
        if self.over_budget:
            raise self._limit(f"the name constraints above {cert.describe()}")
        if not self.permitted and not self.excluded:
            return
        names = _names_of(cert)
        cost = sum(len(self.permitted.get(form, ())) + len(self.excluded.get(form, ()))
                   for form, _ in names)
        if not self.budget.charge(cost):
            raise self._limit(f"the names of {cert.describe()}")
        for form, value in names:
            constrained = form in self.permitted or form in self.excluded
            if not constrained:
                continue
            if form not in SUPPORTED_FORMS:
                raise NameConstraintViolation(
                    Reason.NC_UNSUPPORTED,
                    f"name constraints on unsupported name form {form}")
            if form in self.permitted and not any(
                    _matches(form, value, b) for b in self.permitted[form]):
                raise NameConstraintViolation(
                    Reason.NC_PERMITTED,
                    f"a {form} of {cert.describe()} is outside the permitted subtrees")
            if any(_matches(form, value, b) for b in self.excluded.get(form, ())):
                raise NameConstraintViolation(
                    Reason.NC_EXCLUDED,
                    f"a {form} of {cert.describe()} is inside an excluded subtree")

    def update(self, cert: Certificate) -> None:
        """§6.1.4 (g): intersect permitted, union excluded with the cert's nameConstraints.

        An intersection that does not fit the budget leaves the state unchanged and marks
        it :attr:`over_budget`: the next :meth:`check` fails with ``name-constraints-limit``.

        :raises ValueError: if the extension content is unusable.
        """
        nc = cert.ext_value("name_constraints")
        if nc is None:
            return
        permitted_new: dict[str, list[Base]] = {}
        permitted_seq = nc["permitted_subtrees"]
        excluded_seq = nc["excluded_subtrees"]
        for sub in (permitted_seq if permitted_seq.native is not None else ()):
            form, base = _base_of(sub["base"])
            permitted_new.setdefault(form, []).append(base)
        cost = sum(2 * len(self.permitted[form]) * len(bases)
                   for form, bases in permitted_new.items() if form in self.permitted)
        if self.over_budget or not self.budget.charge(cost):
            self.over_budget = True
            return
        for form, bases in permitted_new.items():
            if form in self.permitted:
                self.permitted[form] = _intersect(form, self.permitted[form], bases)
            else:
                self.permitted[form] = bases
        for sub in (excluded_seq if excluded_seq.native is not None else ()):
            form, base = _base_of(sub["base"])
            self.excluded.setdefault(form, []).append(base)

    def _limit(self, what: str) -> NameConstraintViolation:
        return NameConstraintViolation(
            Reason.NC_LIMIT, f"checking {what} against the name constraints needs more than "
            f"{self.budget.limit} comparisons")
