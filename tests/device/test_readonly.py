"""Read-only checks on a real My Number / Juki card (``--reader`` + ``--card-id``).

Only SELECT, READ BINARY and VERIFY *without data* (PIN status; never consumes a try).
"""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

pytestmark = pytest.mark.device

#: JPKI PIN IEFs: fid -> max tries (card-interface.md §4).
JPKI_PINS = {0x0018: 3, 0x001B: 5}


def _select(t: Any, fid: int) -> None:
    _data, sw = t.transmit(bytes([0x00, 0xA4, 0x02, 0x0C, 0x02, fid >> 8, fid & 0xFF]))
    assert sw == 0x9000, f"SELECT EF {fid:04X} -> {sw:04X}"


def pin_tries_left(t: Any, fid: int) -> int:
    """PIN status: ``00 20 00 80`` with no data → ``63 Cx`` (x = tries left)."""
    _select(t, fid)
    data, sw = t.transmit(bytes.fromhex("00200080"))
    assert data == b""
    assert sw & 0xFFF0 == 0x63C0, f"PIN status of {fid:04X} -> {sw:04X}"
    return sw & 0x0F


def test_token_info(jpki: Any) -> None:
    _select(jpki, 0x0006)
    data, sw = jpki.transmit(bytes.fromhex("00B0000020"))
    assert sw == 0x9000
    token = data.rstrip(b" \x00").decode("ascii")
    assert token in {"JPKIAPICCTOKEN2", "JPKIAPICCTOKEN", "JPKIAPGPSETOKEN"}


@pytest.mark.parametrize("fid", sorted(JPKI_PINS), ids=lambda f: f"{f:04X}")
def test_pin_status_without_data(jpki: Any, fid: int) -> None:
    tries = pin_tries_left(jpki, fid)
    assert 0 <= tries <= JPKI_PINS[fid]
    # asking again costs nothing
    assert pin_tries_left(jpki, fid) == tries


def test_auth_certificate_is_x509(device_card: Any) -> None:
    cert = x509.load_der_x509_certificate(device_card.auth_cert_der)
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
    assert cert.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)[0].value == "JP"
