"""CommandApdu / ResponseApdu: every ISO 7816-3 case, short and extended, boundaries,
golden bytes from card-interface.md §9 / §5, malformed layouts and fuzzing."""

from __future__ import annotations

import ast
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jukicard.apdu import (
    ApduCase,
    CommandApdu,
    ResponseApdu,
)
from jukicard.errors import ApduError, MalformedApduError

H = bytes.fromhex

# --------------------------------------------------------------------------- golden bytes

JPKI_AID = H("D392F000260100000001")
DIGEST_INFO_SHA256 = H("3031300d060960864801650304020105000420") + bytes(range(32))


def test_golden_select_jpki_ap() -> None:
    cmd = CommandApdu(0x00, 0xA4, 0x04, 0x0C, JPKI_AID)
    assert cmd.encode() == H("00A4040C0AD392F000260100000001")
    assert cmd.case is ApduCase.CASE_3S
    assert CommandApdu.decode(H("00A4040C0AD392F000260100000001")) == cmd.replace(extended=False)


def test_golden_select_ef() -> None:
    assert CommandApdu(0, 0xA4, 0x02, 0x0C, H("000A")).encode() == H("00A4020C02000A")


def test_golden_short_read_binary_header() -> None:
    cmd = CommandApdu(0, 0xB0, 0, 0, le=4)
    assert cmd.encode() == H("00B0000004")
    assert cmd.case is ApduCase.CASE_2S


def test_golden_extended_read_binary() -> None:
    cmd = CommandApdu(0, 0xB0, 0x00, 0x04, le=0x061F)
    assert cmd.encode() == H("00B00004" "00061F")
    assert cmd.case is ApduCase.CASE_2E
    back = CommandApdu.decode(H("00B0000400061F"))
    assert (back.le, back.is_extended, back.p2) == (0x061F, True, 0x04)


def test_golden_read_binary_le_00_is_256() -> None:
    back = CommandApdu.decode(H("00B0000000"))
    assert back.le == 256 and not back.is_extended
    assert CommandApdu(0, 0xB0, le=256).encode() == H("00B0000000")


def test_golden_sfi_whole_ef_read_is_extended_65536() -> None:
    back = CommandApdu.decode(H("00B08200" "000000"))
    assert back.case is ApduCase.CASE_2E and back.le == 65536 and back.p1 == 0x82


def test_golden_sign_command() -> None:
    assert len(DIGEST_INFO_SHA256) == 51
    cmd = CommandApdu(0x80, 0x2A, 0x00, 0x80, DIGEST_INFO_SHA256, le=256)
    raw = cmd.encode()
    assert raw[:5] == H("802A008033") and raw[5:-1] == DIGEST_INFO_SHA256 and raw[-1:] == b"\x00"
    assert len(raw) == 5 + 51 + 1
    assert cmd.case is ApduCase.CASE_4S
    assert CommandApdu.decode(raw).le == 256


def test_golden_verify_and_status_query() -> None:
    assert CommandApdu(0, 0x20, 0, 0x80, b"1234").encode() == H("00200080" "04" "31323334")
    status = CommandApdu(0, 0x20, 0, 0x80)
    assert status.encode() == H("00200080") and status.case is ApduCase.CASE_1


# --------------------------------------------------------------------------- every case


@pytest.mark.parametrize(
    ("kwargs", "case", "raw"),
    [
        ({}, ApduCase.CASE_1, "00A40000"),
        ({"le": 1}, ApduCase.CASE_2S, "00A4000001"),
        ({"le": 255}, ApduCase.CASE_2S, "00A40000FF"),
        ({"le": 256}, ApduCase.CASE_2S, "00A4000000"),
        ({"le": 257}, ApduCase.CASE_2E, "00A4000000 0101"),
        ({"le": 65535}, ApduCase.CASE_2E, "00A4000000 FFFF"),
        ({"le": 65536}, ApduCase.CASE_2E, "00A4000000 0000"),
        ({"data": b"\xAA"}, ApduCase.CASE_3S, "00A4000001AA"),
        ({"data": b"\xAA", "le": 256}, ApduCase.CASE_4S, "00A4000001AA00"),
        ({"data": b"\xAA", "le": 257}, ApduCase.CASE_4E, "00A4000000 0001 AA 0101"),
        ({"data": b"\xAA", "le": 65536}, ApduCase.CASE_4E, "00A4000000 0001 AA 0000"),
        ({"data": b"\xAA", "extended": True}, ApduCase.CASE_3E, "00A4000000 0001 AA"),
        ({"le": 5, "extended": True}, ApduCase.CASE_2E, "00A4000000 0005"),
        ({"data": b"\xAA", "le": 2, "extended": True}, ApduCase.CASE_4E, "00A4000000 0001 AA 0002"),
    ],
)
def test_every_case_encodes_and_decodes(kwargs: dict, case: ApduCase, raw: str) -> None:
    cmd = CommandApdu(0x00, 0xA4, 0x00, 0x00, **kwargs)
    expected = H(raw.replace(" ", ""))
    assert cmd.case is case
    assert cmd.encode() == expected
    assert bytes(cmd) == expected
    back = CommandApdu.decode(expected)
    assert back.case is case
    assert (back.data, back.le) == (cmd.data, cmd.le)
    assert back.encode() == expected


