"""Unit tests for card profiles (jukicard.emulator.profile)."""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import jukicard.emulator as emulator_pkg
from jukicard.emulator import CardOS
from jukicard.emulator.profile import (
    DEFAULT_ATR,
    AccessCondition,
    BinaryFileSpec,
    CardProfile,
    PinFileSpec,
    ProfileError,
    load_profile,
    profile_dir,
    resolve_profile_path,
)
from jukicard.emulator.sample import JPKI_AID, new_key_pem, sample_profile_json
from jukicard.errors import JukiError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def base_json() -> dict:
    pem = new_key_pem(1024)
    return sample_profile_json(auth_key_pem=pem, sign_key_pem=pem)


@pytest.fixture
def pj(base_json: dict) -> dict:
    return copy.deepcopy(base_json)


def jpki_files(pj: dict) -> list:
    return pj["applications"][0]["files"]


# --------------------------------------------------------------------------- happy path
def test_parse_and_roundtrip(pj: dict) -> None:
    p = CardProfile.from_json(pj)
    assert p.name == "sample-mynumber" and p.card_type == "mynumber"
    assert p.atr == DEFAULT_ATR and p.extended_length is True
    assert [a.name for a in p.applications] == ["jpki", "text", "visual", "common", "juki"]
    again = CardProfile.parse(bytes(p))
    assert again == p
    assert CardProfile.parse(bytes(p).decode()) == p


def test_size_and_pad(pj: dict) -> None:
    p = CardProfile.from_json(pj)
    token = p.application("jpki").file(0x0006)
    assert isinstance(token, BinaryFileSpec)
    assert token.data == b"JPKIAPICCTOKEN2" + b" " * 17
    basic = p.application("text").file(0x0005)
    assert isinstance(basic, BinaryFileSpec) and len(basic.data) == 256
    assert basic.data.endswith(b"\xff\xff")


def test_nul_padded_token(pj: dict) -> None:
    jpki_files(pj)[0]["pad"] = "00"
    token = CardProfile.from_json(pj).application("jpki").file(0x0006)
    assert token.data == b"JPKIAPICCTOKEN2" + bytes(17)  # type: ignore[union-attr]


def test_application_lookup(pj: dict) -> None:
    p = CardProfile.from_json(pj)
    assert p.application(bytes.fromhex(JPKI_AID)).name == "jpki"
    with pytest.raises(KeyError):
        p.application("nope")


def test_defaults_and_unknown_keys_ignored(pj: dict) -> None:
    del pj["atr"], pj["extended_length"]
    pj["comment"] = "generator annotation"
    pj["applications"][0]["note"] = "x"
    p = CardProfile.from_json(pj)
    assert p.atr == DEFAULT_ATR and p.extended_length is True and p.challenge_seed is None


def test_pin_tries_left_defaults_to_max(pj: dict) -> None:
    pin = CardProfile.from_json(pj).application("jpki").file(0x001B)
    assert isinstance(pin, PinFileSpec) and pin.tries_left == pin.max_tries == 5


def test_access_condition_forms() -> None:
    assert AccessCondition.parse("always").satisfied_by(())
    assert not AccessCondition.parse("never").satisfied_by({1, 2})
    c = AccessCondition.parse({"any_of": ["0011", "0014"]})
    assert c.pins == (0x11, 0x14)
    assert c.satisfied_by({0x14}) and not c.satisfied_by({0x15})
    assert c.to_json() == {"any_of": ["0011", "0014"]}
    for bad in ("sometimes", {"any_of": []}, {"all_of": ["0011"]}, {"any_of": "0011"}, 3,
                {"any_of": ["11"]}):
        with pytest.raises(ProfileError):
            AccessCondition.parse(bad)


def test_repr_hides_secrets(pj: dict) -> None:
    p = CardProfile.from_json(pj)
    text = repr(p)
    assert "ABC123" not in text and "PRIVATE KEY" not in text


def test_profile_error_is_a_juki_error() -> None:
    assert issubclass(ProfileError, JukiError)


def test_replace(pj: dict) -> None:
    p = CardProfile.from_json(pj).replace(extended_length=False, atr=bytes.fromhex("3B8F80"))
    assert not p.extended_length and p.atr == bytes.fromhex("3B8F80")


