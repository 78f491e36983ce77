"""Forging CMS SignedData for the strictness and hostile-input tests: start from what
jukicard.pki.cmsbuild makes with the test key (a SOFTWARE signer standing in for the card)
and change one thing, re-signing the signed attributes so only the check under test can
catch the change."""

from __future__ import annotations

import hashlib

from asn1crypto import cms as acms
from asn1crypto import core as acore
from asn1crypto import tsp as atsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from test_pki_cmsbuild import CERT, CONTENT, KEY, ROOT, WHEN, SoftwareCardSigner

from jukicard.pki.cmsbuild import build_signed_data

DER = serialization.Encoding.DER


def good(attached: bool = False) -> bytes:
    return build_signed_data(CONTENT, signer=SoftwareCardSigner(KEY), certificate=CERT,
                             ca_certificates=[ROOT], signing_time=WHEN, attached=attached)


def default_attrs() -> list[bytes]:
    """DER of each signed attribute jukicard writes (sorted, as in the CMS)."""
    si = acms.ContentInfo.load(good())["content"]["signer_infos"][0]
    return [a.dump() for a in si["signed_attrs"]]


def attribute(name: str, *values: object) -> bytes:
    return acms.CMSAttribute({"type": name, "values": list(values)}).dump()


def without(attrs: list[bytes], name: str) -> list[bytes]:
    return [a for a in attrs if acms.CMSAttribute.load(a)["type"].native != name]


def raw_set(attrs: list[bytes], *, sort: bool = True) -> bytes:
    """The SET OF attributes, DER-sorted unless ``sort=False`` (then as listed)."""
    body = b"".join(sorted(attrs) if sort else attrs)
    return acore.SetOf(contents=body).dump()


def signer_info(attrs_der: bytes | None, *, key: rsa.RSAPrivateKey = KEY,
                cert: x509.Certificate = CERT, corrupt: bool = False,
                unsigned: list[bytes] | None = None) -> bytes:
    """DER of a PKCS#1 v1.5 SignerInfo over ``attrs_der`` (the SET OF, signed as given)."""
    asn = ax509.Certificate.load(cert.public_bytes(DER))
    signature = key.sign(attrs_der if attrs_der is not None else CONTENT, padding.PKCS1v15(),
                         hashes.SHA256())
    if corrupt:
        signature = signature[:-1] + bytes([signature[-1] ^ 1])
    fields = [
        acore.Integer(1).dump(),
        acms.SignerIdentifier({"issuer_and_serial_number": {
            "issuer": asn.issuer, "serial_number": asn.serial_number}}).dump(),
        acms.DigestAlgorithm({"algorithm": "sha256"}).dump(),
    ]
    if attrs_der is not None:  # [0] IMPLICIT: the SET tag 0x31 becomes 0xA0
        fields.append(b"\xa0" + attrs_der[1:])
    fields += [acms.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}).dump(),
               acore.OctetString(signature).dump()]
    if unsigned is not None:
        fields.append(b"\xa1" + raw_set(unsigned)[1:])
    return acore.Sequence(contents=b"".join(fields)).dump()


def signed_data(signer_infos: list[bytes], *, certs: list[x509.Certificate] | None = None,
                attached: bool = False) -> bytes:
    """DER ContentInfo(SignedData) holding the given SignerInfos (kept as given)."""
    certs = [CERT, ROOT] if certs is None else certs
    encap = acore.ObjectIdentifier("1.2.840.113549.1.7.1").dump()
    if attached:  # [0] EXPLICIT OCTET STRING
        encap += b"\xa0" + _length(acore.OctetString(CONTENT).dump())
    body = b"".join([
        acore.Integer(1).dump(),
        acore.SetOf(contents=acms.DigestAlgorithm({"algorithm": "sha256"}).dump()).dump(),
        acore.Sequence(contents=encap).dump(),
        b"\xa0" + _length(b"".join(c.public_bytes(DER) for c in certs)),
        b"\x31" + _length(b"".join(signer_infos)),
    ])
    content = acore.Sequence(contents=body).dump()
    return acore.Sequence(contents=acore.ObjectIdentifier("1.2.840.113549.1.7.2").dump()
                          + b"\xa0" + _length(content)).dump()


def _length(contents: bytes) -> bytes:
    """DER length octets followed by ``contents`` (asn1crypto writes the header)."""
    header = acore.OctetString(contents).dump()[: -len(contents) or None]
    return header[1:] + contents


def signing_certificate_v1(cert: x509.Certificate, *, serial: int | None = None) -> object:
    asn = ax509.Certificate.load(cert.public_bytes(DER))
    return atsp.SigningCertificate({"certs": [{
        "cert_hash": hashlib.sha1(cert.public_bytes(DER)).digest(),  # noqa: S324 - an identifier
        "issuer_serial": {"issuer": [ax509.GeneralName(name="directory_name", value=asn.issuer)],
                          "serial_number": asn.serial_number if serial is None else serial},
    }]})


def signing_certificate_v2(cert: x509.Certificate, *, hash_name: str = "sha256",
                           serial: int | None = None) -> object:
    asn = ax509.Certificate.load(cert.public_bytes(DER))
    return atsp.SigningCertificateV2({"certs": [{
        "hash_algorithm": {"algorithm": hash_name},
        "cert_hash": hashlib.new(hash_name, cert.public_bytes(DER)).digest(),
        "issuer_serial": {"issuer": [ax509.GeneralName(name="directory_name", value=asn.issuer)],
                          "serial_number": asn.serial_number if serial is None else serial},
    }]})