def test_extended_forced_without_body_is_case_1() -> None:
    cmd = CommandApdu(0, 0xA4, extended=True)
    assert cmd.case is ApduCase.CASE_1 and not cmd.is_extended
    assert cmd.encode() == H("00A40000")


# --------------------------------------------------------------------------- boundaries


@pytest.mark.parametrize(("n", "extended"), [(1, False), (255, False), (256, True), (65535, True)])
def test_data_length_boundaries(n: int, extended: bool) -> None:
    cmd = CommandApdu(0, 0xD6, data=b"\x5A" * n)
    assert cmd.is_extended is extended
    assert cmd.fits_short is (not extended)
    raw = cmd.encode()
    if extended:
        assert raw[4:7] == b"\x00" + n.to_bytes(2, "big") and len(raw) == 7 + n
    else:
        assert raw[4] == n and len(raw) == 5 + n
    assert CommandApdu.decode(raw).data == cmd.data


def test_data_65536_rejected() -> None:
    with pytest.raises(MalformedApduError):
        CommandApdu(0, 0xD6, data=bytes(65536))


@pytest.mark.parametrize(("le", "tail"), [(256, "00"), (257, "000101"), (65535, "00FFFF"),
                                          (65536, "000000")])
def test_le_boundaries(le: int, tail: str) -> None:
    assert CommandApdu(0, 0xB0, le=le).encode()[4:] == H(tail)


@pytest.mark.parametrize("le", [0, -1, 65537, 10**9])
def test_le_out_of_range(le: int) -> None:
    with pytest.raises(MalformedApduError):
        CommandApdu(0, 0xB0, le=le)


def test_case_4_mixed_boundaries() -> None:
    # data fits short but Le does not: the whole command goes extended (no mixing)
    cmd = CommandApdu(0, 0x88, data=b"\x01" * 255, le=257)
    raw = cmd.encode()
    assert cmd.case is ApduCase.CASE_4E
    assert raw[4:7] == H("0000FF") and raw[-2:] == H("0101")
    # data does not fit short, Le = 256 is encoded on two bytes as 0100
    cmd = CommandApdu(0, 0x88, data=b"\x01" * 256, le=256)
    assert cmd.encode()[-2:] == H("0100")
    assert CommandApdu.decode(cmd.encode()).le == 256


def test_extended_false_refuses_what_does_not_fit() -> None:
    with pytest.raises(MalformedApduError):
        CommandApdu(0, 0xB0, le=257, extended=False)
    with pytest.raises(MalformedApduError):
        CommandApdu(0, 0xD6, data=bytes(256), extended=False)
    assert CommandApdu(0, 0xB0, le=256, extended=False).encode() == H("00B0000000")


@pytest.mark.parametrize("field", ["cla", "ins", "p1", "p2"])
@pytest.mark.parametrize("value", [-1, 256, "0", None, 1.0])
def test_header_bytes_validated(field: str, value: object) -> None:
    kwargs = {"cla": 0, "ins": 0xA4, "p1": 0, "p2": 0, field: value}
    with pytest.raises(MalformedApduError):
        CommandApdu(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("data", [5, "text", [1, 2], None])
def test_data_must_be_bytes(data: object) -> None:
    with pytest.raises(MalformedApduError):
        CommandApdu(0, 0xD6, data=data)  # type: ignore[arg-type]


def test_data_accepts_bytearray_and_memoryview() -> None:
    assert CommandApdu(0, 0xD6, data=bytearray(b"ab")).data == b"ab"  # type: ignore[arg-type]
    assert CommandApdu(0, 0xD6, data=memoryview(b"ab")).data == b"ab"  # type: ignore[arg-type]


@pytest.mark.parametrize("le", ["5", 2.0, True])
def test_le_must_be_int(le: object) -> None:
    with pytest.raises(MalformedApduError):
        CommandApdu(0, 0xB0, le=le)  # type: ignore[arg-type]


def test_replace_and_repr_hide_data() -> None:
    cmd = CommandApdu(0, 0x20, 0, 0x80, b"9876")
    assert cmd.replace(p2=0x81).p2 == 0x81
    assert cmd.replace(p2=0x81).data == b"9876"
    assert "9876" not in repr(cmd) and "39383736" not in repr(cmd).upper()
    with pytest.raises(MalformedApduError):
        cmd.replace(le=0)


def test_header_property() -> None:
    assert CommandApdu(0x80, 0x2A, 0x00, 0x80).header == H("802A0080")


# --------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "raw",
    [
        "",  # nothing
        "00",
        "00A404",  # 3 bytes
        "00A4040C0A D392F0",  # Lc=10, 3 bytes of data
        "00A4040C02 0001 00 00",  # Lc=2, data, then two bytes (not one Le)
        "00A4040C05 01",  # Lc bigger than the body
        "00A40000 0001",  # 00 then one byte: truncated extended length
        "00A40000 0000 00 00",  # extended Lc of zero followed by 2 bytes (not case 2E)
        "00A40000 000000 AA",  # extended Lc=0 with data
        "00A40000 000002 AA",  # extended Lc=2, one data byte
        "00A40000 000001 AA 00",  # extended case 4 with a 1-byte Le
        "00A40000 000001 AA 000000",  # extended case 4 with a 3-byte Le
        "00A40000 000001 AABB",  # extended: one byte too many for 3E, one short for 4E
    ],
)
def test_malformed_layouts_rejected(raw: str) -> None:
    with pytest.raises(MalformedApduError):
        CommandApdu.decode(H(raw.replace(" ", "")))