# --------------------------------------------------------------------------- errors
def _mutations():
    def m(f):
        return f

    @m
    def bad_format(pj):
        pj["format"] = "jukicard-card-profile/2"

    @m
    def missing_apps(pj):
        del pj["applications"]

    @m
    def apps_not_list(pj):
        pj["applications"] = {}

    @m
    def bad_card_type(pj):
        pj["card_type"] = "visa"

    @m
    def bad_atr_hex(pj):
        pj["atr"] = "3BZZ"

    @m
    def bad_atr_first_byte(pj):
        pj["atr"] = "00E000FF"

    @m
    def ext_not_bool(pj):
        pj["extended_length"] = "yes"

    @m
    def unknown_kind(pj):
        jpki_files(pj)[1]["kind"] = "cyclic"

    @m
    def missing_kind(pj):
        del jpki_files(pj)[1]["kind"]

    @m
    def bad_data_hex(pj):
        jpki_files(pj)[1]["data"] = "30820G"

    @m
    def data_not_string(pj):
        jpki_files(pj)[1]["data"] = 12

    @m
    def duplicate_fid(pj):
        jpki_files(pj)[2]["fid"] = "0001"

    @m
    def fid_too_long(pj):
        jpki_files(pj)[2]["fid"] = "000002"

    @m
    def fid_mf(pj):
        jpki_files(pj)[2]["fid"] = "3F00"

    @m
    def unknown_pin_reference(pj):
        jpki_files(pj)[1]["read"] = {"any_of": ["0019"]}

    @m
    def reference_to_non_pin(pj):
        jpki_files(pj)[1]["read"] = {"any_of": ["0002"]}

    @m
    def pin_of_other_app(pj):
        jpki_files(pj)[1]["read"] = {"any_of": ["0011"]}

    @m
    def key_use_unknown_pin(pj):
        jpki_files(pj)[5]["use"] = {"any_of": ["0099"]}

    @m
    def key_without_use(pj):
        del jpki_files(pj)[5]["use"]

    @m
    def duplicate_aid(pj):
        pj["applications"][1]["aid"] = JPKI_AID

    @m
    def duplicate_app_name(pj):
        pj["applications"][1]["name"] = "jpki"

    @m
    def short_aid(pj):
        pj["applications"][0]["aid"] = "D392"

    @m
    def pin_value_too_long(pj):
        jpki_files(pj)[6]["value"] = "12345"

    @m
    def pin_value_not_ascii(pj):
        jpki_files(pj)[6]["value"] = "１２３４"

    @m
    def pin_min_gt_max(pj):
        jpki_files(pj)[6]["min_len"] = 5

    @m
    def pin_tries_left_gt_max(pj):
        jpki_files(pj)[6]["tries_left"] = 4

    @m
    def pin_max_tries_16(pj):
        jpki_files(pj)[6]["max_tries"] = 16

    @m
    def pin_tries_bool(pj):
        jpki_files(pj)[6]["max_tries"] = True

    @m
    def pin_missing_max_tries(pj):
        del jpki_files(pj)[6]["max_tries"]

    @m
    def garbage_pem(pj):
        jpki_files(pj)[5]["private_key_pem"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END"

    @m
    def ec_key(pj):
        k = ec.generate_private_key(ec.SECP256R1())
        jpki_files(pj)[5]["private_key_pem"] = k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()

    @m
    def size_smaller_than_data(pj):
        jpki_files(pj)[0]["size"] = 4

    @m
    def pad_two_bytes(pj):
        jpki_files(pj)[0]["pad"] = "2020"

    @m
    def records_not_list(pj):
        pj["applications"][3]["files"][0]["records"] = "C10F"

    @m
    def record_too_long(pj):
        pj["applications"][3]["files"][0]["records"] = ["00" * 256]

    @m
    def file_not_object(pj):
        jpki_files(pj).append("0001")

    @m
    def seed_negative(pj):
        pj["challenge_seed"] = -1

    return {k: v for k, v in locals().items() if callable(v) and k != "m"}


MUTATIONS = _mutations()


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_bad_profiles_raise_profile_error(pj: dict, name: str) -> None:
    MUTATIONS[name](pj)
    with pytest.raises(ProfileError):
        CardProfile.from_json(pj)


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"\xff\xfe", b'"x"', b"null",
                                 b"[" * 100_000, b'{"a":' * 100_000])
def test_bad_json_raises_profile_error(raw: bytes) -> None:
    # deeply nested JSON makes the json module raise RecursionError: still a ProfileError
    with pytest.raises(ProfileError):
        CardProfile.parse(raw)


def test_unknown_key_algorithm_raises_profile_error(pj: dict) -> None:
    # PKCS#8 with an unknown algorithm OID (1.2.3.4.5): cryptography raises
    # UnsupportedAlgorithm, which is neither ValueError nor TypeError
    pem = ("-----BEGIN PRIVATE KEY-----\nMBACAQAwBgYEKgMEBQQDBAEA\n"
           "-----END PRIVATE KEY-----\n")
    keys = [f for a in pj["applications"] for f in a["files"] if f["kind"] == "rsa_key"]
    assert keys
    keys[0]["private_key_pem"] = pem
    with pytest.raises(ProfileError):
        CardProfile.from_json(pj)


