"""RFC 5280 §7.1 distinguished-name comparison.

Two names match when they have the same number of RDNs and each RDN holds the same set of
attribute type/value pairs, where string values (PrintableString, UTF8String, TeletexString,
BMPString, UniversalString, IA5String) are compared after RFC 4518 string preparation:
mapping (drop ignorable code points, controls → space), NFKC, case folding and insignificant
space handling (leading/trailing spaces removed, inner runs collapsed to one space).  So a
PrintableString ``Test CA`` in a certificate matches a UTF8String ``test  ca`` in a CRL.
Values of other types are compared as DER.

:func:`name_key` turns a name into a hashable canonical key, so stores can index
certificates and CRLs by issuer name in a dict (O(1) look-up).
"""

from __future__ import annotations

import re
import unicodedata

from asn1crypto import core as _core
from asn1crypto import x509 as _x509

from jukicard.pki.errors import MalformedError
from jukicard.pki.reasons import Reason

__all__ = [
    "NameKey",
    "prep_string",
    "name_key",
    "names_equal",
    "name_is_within",
    "rdn_count",
    "format_name",
]

AttrValueKey = str | bytes
NameKey = tuple[tuple[tuple[str, AttrValueKey], ...], ...]

_STRING_TYPES = (
    _core.PrintableString,
    _core.UTF8String,
    _core.TeletexString,
    _core.BMPString,
    _core.UniversalString,
    _core.IA5String,
    _core.VisibleString,
)
# RFC 4518 §2.2 map: ignorable code points → nothing
_MAP_NOTHING = re.compile(
    "[\u00ad\u034f\u1806\u180b-\u180e\u200b-\u200d\u2060\ufe00-\ufe0f\ufeff"
    "\u0000-\u0008\u000e-\u001f\u007f-\u0084\u0086-\u009f]"
)
# controls that map to SPACE, and every Unicode space separator
_MAP_SPACE = re.compile(
    "[\u0009-\u000d\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_SPACES = re.compile(" +")


def prep_string(value: str) -> str:
    """Prepare a directory string for case-insensitive comparison (RFC 4518, simplified).

    :param value: the decoded attribute value.
    :returns: the canonical form: mapped, NFKC-normalised, case-folded, with insignificant
        spaces removed.
    """
    value = _MAP_NOTHING.sub("", value)
    value = _MAP_SPACE.sub(" ", value)
    value = unicodedata.normalize("NFKC", value)
    value = value.casefold()
    value = unicodedata.normalize("NFKC", value)
    return _SPACES.sub(" ", value.strip(" "))


def _value_key(value: object) -> AttrValueKey:
    # value is the parsed attribute value (asn1crypto object); strings → prepared text
    if isinstance(value, _x509.DirectoryString):
        value = value.chosen
    if isinstance(value, _core.Any):
        value = _core.Asn1Value.load(value.dump())  # universal class chosen by the tag
    if isinstance(value, _STRING_TYPES):
        native = value.native
        if isinstance(native, str):
            return prep_string(native)
    if isinstance(value, _core.Asn1Value):
        return bytes(value.dump())
    raise MalformedError("unsupported attribute value in a name", reason=Reason.MALFORMED_NAME)


def _attr_type(ava: _x509.NameTypeAndValue) -> str:
    return str(ava["type"].dotted)


def name_key(name: _x509.Name) -> NameKey:
    """Return the canonical, hashable RFC 5280 §7.1 key of a distinguished name.

    :param name: an :class:`asn1crypto.x509.Name`.
    :raises MalformedError: (reason ``malformed-name``) when the name does not parse.
    """
    try:
        rdns: list[tuple[tuple[str, AttrValueKey], ...]] = []
        for rdn in name.chosen:
            avas: list[tuple[str, AttrValueKey]] = []
            for ava in rdn:
                try:
                    value = ava["value"]
                    val_key = _value_key(value)
                except MalformedError:
                    raise
                except Exception:  # undecodable: compare as raw DER, never crash
                    val_key = ava["value"].dump()
                avas.append((_attr_type(ava), val_key))
            avas.sort(key=lambda t: (t[0], isinstance(t[1], bytes), repr(t[1])))
            rdns.append(tuple(avas))
        return tuple(rdns)
    except MalformedError:
        raise
    except Exception as exc:  # asn1crypto raises ValueError/TypeError/KeyError on bad input
        raise MalformedError(f"malformed distinguished name ({type(exc).__name__})",
                             reason=Reason.MALFORMED_NAME) from exc


def names_equal(a: _x509.Name, b: _x509.Name) -> bool:
    """RFC 5280 §7.1 name comparison.

    :param a: first name.
    :param b: second name.
    """
    return name_key(a) == name_key(b)


def rdn_count(key: NameKey) -> int:
    """Number of RDNs in a name key."""
    return len(key)


def name_is_within(name: NameKey, base: NameKey) -> bool:
    """True if ``name`` is in the DN subtree rooted at ``base`` (``base`` is a prefix of it).

    :param name: key of the subject name.
    :param base: key of the subtree base.
    """
    return len(name) >= len(base) and name[: len(base)] == base


def format_name(name: _x509.Name) -> str:
    """A printable one-line form of a name (RFC 4514-ish), for CA names in messages.

    NOTE: do not use it for end-entity subjects: JPKI signing-certificate subjects carry the
    holder's municipality.
    """
    try:
        return str(name.human_friendly)
    except Exception:
        return "<unprintable name>"