@pytest.mark.parametrize("raw", [None, "00A40000", 5, [0, 0xA4, 0, 0]])
def test_decode_non_bytes_rejected(raw: object) -> None:
    with pytest.raises(MalformedApduError):
        CommandApdu.decode(raw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- response


def test_response_decode_encode() -> None:
    resp = ResponseApdu.decode(H("3082061F9000"))
    assert resp.data == H("3082061F") and resp.sw == 0x9000 and resp.ok
    assert (resp.sw1, resp.sw2) == (0x90, 0x00)
    assert resp.encode() == H("3082061F9000") == bytes(resp)
    pin = ResponseApdu.decode(H("63C2"))
    assert pin.data == b"" and pin.sw == 0x63C2 and not pin.ok
    assert (pin.sw1, pin.sw2) == (0x63, 0xC2)


@pytest.mark.parametrize("raw", [b"", b"\x90", None, "9000"])
def test_response_malformed(raw: object) -> None:
    with pytest.raises(MalformedApduError):
        ResponseApdu.decode(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize("sw", [-1, 0x10000, "9000", None])
def test_response_sw_range(sw: object) -> None:
    with pytest.raises(MalformedApduError):
        ResponseApdu(b"", sw)  # type: ignore[arg-type]


def test_response_repr_hides_data() -> None:
    assert "DEADBEEF" not in repr(ResponseApdu(H("DEADBEEF"), 0x9000)).upper()


# --------------------------------------------------------------------------- properties

byte = st.integers(0, 255)


@st.composite
def commands(draw: st.DrawFn) -> CommandApdu:
    size = draw(st.sampled_from(["small", "edge", "big"]))
    if size == "small":
        data = draw(st.binary(max_size=20))
    elif size == "edge":
        data = draw(st.binary(min_size=250, max_size=260))
    else:
        data = bytes(draw(st.integers(0, 65535)))
    le = draw(st.one_of(st.none(), st.integers(1, 300), st.integers(65530, 65536),
                        st.integers(1, 65536)))
    extended = draw(st.sampled_from([None, True, False]))
    if extended is False and (len(data) > 255 or (le is not None and le > 256)):
        extended = None
    return CommandApdu(draw(byte), draw(byte), draw(byte), draw(byte), data, le, extended)


@given(commands())
@settings(max_examples=300)
def test_roundtrip_encode_decode(cmd: CommandApdu) -> None:
    raw = cmd.encode()
    back = CommandApdu.decode(raw)
    assert (back.cla, back.ins, back.p1, back.p2) == (cmd.cla, cmd.ins, cmd.p1, cmd.p2)
    assert back.data == cmd.data and back.le == cmd.le
    assert back.is_extended == cmd.is_extended
    assert back.case is cmd.case
    assert back.encode() == raw


@given(st.binary(max_size=600))
@settings(max_examples=1000)
def test_fuzz_decode_only_typed_errors_and_canonical(raw: bytes) -> None:
    try:
        cmd = CommandApdu.decode(raw)
    except ApduError:
        return
    assert cmd.encode() == raw  # every accepted layout re-encodes to the same bytes


@given(st.binary(min_size=4, max_size=4), st.binary(min_size=1, max_size=300),
       st.sampled_from([b"", b"\x00", b"\x00\x00"]))
def test_fuzz_structured_decode(header: bytes, body: bytes, le: bytes) -> None:
    raw = header + body + le
    try:
        cmd = CommandApdu.decode(raw)
    except ApduError:
        return
    assert cmd.encode() == raw


@given(st.binary(max_size=300))
def test_fuzz_response_decode(raw: bytes) -> None:
    try:
        resp = ResponseApdu.decode(raw)
    except ApduError:
        assert len(raw) < 2
        return
    assert resp.encode() == raw


# --------------------------------------------------------------------------- layering


def test_apdu_package_imports_only_errors_and_apdu() -> None:
    import jukicard.apdu

    pkg = pathlib.Path(jukicard.apdu.__file__).parent
    files = sorted(pkg.glob("*.py"))
    assert len(files) >= 5
    stdlib_ok = {"__future__", "enum", "dataclasses", "typing", "collections", "logging"}
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}: relative import"
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top == "jukicard":
                    assert name == "jukicard.errors" or name.startswith("jukicard.apdu"), (
                        f"{path.name} imports {name}"
                    )
                else:
                    assert top in stdlib_ok, f"{path.name} imports {name}"