# --------------------------------------------------------------------------- loading
def test_load_by_path(tmp_path: Path, pj: dict) -> None:
    path = tmp_path / "card.json"
    path.write_text(json.dumps(pj), encoding="utf-8")
    assert load_profile(path).name == "sample-mynumber"
    assert load_profile(str(path)).name == "sample-mynumber"
    assert CardOS(path).profile.name == "sample-mynumber"


def test_load_by_name_with_env(tmp_path: Path, pj: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my-card.json").write_text(json.dumps(pj), encoding="utf-8")
    monkeypatch.setenv("JUKICARD_PROFILE_DIR", str(tmp_path))
    assert profile_dir() == tmp_path
    assert load_profile("my-card").name == "sample-mynumber"
    assert CardOS("my-card").profile.name == "sample-mynumber"


def test_default_profile_dir_is_repo_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUKICARD_PROFILE_DIR", raising=False)
    assert profile_dir() == REPO / "vectors" / "cards"
    assert resolve_profile_path("x") == REPO / "vectors" / "cards" / "x.json"


@pytest.mark.parametrize("name", ["..", "../x", "a b", "", "-x"])
def test_bad_names(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JUKICARD_PROFILE_DIR", str(tmp_path))
    with pytest.raises(ProfileError):
        load_profile(name)


def test_missing_and_invalid_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUKICARD_PROFILE_DIR", str(tmp_path))
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile("absent")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ProfileError, match="bad.json"):
        load_profile("bad")


# --------------------------------------------------------------------------- repository profiles
REPO_PROFILES = sorted((REPO / "vectors" / "cards").glob("*.json"))


@pytest.mark.parametrize("path", REPO_PROFILES, ids=[p.stem for p in REPO_PROFILES])
def test_repository_profiles_load_and_bind(path: Path) -> None:
    """The rules for a profile kept in the repository (documented in
    :mod:`jukicard.emulator.profile`): named as its file, described as synthetic/test data,
    with a JPKI AP that OpenSC's driver can bind to."""
    p = load_profile(path)
    assert p.name == path.stem
    assert "synthetic" in p.description.lower() or "test" in p.description.lower()
    card = CardOS(p)
    card.power_on()
    jpki = p.application("jpki")
    r = card.execute(bytes.fromhex("00A4040C") + bytes((len(jpki.aid),)) + jpki.aid)
    assert r == b"\x90\x00"
    pins = [f.fid for f in jpki.files if isinstance(f, PinFileSpec)]
    assert pins
    for fid in pins:  # OpenSC bind: VERIFY without data must give 63 Cx on each PIN IEF
        assert card.execute(b"\x00\xa4\x02\x0c\x02" + fid.to_bytes(2, "big")) == b"\x90\x00"
        assert card.execute(b"\x00\x20\x00\x80")[0] == 0x63


# --------------------------------------------------------------------------- layering
def test_emulator_imports_only_apdu_and_errors() -> None:
    allowed = ("jukicard.apdu", "jukicard.errors", "jukicard.emulator")
    pkg_dir = Path(emulator_pkg.__file__).parent
    for src in pkg_dir.glob("*.py"):
        tree = ast.parse(src.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                if n == "jukicard" or n.startswith("jukicard."):
                    assert n.startswith(allowed), f"{src.name} imports {n}"
                assert not n.startswith("smartcard"), f"{src.name} imports pyscard"


# --------------------------------------------------------------------------- file size and kind
@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "directory"])
def test_load_profile_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    """Review of issue 8: ``--profile /dev/zero`` was read whole (memory grew until the
    process died).  A device, a FIFO (opened without waiting for a writer) or a directory
    is refused before anything is read."""
    import os

    if kind == "dev-zero":
        path = Path("/dev/zero")
    elif kind == "fifo":
        path = tmp_path / "profile.json"
        os.mkfifo(path)
    else:
        path = tmp_path / "dir.json"
        path.mkdir()
    with pytest.raises(ProfileError, match="not a regular file"):
        load_profile(path)


def test_load_profile_caps_the_file_size(tmp_path: Path) -> None:
    """A (sparse) file one byte over :data:`MAX_PROFILE_SIZE` is refused unread; a
    profile at the cap would be read."""
    from jukicard.emulator.profile import MAX_PROFILE_SIZE

    big = tmp_path / "big.json"
    with big.open("wb") as fh:
        fh.truncate(MAX_PROFILE_SIZE + 1)
    with pytest.raises(ProfileError, match="larger than 8 MiB"):
        load_profile(big)
    fine = tmp_path / "fine.json"
    fine.write_bytes(b" " * (MAX_PROFILE_SIZE - 2) + b"{}")
    with pytest.raises(ProfileError, match="format"):  # read and parsed: not a profile
        load_profile(fine)
