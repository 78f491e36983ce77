"""Generate jukicard's hostile certificates and CRLs (``vectors/malformed/``).

Run from the repository root: ``python vectors/malformed/generate.py``.  It writes a small
test CA (``base-ca.der``), a valid end-entity certificate (``base-ee.der``) and CRL
(``base-crl.der``), then hostile variants of the certificate and of the CRL, and
``manifest.json`` saying what each file is and what a validator must make of it:

* ``malformed``: parsing must fail with a typed error whose reason starts ``malformed``;
* ``invalid``: it parses, but validation must fail (``reasons`` lists acceptable codes);
* ``no-crash``: any typed outcome is acceptable (RFC 5280 tells users to be tolerant),
  but never an untyped exception.

Everything is synthetic TEST material.  Keys are fresh on every run (RSA cannot be seeded
with ``cryptography``), so re-running changes the bytes, not the cases.  The hostile bytes
are produced by editing DER with ``asn1crypto`` or at the byte level on purpose: these are
test vectors, not library code.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from asn1crypto import crl as acrl
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

OUT = Path(__file__).resolve().parent
UTC = dt.UTC
DER = serialization.Encoding.DER
NOT_BEFORE = dt.datetime(2025, 1, 1, tzinfo=UTC)
NOT_AFTER = dt.datetime(2030, 1, 1, tzinfo=UTC)
THIS_UPDATE = dt.datetime(2026, 5, 31, tzinfo=UTC)
NEXT_UPDATE = dt.datetime(2026, 6, 7, tzinfo=UTC)
AT = "2026-06-01T00:00:00Z"

cases: list[dict] = []


def write(name: str, data: bytes, kind: str, expect: str, why: str,
          reasons: list[str] | None = None) -> None:
    (OUT / name).write_bytes(data)
    entry = {"file": name, "kind": kind, "expect": expect, "why": why}
    if reasons:
        entry["reasons"] = reasons
    cases.append(entry)


def der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + der_len(len(value)) + value


def sign_raw(key: rsa.RSAPrivateKey, tbs: bytes) -> bytes:
    return key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())


def resign_cert(cert: ax509.Certificate, key: rsa.RSAPrivateKey) -> bytes:
    tbs = cert["tbs_certificate"]
    tbs_der = tbs.dump(force=True)
    sig_alg = cert["signature_algorithm"].dump()
    return tlv(0x30, tbs_der + sig_alg + tlv(0x03, b"\x00" + sign_raw(key, tbs_der)))


def resign_crl_tbs(tbs_der: bytes, sig_alg: bytes, key: rsa.RSAPrivateKey) -> bytes:
    return tlv(0x30, tbs_der + sig_alg + tlv(0x03, b"\x00" + sign_raw(key, tbs_der)))


def replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new) and data.count(old) >= 1, old
    return data.replace(old, new, 1)


def main() -> None:
    for p in OUT.glob("*.der"):
        p.unlink()
    for p in OUT.glob("*.pem"):
        p.unlink()
    ca_key = rsa.generate_private_key(65537, 2048)
    ee_key = rsa.generate_private_key(65537, 2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jukicard TEST"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "Malformed Vectors CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
          .sign(ca_key, hashes.SHA256()))
    ee = (x509.CertificateBuilder()
          .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                                   x509.NameAttribute(NameOID.COMMON_NAME, "TEST EE")]))
          .issuer_name(ca_name).public_key(ee_key.public_key()).serial_number(0x1234)
          .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
          .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False,
                                       False), True)
          .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
              ca_key.public_key()), False)
          .sign(ca_key, hashes.SHA256()))
    crl_b = (x509.CertificateRevocationListBuilder().issuer_name(ca_name)
             .last_update(THIS_UPDATE).next_update(NEXT_UPDATE)
             .add_extension(x509.CRLNumber(7), False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 ca_key.public_key()), False))
    for s in (0x1111, 0x2222, 0x3333):
        crl_b = crl_b.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(s).revocation_date(THIS_UPDATE)
            .build())
    crl = crl_b.sign(ca_key, hashes.SHA256())

    ca_der, ee_der, crl_der = ca.public_bytes(DER), ee.public_bytes(DER), crl.public_bytes(DER)
    (OUT / "base-ca.der").write_bytes(ca_der)
    (OUT / "base-ee.der").write_bytes(ee_der)
    (OUT / "base-crl.der").write_bytes(crl_der)

    # ----------------------------------------------------------------- certificates
    C = "certificate"
    write("cert-empty.der", b"", C, "malformed", "zero bytes")
    write("cert-truncated-half.der", ee_der[: len(ee_der) // 2], C, "malformed",
          "cut in the middle of the TBSCertificate")
    write("cert-truncated-1.der", ee_der[:-1], C, "malformed", "last byte missing")
    write("cert-trailing-garbage.der", ee_der + b"\x00\x00", C, "malformed",
          "two bytes after the outer SEQUENCE")
    write("cert-garbage.der", bytes(range(256)) * 4, C, "malformed", "not ASN.1 at all")
    write("cert-huge-length.der", b"\x30\x84\x7f\xff\xff\xff" + ee_der[4:40], C, "malformed",
          "outer length claims 2 GiB")
    write("cert-indefinite-length.der", b"\x30\x80" + ee_der[4:] + b"\x00\x00", C,
          "malformed", "BER indefinite length (not DER)")
    assert ee_der[1] == 0x82
    write("cert-non-minimal-length.der",
          b"\x30\x84\x00\x00" + ee_der[2:4] + ee_der[4:], C, "malformed",
          "outer length in 4 bytes with leading zeros (BER, not DER)")
    write("cert-nested-10000.der", b"\x30\x80" * 10000, C, "malformed",
          "10000 nested indefinite-length SEQUENCEs (recursion bomb)")
    na = NOT_AFTER.strftime("%y%m%d%H%M%SZ").encode()
    write("cert-month13.der", replace_once(ee_der, na, b"301301000000Z"), C, "malformed",
          "notAfter month 13")
    write("cert-day32.der", replace_once(ee_der, na, b"300132000000Z"), C, "malformed",
          "notAfter day 32")
    write("cert-hour25.der", replace_once(ee_der, na, b"300101250000Z"), C, "malformed",
          "notAfter hour 25")
    write("cert-time-no-zulu.der", replace_once(ee_der, na, b"3001010000000"), C,
          "malformed", "UTCTime without Z")
    sig_oid = bytes.fromhex("06092a864886f70d01010b")
    write("cert-bad-oid-encoding.der",
          ee_der.replace(sig_oid, bytes.fromhex("06092a864886f70d010180")), C, "invalid",
          "signature OID whose last arc has the continuation bit set",
          ["malformed-certificate", "unsupported-algorithm"])
    sig_hdr = b"\x03\x82\x01\x01\x00"
    assert ee_der.count(sig_hdr) == 1
    write("cert-bitstring-unused-bits-8.der", ee_der.replace(sig_hdr, b"\x03\x82\x01\x01\x08"),
          C, "malformed", "signature BIT STRING with 8 unused bits")
    flipped = bytearray(ee_der)
    flipped[-1] ^= 0x01
    write("cert-bad-signature.der", bytes(flipped), C, "invalid", "signature bit flipped",
          ["bad-certificate-signature"])

    acert = ax509.Certificate.load(ee_der)
    exts = list(acert["tbs_certificate"]["extensions"])
    dup = ax509.Certificate.load(ee_der)
    dup["tbs_certificate"]["extensions"] = ax509.Extensions(exts + [exts[0]])
    write("cert-duplicate-extension.der", resign_cert(dup, ca_key), C, "malformed",
          "keyUsage twice (RFC 5280 §4.2), properly signed")
    neg = ax509.Certificate.load(ee_der)
    neg["tbs_certificate"]["serial_number"] = -5
    write("cert-negative-serial.der", resign_cert(neg, ca_key), C, "no-crash",
          "serial -5, properly signed (RFC 5280 §4.1.2.2: users should tolerate)")
    atbs = acert["tbs_certificate"]
    fields = [atbs[f].dump() for f in ("version", "serial_number", "signature", "issuer",
                                       "validity", "subject", "subject_public_key_info",
                                       "extensions")]
    assert fields[1] == b"\x02\x02\x12\x34"
    fields[1] = b"\x02\x00"  # INTEGER with no content octets
    write("cert-zero-length-serial.der",
          resign_crl_tbs(tlv(0x30, b"".join(fields)), acert["signature_algorithm"].dump(),
                         ca_key),
          C, "malformed", "serial INTEGER of length 0 (invalid DER), properly signed")
    tbs_der = acert["tbs_certificate"].dump()
    assert tbs_der.count(b"\xa0\x03\x02\x01\x02") == 1
    write("cert-version-10.der",
          resign_crl_tbs(tbs_der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x09"),
                         acert["signature_algorithm"].dump(), ca_key),
          C, "malformed", "version field 9 (v10), properly signed")
    ee_pem = ee.public_bytes(serialization.Encoding.PEM)
    write("cert-pem-bad-base64.pem", ee_pem.replace(b"M", b"!", 3), C, "malformed",
          "PEM with characters outside base64")
    write("cert-pem-no-end.pem", ee_pem.split(b"-----END")[0], C, "malformed",
          "PEM without END line")

    # ----------------------------------------------------------------- CRLs
    R = "crl"
    write("crl-empty.der", b"", R, "malformed", "zero bytes")
    write("crl-truncated-half.der", crl_der[: len(crl_der) // 2], R, "malformed",
          "cut in the middle")
    write("crl-trailing-garbage.der", crl_der + b"\xff", R, "malformed", "byte after the CRL")
    write("crl-garbage.der", b"\x30\x03\x02\x01\x01", R, "malformed", "SEQUENCE { INTEGER }")
    tu = THIS_UPDATE.strftime("%y%m%d%H%M%SZ").encode()
    write("crl-month13.der", replace_once(crl_der, tu, b"261331000000Z"), R, "malformed",
          "thisUpdate month 13")
    write("crl-non-minimal-length.der", b"\x30\x84\x00\x00" + crl_der[2:4] + crl_der[4:], R,
          "malformed", "outer length with leading zeros (BER)")
    flipped = bytearray(crl_der)
    flipped[-1] ^= 0x01
    write("crl-bad-signature.der", bytes(flipped), R, "invalid",
          "signature bit flipped: unusable, status undetermined",
          ["bad-crl-signature", "revocation-status-undetermined"])

    acrl_obj = acrl.CertificateList.load(crl_der)
    tbs = acrl_obj["tbs_cert_list"]
    sig_alg = acrl_obj["signature_algorithm"].dump()
    # truncated entries: the last entry's header claims more bytes than it holds
    entries = [e.dump() for e in tbs["revoked_certificates"]]
    last = entries[-1]
    cut_last = last[:2] + last[2:-4]  # header (length byte) unchanged, content shortened
    revoked = tlv(0x30, b"".join(entries[:-1]) + cut_last)
    parts = [tbs[f].dump() for f in ("version", "signature", "issuer", "this_update",
                                     "next_update")]
    crl_exts = tbs["crl_extensions"].dump()
    tbs_trunc = tlv(0x30, b"".join(parts) + revoked + crl_exts)
    write("crl-truncated-entries.der", resign_crl_tbs(tbs_trunc, sig_alg, ca_key), R,
          "malformed", "last revokedCertificates entry shorter than its length says; signed")
    # zero-length serial in an entry
    first = entries[0]
    e0 = acrl.RevokedCertificate.load(first)
    e0_parts = [e0[f].dump() for f in ("user_certificate", "revocation_date")]
    e0_parts[0] = b"\x02\x00"  # INTEGER with no content octets
    revoked0 = tlv(0x30, tlv(0x30, b"".join(e0_parts)) + b"".join(entries[1:]))
    tbs_zero = tlv(0x30, b"".join(parts) + revoked0 + crl_exts)
    write("crl-zero-length-entry-serial.der", resign_crl_tbs(tbs_zero, sig_alg, ca_key), R,
          "malformed", "an entry serial INTEGER of length 0; signed")
    # duplicate cRLNumber extension
    ext_list = list(tbs["crl_extensions"])
    dup_exts = acrl.TbsCertList.load(tbs.dump())
    dup_exts["crl_extensions"] = acrl.TBSCertListExtensions(ext_list + [ext_list[0]])
    write("crl-duplicate-extension.der",
          resign_crl_tbs(dup_exts.dump(force=True), sig_alg, ca_key), R, "malformed",
          "cRLNumber twice; signed")
    # nextUpdate before thisUpdate
    nu = NEXT_UPDATE.strftime("%y%m%d%H%M%SZ").encode()
    backwards = acrl.TbsCertList.load(tbs.dump())
    backwards["next_update"] = acrl.Time({"utc_time": dt.datetime(2026, 5, 1, tzinfo=UTC)})
    assert nu
    write("crl-next-update-before-this-update.der",
          resign_crl_tbs(backwards.dump(force=True), sig_alg, ca_key), R, "invalid",
          "nextUpdate < thisUpdate: never fresh; signed",
          ["crl-stale-nextUpdate-passed", "revocation-status-undetermined", "malformed-crl"])

    manifest = {
        "format": "jukicard-malformed-vectors/1",
        "description": "Hostile certificates and CRLs (synthetic TEST material) generated by "
                       "vectors/malformed/generate.py; see README.md.",
        "validation_time": AT,
        "anchor": "base-ca.der",
        "end_entity": "base-ee.der",
        "crl": "base-crl.der",
        "cases": cases,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n",
                                       "utf-8")
    print(f"wrote {len(cases)} hostile vectors to {OUT}")


if __name__ == "__main__":
    main()
