"""RFC 5280 §7.1 name comparison (jukicard.pki.names)."""

from __future__ import annotations

import pytest
from asn1crypto import x509 as ax509

from jukicard.pki.errors import MalformedError
from jukicard.pki.names import name_is_within, name_key, names_equal, prep_string


def _name(attrs: dict[str, str], printable: bool) -> ax509.Name:
    return ax509.Name.build(attrs, use_printable=printable)


def test_prep_string_folds_case_and_insignificant_spaces() -> None:
    assert prep_string("  Test   CA  ") == "test ca"
    assert prep_string("TEST\tCA") == "test ca"
    assert prep_string("Ｔｅｓｔ") == "test"            # NFKC: full-width → ASCII
    assert prep_string("soft\u00adhyphen") == "softhyphen"  # mapped to nothing


def test_printable_and_utf8_strings_match() -> None:
    a = _name({"country_name": "US", "common_name": "Good CA"}, printable=True)
    b = _name({"country_name": "US", "common_name": "good  ca"}, printable=False)
    assert a.chosen[1][0]["value"].chosen.__class__.__name__ == "PrintableString"
    assert b.chosen[1][0]["value"].chosen.__class__.__name__ == "UTF8String"
    assert names_equal(a, b)
    assert name_key(a) == name_key(b)


def test_japanese_utf8_names_compare_exactly_after_prep() -> None:
    a = _name({"country_name": "JP", "organization_name": "公的個人認証サービス"}, False)
    b = _name({"country_name": "JP", "organization_name": "公的個人認証サービス "}, False)
    c = _name({"country_name": "JP", "organization_name": "公的個人認証"}, False)
    assert names_equal(a, b)
    assert not names_equal(a, c)


def test_rdn_order_matters_but_multivalued_rdn_order_does_not() -> None:
    a = _name({"country_name": "US", "common_name": "X"}, True)
    b = ax509.Name.build({"common_name": "X", "country_name": "US"}, use_printable=True)
    # Name.build orders attributes canonically, so build the reversed order by hand
    rev = ax509.Name(name="", value=ax509.RDNSequence(list(reversed(list(a.chosen)))))
    assert not names_equal(a, rev)
    assert names_equal(a, b)
    ava1 = ax509.NameTypeAndValue({"type": "common_name",
                                   "value": ax509.DirectoryString(name="utf8_string", value="X")})
    ava2 = ax509.NameTypeAndValue({"type": "organizational_unit_name",
                                   "value": ax509.DirectoryString(name="utf8_string", value="Y")})
    rdn = ax509.RelativeDistinguishedName
    m1 = ax509.Name(name="", value=ax509.RDNSequence([rdn([ava1, ava2])]))
    m2 = ax509.Name(name="", value=ax509.RDNSequence([rdn([ava2, ava1])]))
    assert names_equal(m1, m2)


def test_different_attribute_types_do_not_match() -> None:
    a = _name({"common_name": "X"}, True)
    b = _name({"organizational_unit_name": "X"}, True)
    assert not names_equal(a, b)


def test_name_is_within_is_a_prefix_check() -> None:
    base = name_key(_name({"country_name": "US", "organization_name": "Test"}, True))
    inside = name_key(_name({"country_name": "US", "organization_name": "test",
                             "common_name": "A"}, False))
    outside = name_key(_name({"country_name": "US", "organization_name": "Other",
                              "common_name": "A"}, True))
    assert name_is_within(inside, base)
    assert name_is_within(base, base)
    assert not name_is_within(outside, base)
    assert not name_is_within(base, inside)


def test_malformed_name_raises_typed_error() -> None:
    bad = ax509.Name.load(b"\x30\x06\x31\x04\x30\x02\x06\x00")  # empty OID in an AVA
    with pytest.raises(MalformedError) as ei:
        name_key(bad)
    assert ei.value.reason == "malformed-name"
