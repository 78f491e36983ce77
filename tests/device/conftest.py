"""Guarded real-card tests.

Everything here is skipped unless ``--reader NAME`` is given, and nothing touches the card
unless ``--card-id`` matches the card in that reader: the SHA-256 (hex) of its JPKI
authentication certificate, or that certificate's serial number (hex).  To find the value::

    pkcs15-tool --reader 0 --read-certificate 1 | openssl x509 -outform der | sha256sum

Tests marked ``destructive`` (they may lock a PIN) also need ``--destructive``.  The root
conftest adds the ``device`` marker to every test here, so ``-m "not device"`` (the README's
test command) never even collects them into the run.

Only read-only APDUs are sent by the non-destructive tests: SELECT, READ BINARY, and VERIFY
without data (the PIN-status query, which never consumes a try).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509

SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")
SW_OK = 0x9000


def select_ef(t: Any, fid: int) -> None:
    _data, sw = t.transmit(bytes([0x00, 0xA4, 0x02, 0x0C, 0x02, fid >> 8, fid & 0xFF]))
    assert sw == SW_OK, f"SELECT EF {fid:04X} -> {sw:04X}"


def read_ef(t: Any, size: int | None = None) -> bytes:
    """Read the selected EF with short READ BINARYs (up to *size* bytes, else to EOF)."""
    out = b""
    while size is None or len(out) < size:
        want = 256 if size is None else min(256, size - len(out))
        apdu = bytes([0x00, 0xB0, len(out) >> 8, len(out) & 0xFF, want & 0xFF])
        data, sw = t.transmit(apdu)
        if sw == 0x6B00 or (sw == SW_OK and not data):
            break
        assert sw == SW_OK, f"READ BINARY at {len(out)} -> {sw:04X}"
        out += data
        if len(data) < want:
            break
    return out


def read_auth_cert(t: Any) -> bytes:
    """The DER of the JPKI auth certificate (EF 000A), trimmed to its DER length."""
    _data, sw = t.transmit(SELECT_JPKI)
    assert sw == SW_OK, f"SELECT JPKI AP -> {sw:04X}"
    select_ef(t, 0x000A)
    header = read_ef(t, 4)
    if len(header) < 4 or header[:2] != b"\x30\x82":
        raise ValueError("auth certificate EF does not start with a DER SEQUENCE")
    total = 4 + int.from_bytes(header[2:4], "big")
    return read_ef(t, total)


def _norm(card_id: str) -> str:
    s = card_id.strip().lower().replace(":", "").replace(" ", "")
    return s[2:] if s.startswith("0x") else s


def card_matches(card_id: str, cert_der: bytes) -> bool:
    """True if *card_id* is the certificate's SHA-256 or its serial number (hex)."""
    wanted = _norm(card_id)
    if not wanted:
        return False
    if wanted == hashlib.sha256(cert_der).hexdigest():
        return True
    try:
        serial = x509.load_der_x509_certificate(cert_der).serial_number
    except ValueError:
        return False
    return wanted.lstrip("0") == format(serial, "x").lstrip("0")


@dataclass
class DeviceCard:
    transport: Any
    reader: str
    auth_cert_der: bytes


@pytest.fixture(scope="session")
def device_reader(request: pytest.FixtureRequest) -> str:
    reader = request.config.getoption("--reader")
    if not reader:
        pytest.skip("real-card test: give --reader NAME --card-id ID")
    return str(reader)


@pytest.fixture(scope="session")
def device_card(request: pytest.FixtureRequest, device_reader: str) -> Iterator[DeviceCard]:
    """An exclusive connection to the real card, after checking it is the one named."""
    card_id = request.config.getoption("--card-id")
    if not card_id:
        pytest.exit("refusing to touch a real card without --card-id (see tests/device/"
                    "conftest.py for how to get it)", returncode=2)
    from jukicard.transport.pcsc import PcscTransport

    t = PcscTransport(device_reader, share="exclusive")
    try:
        try:
            der = read_auth_cert(t)
        except (AssertionError, ValueError) as exc:
            pytest.exit(f"refusing: cannot identify the card in {device_reader!r} ({exc})",
                        returncode=2)
        if not card_matches(str(card_id), der):
            # The message names neither the card's certificate nor its serial (personal data).
            pytest.exit(f"refusing: the card in {device_reader!r} does not match --card-id",
                        returncode=2)
        yield DeviceCard(transport=t, reader=device_reader, auth_cert_der=der)
    finally:
        t.close()


@pytest.fixture
def jpki(device_card: DeviceCard) -> Any:
    """The device transport with the JPKI AP freshly selected."""
    t = device_card.transport
    _data, sw = t.transmit(SELECT_JPKI)
    assert sw == SW_OK, f"SELECT JPKI AP -> {sw:04X}"
    return t
