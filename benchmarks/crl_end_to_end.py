"""End to end: ``jukicard cert verify`` against a large CRL (issue 10).

    python3 benchmarks/crl_end_to_end.py 10000000 /tmp/e2e
    /usr/bin/time -f "%e s %M KiB" jukicard cert verify /tmp/e2e/good.cer \\
        --anchor /tmp/e2e/ca.cer --crl /tmp/e2e/big-10000000.crl --at 2026-06-01T00:00:00Z
    (and revoked.cer: exit 5, reason revoked)

Writes a CRL of N entries (consecutive 6-octet serials, a reasonCode on 10%) signed by a fresh
test CA, the CA certificate, and two end-entity certificates of that CA: one whose serial is
in the middle of the list (``revoked.cer``) and one that is not listed (``good.cer``).  TEST
material only.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.testing.bigcrl import CrlShape, Signer, make_signer, write_crl

BASE = 10**12


def end_entity(signer: Signer, serial: int, name: str, out: str) -> None:
    """A conformant end-entity certificate of ``signer`` with ``serial``, as ``name``.cer."""
    key = rsa.generate_private_key(65537, 2048)
    ca_key = signer.key.public_key()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)]))
            .issuer_name(signer.certificate.subject).public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
            .not_valid_after(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key), False)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), True)
            .sign(signer.key, hashes.SHA256()))
    with open(os.path.join(out, f"{name}.cer"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.DER))


def main(argv: list[str]) -> int:
    n = int(argv[0])
    out = argv[1] if len(argv) > 1 else "/tmp/e2e"
    os.makedirs(out, exist_ok=True)
    signer = make_signer()
    shape = CrlShape(serials=range(BASE, BASE + n), serial_octets=6, reason_fraction=0.1,
                     this_update=dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
                     next_update=dt.datetime(2026, 7, 1, tzinfo=dt.UTC))
    write_crl(os.path.join(out, f"big-{n}.crl"), shape, signer)
    with open(os.path.join(out, "ca.cer"), "wb") as f:
        f.write(signer.certificate.public_bytes(serialization.Encoding.DER))
    end_entity(signer, BASE + n // 2, "revoked", out)
    end_entity(signer, BASE + n + 7, "good", out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
