"""Status-word table, descriptions and the generic SW → typed error fallback."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jukicard.apdu import SW, ResponseApdu, check, describe, error_for
from jukicard.apdu.sw import is_bytes_remaining, is_wrong_le, pin_retries
from jukicard.errors import (
    ApplicationNotFound,
    CardError,
    FileNotFoundOnCard,
    PinBlockedError,
    PinError,
    SecurityStatusError,
)


@pytest.mark.parametrize(
    ("member", "value"),
    [
        (SW.SUCCESS, 0x9000),
        (SW.BYTES_REMAINING, 0x6100),
        (SW.WRONG_LE_EXACT, 0x6C00),
        (SW.DATA_CORRUPTED, 0x6281),
        (SW.END_OF_FILE, 0x6282),
        (SW.VERIFY_FAILED_RETRIES, 0x63C0),
        (SW.WRONG_LENGTH, 0x6700),
        (SW.LOGICAL_CHANNEL_NOT_SUPPORTED, 0x6881),
        (SW.COMMAND_INCOMPATIBLE_WITH_FILE, 0x6981),
        (SW.SECURITY_STATUS_NOT_SATISFIED, 0x6982),
        (SW.AUTH_METHOD_BLOCKED, 0x6983),
        (SW.REFERENCE_DATA_NOT_USABLE, 0x6984),
        (SW.CONDITIONS_NOT_SATISFIED, 0x6985),
        (SW.COMMAND_NOT_ALLOWED_NO_EF, 0x6986),
        (SW.WRONG_DATA, 0x6A80),
        (SW.FUNCTION_NOT_SUPPORTED, 0x6A81),
        (SW.FILE_NOT_FOUND, 0x6A82),
        (SW.INCORRECT_P1P2, 0x6A86),
        (SW.REFERENCED_DATA_NOT_FOUND, 0x6A88),
        (SW.WRONG_P1P2, 0x6B00),
        (SW.INS_NOT_SUPPORTED, 0x6D00),
        (SW.CLA_NOT_SUPPORTED, 0x6E00),
    ],
)
def test_sw_values(member: SW, value: int) -> None:
    assert member == value
    assert SW(value) is member


def test_every_member_is_described_specifically() -> None:
    generic = {"unknown status word"}
    for member in SW:
        text = describe(member)
        assert text and text not in generic
        assert "unknown qualifier" not in text


@pytest.mark.parametrize(
    ("sw", "fragment"),
    [
        (0x9000, "success"),
        (0x6A82, "not found"),
        (0x6982, "security status"),
        (0x6984, "blocked"),
        (0x6700, "wrong length"),
        (0x6B00, "offset"),
        (0x6D00, "instruction"),
        (0x6E00, "class"),
        (0x6110, "16 more"),
        (0x6100, "256 more"),
        (0x6C1F, "exact length is 31"),
        (0x6C00, "exact length is 256"),
        (0x63C2, "2 tries left"),
        (0x63C0, "0 tries left"),
        (0x6A99, "wrong parameters, unknown qualifier 99"),
        (0x6999, "command not allowed"),
        (0x1234, "unknown status word"),
    ],
)
def test_describe(sw: int, fragment: str) -> None:
    assert fragment in describe(sw)


@pytest.mark.parametrize("sw", [-1, 0x10000, "9000", None])
def test_describe_never_raises(sw: object) -> None:
    assert "invalid" in describe(sw)  # type: ignore[arg-type]


@given(st.integers(0, 0xFFFF))
def test_describe_total(sw: int) -> None:
    assert isinstance(describe(sw), str) and describe(sw)


def test_family_helpers() -> None:
    assert is_bytes_remaining(0x6100) and is_bytes_remaining(0x61FF)
    assert not is_bytes_remaining(0x6200) and not is_bytes_remaining(0x9000)
    assert is_wrong_le(0x6C00) and is_wrong_le(0x6C1F) and not is_wrong_le(0x6D00)
    assert pin_retries(0x63C3) == 3 and pin_retries(0x63C0) == 0 and pin_retries(0x63CF) == 15
    assert pin_retries(0x6300) is None and pin_retries(0x6983) is None
    assert pin_retries(0x9000) is None and pin_retries(0x62C3) is None


# --------------------------------------------------------------------------- error_for


@pytest.mark.parametrize("x", range(1, 16))
def test_63cx_is_pin_error_with_retries(x: int) -> None:
    err = error_for(0x63C0 | x)
    assert type(err) is PinError
    assert err.retries_left == x and err.sw == 0x63C0 | x


def test_63c0_is_blocked_pin_error() -> None:
    err = error_for(0x63C0)
    assert isinstance(err, PinBlockedError) and isinstance(err, PinError)
    assert err.retries_left == 0 and err.sw == 0x63C0


@pytest.mark.parametrize("sw", [0x6983, 0x6984])
def test_blocked(sw: int) -> None:
    err = error_for(sw, b"\x01")
    assert type(err) is PinBlockedError
    assert err.sw == sw and err.retries_left == 0 and err.data == b"\x01"


@pytest.mark.parametrize(
    ("sw", "cls"),
    [
        (0x6982, SecurityStatusError),
        (0x6A82, FileNotFoundOnCard),
        (0x6700, CardError),
        (0x6A86, CardError),
        (0x6B00, CardError),
        (0x6D00, CardError),
        (0x6300, CardError),  # no counter in the SW: not a PIN error by itself
        (0x6281, CardError),
        (0x6110, CardError),  # should have been consumed by GetResponseProcessor
    ],
)
def test_error_classes(sw: int, cls: type[CardError]) -> None:
    err = error_for(sw, b"\xAB\xCD")
    assert type(err) is cls
    assert err.sw == sw and err.data == b"\xAB\xCD"
    assert f"{sw:04X}" in str(err)


def test_6a82_is_never_application_not_found_generically() -> None:
    # SELECT by AID → ApplicationNotFound is the session's call, not the table's
    assert not isinstance(error_for(0x6A82), ApplicationNotFound)


def test_error_messages_never_contain_data() -> None:
    secret = b"123456789012"
    for sw in (0x63C2, 0x63C0, 0x6984, 0x6982, 0x6A82, 0x6F00):
        err = error_for(sw, secret)
        assert err.data == secret
        assert "123456789012" not in str(err)
        assert secret.hex() not in str(err).lower()


# --------------------------------------------------------------------------- check


def test_check_returns_data_on_9000() -> None:
    assert check(ResponseApdu(b"\x30\x82", 0x9000)) == b"\x30\x82"
    assert check(ResponseApdu(b"", 0x9000)) == b""


def test_check_raises_typed() -> None:
    with pytest.raises(PinError) as info:
        check(ResponseApdu(b"", 0x63C1))
    assert info.value.retries_left == 1
    with pytest.raises(SecurityStatusError):
        check(ResponseApdu(b"", 0x6982))
    with pytest.raises(CardError) as info2:
        check(ResponseApdu(b"\x01", 0x6F00))
    assert info2.value.sw == 0x6F00 and info2.value.data == b"\x01"


def test_check_accept() -> None:
    assert check(ResponseApdu(b"abc", 0x6282), accept={SW.END_OF_FILE}) == b"abc"
    with pytest.raises(CardError):
        check(ResponseApdu(b"abc", 0x6282))
    with pytest.raises(CardError):
        check(ResponseApdu(b"abc", 0x6281), accept=(0x6282,))


@given(st.integers(0, 0xFFFF), st.binary(max_size=8))
def test_check_total(sw: int, data: bytes) -> None:
    resp = ResponseApdu(data, sw)
    if sw == 0x9000:
        assert check(resp) == data
    else:
        with pytest.raises(CardError) as info:
            check(resp)
        assert info.value.sw == sw and info.value.data == data
