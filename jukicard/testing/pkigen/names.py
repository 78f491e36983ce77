"""Names in the test PKI: JPKI object identifiers, distinguished names, CRL distribution
points and the paths of the generated files (relative to ``pki/``).

Shaped after the public facts of ``card-interface.md`` §11.  The OIDs are written out here on
purpose, apart from :mod:`jukicard.pki.jpki`: the vectors test the validator, so the two
must not share a mistake.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import core as asn1core
from cryptography import x509
from cryptography.x509.oid import NameOID

__all__ = [
    "OID",
    "TEST_MARKER",
    "JLIS_OU",
    "CA_OU",
    "OPERATOR_OU",
    "KINDS",
    "name",
    "ca_name",
    "sign_crl_dp_name",
    "auth_crl_dp_name",
    "distribution_points",
    "other_name",
    "ca_path",
    "ee_path",
    "crl_path",
    "arl_path",
    "cv_path",
]


class OID:
    """JPKI object identifiers (card-interface §11.2)."""

    POLICY_AUTH = "1.2.392.200149.8.5.1.3.30"
    POLICY_SIGN = "1.2.392.200149.8.5.1.1.20"
    SAN_NAME = "1.2.392.200149.8.5.5.1"
    SAN_NAME_SUBST = "1.2.392.200149.8.5.5.2"
    SAN_SEX = "1.2.392.200149.8.5.5.3"
    SAN_BIRTH = "1.2.392.200149.8.5.5.4"
    SAN_ADDRESS = "1.2.392.200149.8.5.5.5"
    SAN_ADDRESS_SUBST = "1.2.392.200149.8.5.5.6"


TEST_MARKER = "jukicard TEST"
JLIS_OU = "Japan Agency for Local Authority Information Systems"
CA_OU = {"auth": "JPKI for user authentication", "sign": "JPKI for digital signature"}
OPERATOR_OU = "jukicard operator"
#: The two certificate kinds, in the order roots are made.
KINDS = ("auth", "sign")


def name(*attrs: tuple[Any, str]) -> x509.Name:
    """An X.509 name from ``(NameOID, value)`` pairs, most general first."""
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])


def ca_name(kind: str) -> x509.Name:
    """Subject of a test root (identical across generations, like the real roots)."""
    return name(
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, "JPKI"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, CA_OU[kind]),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, JLIS_OU),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, TEST_MARKER),
    )


def sign_crl_dp_name(pref_en: str, city_en: str) -> x509.Name:
    """Municipal CRL distribution point DirName of sign certificates (§11.2)."""
    return name(
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, "JPKI"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, CA_OU["sign"]),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, pref_en),
        (NameOID.COMMON_NAME, city_en),
    )


def auth_crl_dp_name() -> x509.Name:
    """CRL distribution point DirName of auth certificates (not public; our choice)."""
    return name(
        (NameOID.COUNTRY_NAME, "JP"),
        (NameOID.ORGANIZATION_NAME, "JPKI"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, CA_OU["auth"]),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
    )


def distribution_points(dp: x509.Name) -> x509.CRLDistributionPoints:
    """A CRL DP extension with one DirName full name."""
    return x509.CRLDistributionPoints(
        [x509.DistributionPoint([x509.DirectoryName(dp)], None, None, None)]
    )


def other_name(oid: str, text: str) -> x509.OtherName:
    """A SAN otherName holding a UTF8String (the JPKI sign certificate's personal data)."""
    return x509.OtherName(x509.ObjectIdentifier(oid), asn1core.UTF8String(text).dump())


# --------------------------------------------------------------------------- file paths
def ca_path(ca_id: str) -> str:
    return f"ca/{ca_id}.cer"


def ee_path(resident: str, kind: str) -> str:
    return f"ee/{resident}-{kind}.cer"


def crl_path(ca_id: str, variant: str = "") -> str:
    """The CA's complete CRL, or a variant of it (``"stale"``, ``"wrongkey"``)."""
    return f"crl/{ca_id}-{variant}.crl" if variant else f"crl/{ca_id}.crl"


def arl_path(ca_id: str) -> str:
    return crl_path(ca_id, "arl")


def cv_path(name: str) -> str:
    return f"cv/{name}.cvc"
