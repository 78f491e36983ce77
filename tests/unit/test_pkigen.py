"""The test-PKI generator: determinism, profile conformance, and that the committed vectors
are exactly what the generator produces."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core as asn1core
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from jukicard.card.dataobjects import (
    BasicInfo,
    CvCertificate,
    MyNumber,
    TextApSignature,
    TokenInfo,
    TokenKind,
    VisualEntries,
    is_valid_my_number,
)
from jukicard.card.identity_data import CardInfoRecord, TokenInfoFull
from jukicard.card.visualauth import VisualRecord
from jukicard.testing import pkigen

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "vectors"
REF = pkigen.REFERENCE_TIME


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed test keys (copied, so the test never writes into the repo)."""
    dest = tmp_path_factory.mktemp("keys")
    src = VECTORS / "pki" / "keys"
    if src.is_dir():
        for f in src.glob("*.pem"):
            shutil.copy(f, dest / f.name)
    return dest


@pytest.fixture(scope="module")
def generated(
    tmp_path_factory: pytest.TempPathFactory, key_dir: Path
) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("gen1")
    manifest = pkigen.generate(out, key_dir=key_dir)
    return out, manifest


def _cert(out: Path, rel: str) -> x509.Certificate:
    return x509.load_der_x509_certificate((out / "pki" / rel).read_bytes())


def _crl(out: Path, rel: str) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl((out / "pki" / rel).read_bytes())


def _entry(manifest: dict[str, Any], path: str) -> dict[str, Any]:
    return next(e for e in manifest["files"] + manifest["crls"] if e["path"] == path)


def _profile(out: Path, name: str) -> dict[str, Any]:
    return json.loads((out / "cards" / f"{name}.json").read_text(encoding="utf-8"))


def _files(profile: dict[str, Any], app: str) -> dict[str, dict[str, Any]]:
    a = next(x for x in profile["applications"] if x["name"] == app)
    return {f["fid"]: f for f in a["files"]}


# --------------------------------------------------------------------------- determinism
def test_same_seed_and_keys_give_identical_output(generated, key_dir, tmp_path) -> None:
    out1, _ = generated
    out2 = tmp_path / "gen2"
    pkigen.generate(out2, key_dir=key_dir)
    t1, t2 = _tree(out1), _tree(out2)
    assert t1.keys() == t2.keys()
    assert [k for k in t1 if t1[k] != t2[k]] == []


def test_other_seed_changes_serials_and_people(generated, key_dir, tmp_path) -> None:
    _, m1 = generated
    m2 = pkigen.generate(tmp_path / "other", seed=7, key_dir=key_dir)
    s1 = {e["path"]: e.get("serial") for e in m1["files"]}
    s2 = {e["path"]: e.get("serial") for e in m2["files"]}
    assert s1["ee/r1-auth.cer"] != s2["ee/r1-auth.cer"]
    assert m1["residents"][0]["my_number"] != m2["residents"][0]["my_number"]


def test_committed_vectors_match_the_generator(generated) -> None:
    """vectors/pki and vectors/cards are exactly what the generator writes (re-run it)."""
    out, _ = generated
    if not (VECTORS / "pki" / "manifest.json").exists():
        pytest.fail("vectors/pki is missing: run python -m jukicard.testing.pkigen")
    for sub in ("pki", "cards"):
        mine = _tree(out / sub)
        committed = _tree(VECTORS / sub)
        missing = sorted(set(mine) - set(committed))
        assert missing == [], f"vectors/{sub} lacks generated files, re-run the generator"
        stale = [k for k in mine if mine[k] != committed[k]]
        assert stale == [], f"vectors/{sub} out of date, re-run the generator: {stale}"
    leftovers = [
        k
        for k in _tree(VECTORS / "pki")
        if k not in _tree(out / "pki") and not k.endswith("README.md")
    ]
    assert leftovers == [], f"vectors/pki has files the generator no longer writes: {leftovers}"


def test_keystore_reuses_and_regenerates(tmp_path: Path) -> None:
    ks = pkigen.KeyStore(tmp_path)
    k1 = ks.get("t", 1024)
    k2 = pkigen.KeyStore(tmp_path).get("t", 1024)
    assert k1.private_numbers() == k2.private_numbers()
    k3 = pkigen.KeyStore(tmp_path, new_keys=True).get("t", 1024)
    assert k3.public_key().public_numbers() != k1.public_key().public_numbers()
    with pytest.raises(ValueError):
        pkigen.KeyStore(tmp_path).get("t", 2048)


def test_cli_main(key_dir: Path, tmp_path: Path) -> None:
    assert pkigen.main(["--out", str(tmp_path), "--key-dir", str(key_dir)]) == 0
    assert (tmp_path / "pki" / "manifest.json").is_file()
    assert (tmp_path / "cards" / "mynumber-01.json").is_file()


# --------------------------------------------------------------------------- roots
def test_roots_profile(generated) -> None:
    out, m = generated
    roots = [e for e in m["files"] if e["role"] in ("auth-root", "sign-root")]
    assert sorted(e["id"] for e in roots) == [
        "auth-2015",
        "auth-2019",
        "auth-2023",
        "sign-2015",
        "sign-2019",
        "sign-2023",
    ]
    for e in roots:
        c = _cert(out, e["path"])
        assert c.subject == c.issuer
        ous = [a.value for a in c.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
        assert ous[0] == (
            "JPKI for user authentication"
            if e["role"] == "auth-root"
            else "JPKI for digital signature"
        )
        assert "jukicard TEST" in ous
        assert c.public_key().key_size == 2048
        assert (
            c.signature_hash_algorithm is not None and c.signature_hash_algorithm.name == "sha256"
        )
        ku = c.extensions.get_extension_for_class(x509.KeyUsage)
        assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
        assert not ku.value.digital_signature
        bc = c.extensions.get_extension_for_class(x509.BasicConstraints)
        assert bc.critical and bc.value.ca
        c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        dp = c.extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0]
        assert dp.full_name == [x509.DirectoryName(c.subject)]
        with pytest.raises(x509.ExtensionNotFound):
            c.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
        c.verify_directly_issued_by(c)
        assert e["expired"] == (e["generation"] == "2015")
        assert (c.not_valid_after_utc < REF) == e["expired"]


def test_generations_share_a_name_but_not_a_key(generated) -> None:
    out, _ = generated
    a19, a23 = _cert(out, "ca/auth-2019.cer"), _cert(out, "ca/auth-2023.cer")
    assert a19.subject == a23.subject
    assert a19.public_key() != a23.public_key()


# --------------------------------------------------------------------------- end entities
def test_auth_ee_profile(generated) -> None:
    out, _ = generated
    c = _cert(out, "ee/r1-auth.cer")
    ca = _cert(out, "ca/auth-2023.cer")
    c.verify_directly_issued_by(ca)
    assert [a.oid for a in c.subject] == [NameOID.COUNTRY_NAME, NameOID.COMMON_NAME]
    ku = c.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.content_commitment
    pol = c.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in pol] == [pkigen.OID.POLICY_AUTH]
    aki = c.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert c.not_valid_before_utc >= pkigen.ISSUANCE_DATE
    assert c.not_valid_after_utc.strftime("%H:%M:%S") == "14:59:59"


def test_sign_ee_profile_and_san(generated) -> None:
    out, m = generated
    c = _cert(out, "ee/r1-sign.cer")
    c.verify_directly_issued_by(_cert(out, "ca/sign-2023.cer"))
    assert [a.oid for a in c.subject] == [
        NameOID.COUNTRY_NAME,
        NameOID.LOCALITY_NAME,
        NameOID.LOCALITY_NAME,
        NameOID.COMMON_NAME,
    ]
    ku = c.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    pol = c.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in pol] == [pkigen.OID.POLICY_SIGN]
    san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    others = {
        o.type_id.dotted_string: asn1core.UTF8String.load(o.value).native
        for o in san.get_values_for_type(x509.OtherName)
    }
    r1 = next(r for r in m["residents"] if r["id"] == "r1")
    birth = dt.date.fromisoformat(r1["birth"])
    assert others[pkigen.OID.SAN_NAME] == r1["name"]
    assert others[pkigen.OID.SAN_ADDRESS] == r1["address"]
    assert others[pkigen.OID.SAN_SEX] == str(r1["sex"])
    assert others[pkigen.OID.SAN_BIRTH] == f"{pkigen.wareki(birth)[0]}{birth:%Y%m%d}"
    assert set(others) == {f"1.2.392.200149.8.5.5.{i}" for i in range(1, 7)}
    dp = c.extensions.get_extension_for_class(x509.CRLDistributionPoints).value[0]
    dn = dp.full_name[0].value
    ous = [a.value for a in dn.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    assert ous[:2] == ["JPKI for digital signature", "CRL Distribution Points"]
    assert dn.get_attributes_for_oid(NameOID.COMMON_NAME)


def test_operator_juki_and_expired_generation(generated) -> None:
    out, m = generated
    op = _cert(out, "ee/operator-auth.cer")
    assert pkigen.OPERATOR_OU in [
        a.value for a in op.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    ]
    op.verify_directly_issued_by(_cert(out, "ca/auth-2019.cer"))
    juki = _cert(out, "ee/juki1-sign.cer")
    assert juki.public_key().key_size == 1024
    assert not (out / "pki" / "ee" / "juki1-auth.cer").exists()
    r3 = _cert(out, "ee/r3-auth.cer")
    ca15 = _cert(out, "ca/auth-2015.cer")
    r3.verify_directly_issued_by(ca15)
    assert ca15.not_valid_after_utc < REF < r3.not_valid_after_utc


# --------------------------------------------------------------------------- CRLs
def test_crl_revokes_r2_sign_only(generated) -> None:
    out, m = generated
    crl = _crl(out, "crl/sign-2023.crl")
    ca = _cert(out, "ca/sign-2023.cer")
    assert crl.is_signature_valid(ca.public_key())
    assert (
        crl.last_update_utc == pkigen.CRL_THIS_UPDATE
        and crl.next_update_utc == pkigen.CRL_NEXT_UPDATE
    )
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > 0
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert (
        aki.key_identifier
        == ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    )
    r2 = crl.get_revoked_certificate_by_serial_number(_cert(out, "ee/r2-sign.cer").serial_number)
    assert r2 is not None
    assert (
        r2.extensions.get_extension_for_class(x509.CRLReason).value.reason
        is x509.ReasonFlags.affiliation_changed
    )
    assert r2.revocation_date_utc == pkigen.R2_REVOKED_AT
    for leaf in ("ee/r1-sign.cer", "ee/r2-auth.cer"):
        serial = _cert(out, leaf).serial_number
        assert (
            _crl(out, "crl/sign-2023.crl").get_revoked_certificate_by_serial_number(serial) is None
        )
        assert (
            _crl(out, "crl/auth-2023.crl").get_revoked_certificate_by_serial_number(serial) is None
        )
    assert _entry(m, "ee/r2-sign.cer")["revoked"] is True
    assert _entry(m, "ee/r2-auth.cer")["revoked"] is False


def test_stale_wrong_key_and_arl(generated) -> None:
    out, _ = generated
    sign_ca = _cert(out, "ca/sign-2023.cer")
    stale = _crl(out, "crl/sign-2023-stale.crl")
    assert stale.is_signature_valid(sign_ca.public_key())
    assert stale.next_update_utc is not None and stale.next_update_utc < REF
    assert (
        stale.get_revoked_certificate_by_serial_number(_cert(out, "ee/r2-sign.cer").serial_number)
        is None
    )

    auth_ca = _cert(out, "ca/auth-2023.cer")
    wrong = _crl(out, "crl/auth-2023-wrongkey.crl")
    good = _crl(out, "crl/auth-2023.crl")
    assert wrong.issuer == auth_ca.subject
    assert not wrong.is_signature_valid(auth_ca.public_key())
    assert good.is_signature_valid(auth_ca.public_key())
    n = lambda c: c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number  # noqa: E731
    assert n(wrong) > n(good)

    for ca_id in ("auth-2023", "sign-2019", "auth-2015"):
        arl = _crl(out, f"crl/{ca_id}-arl.crl")
        ca = _cert(out, f"ca/{ca_id}.cer")
        assert arl.is_signature_valid(ca.public_key())
        idp = arl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
        assert idp.critical and idp.value.only_contains_ca_certs
        assert idp.value.full_name == [x509.DirectoryName(ca.subject)]


def test_every_crl_in_manifest(generated) -> None:
    out, m = generated
    on_disk = {str(p.relative_to(out / "pki")) for p in (out / "pki" / "crl").glob("*.crl")}
    assert on_disk == {c["path"] for c in m["crls"]}
    assert len([c for c in m["crls"] if c["role"] == "crl"]) == 6
    assert len([c for c in m["crls"] if c["role"] == "arl"]) == 6
    for c in m["crls"]:
        data = (out / "pki" / c["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == c["sha256"]
    for dp, targets in m["crl_dp_map"].items():
        assert targets and all((out / "pki" / t).is_file() for t in targets), dp


def test_manifest_files_and_cases_consistent(generated) -> None:
    out, m = generated
    assert m["reference_time"] == "2026-06-01T00:00:00Z"
    for e in m["files"]:
        assert (out / "pki" / e["path"]).is_file()
        if "key" in e:
            assert (out / "pki" / e["key"]).is_file()
        if e["kind"] == "certificate":
            c = _cert(out, e["path"])
            assert c.serial_number == e["serial"]
            assert c.subject.rfc4514_string() == e["subject"]
            key = serialization.load_pem_private_key((out / "pki" / e["key"]).read_bytes(), None)
            assert key.public_key() == c.public_key()
    known = {e["path"] for e in m["files"]} | {c["path"] for c in m["crls"]}
    ids = set()
    for case in m["cases"]:
        assert case["id"] not in ids
        ids.add(case["id"])
        assert case["leaf"] in known and case["anchor"] in known
        assert all(c in known for c in case["crls"])
        assert case["expected"] in ("valid", "revoked", "expired", "indeterminate", "invalid")


def test_no_private_key_material_outside_keys_and_profiles(generated) -> None:
    out, _ = generated
    for rel, data in _tree(out / "pki").items():
        if not rel.startswith("keys/"):
            assert b"PRIVATE KEY" not in data, rel


# --------------------------------------------------------------------------- card profiles
def test_profiles_load_in_the_emulator(generated) -> None:
    from jukicard.emulator.profile import load_profile

    out, m = generated
    names = sorted(p.stem for p in (out / "cards").glob("*.json"))
    assert names == [
        "juki-01",
        "mynumber-01",
        "mynumber-02",
        "mynumber-03",
        "mynumber-operator",
        "mynumber-short",
    ]
    for name in names:
        load_profile(out / "cards" / f"{name}.json")


def test_mynumber_profile_contents(generated) -> None:
    out, m = generated
    prof = _profile(out, "mynumber-01")
    assert prof["format"] == "jukicard-card-profile/1"
    assert "synthetic" in prof["description"]
    assert prof["atr"] == "3BE000FF8131FE4514" and prof["extended_length"] is True
    r1 = next(r for r in m["residents"] if r["id"] == "r1")
    jpki = _files(prof, "jpki")
    assert jpki["0001"]["read"] == {"any_of": ["001B"]}
    assert jpki["000A"]["read"] == "always"
    assert (jpki["0018"]["value"], jpki["0018"]["max_tries"], jpki["0018"]["max_len"]) == (
        "1234",
        3,
        4,
    )
    assert (jpki["001B"]["min_len"], jpki["001B"]["max_len"], jpki["001B"]["max_tries"]) == (
        6,
        16,
        5,
    )
    token = bytes.fromhex(jpki["0006"]["data"])
    # issue 11: the whole 160-byte CK_TOKEN_INFO; its first 32 bytes are the token string
    assert len(token) == 160 and TokenInfo.parse(token[:32]).kind is TokenKind.MYNUMBER_CARD
    assert TokenInfoFull.parse(token).label == "JPKIAPICCTOKEN2"
    for cert_fid, key_fid, pin in (("000A", "0017", "0018"), ("0001", "001A", "001B")):
        cert = x509.load_der_x509_certificate(bytes.fromhex(jpki[cert_fid]["data"]))
        key = serialization.load_pem_private_key(jpki[key_fid]["private_key_pem"].encode(), None)
        assert isinstance(key, rsa.RSAPrivateKey) and key.public_key() == cert.public_key()
        assert jpki[key_fid]["use"] == {"any_of": [pin]}
    assert x509.load_der_x509_certificate(bytes.fromhex(jpki["000B"]["data"])) == _cert(
        out, "ca/auth-2023.cer"
    )

    text = _files(prof, "text")
    mn_ef = bytes.fromhex(text["0001"]["data"])
    bi_ef = bytes.fromhex(text["0002"]["data"])
    assert len(mn_ef) == 17 and len(bi_ef) == 256
    mn = MyNumber.parse(mn_ef)
    assert mn.digits == r1["my_number"] and is_valid_my_number(mn.digits)
    bi = BasicInfo.parse(bi_ef)
    assert (bi.name, bi.address, bi.birth.isoformat()) == (r1["name"], r1["address"], r1["birth"])
    cv = CvCertificate.parse(bytes.fromhex(text["0004"]["data"]))
    root = CvCertificate.parse((out / "pki" / "cv" / "jlis-root.cvc").read_bytes())
    root.verify_issuer(root.public_key())
    cv.verify_issuer(root.public_key())
    sig_ef = bytes.fromhex(text["0003"]["data"])
    assert len(sig_ef) == 336
    TextApSignature.parse(sig_ef).verify(mn_ef, bi_ef, cv)
    assert text["0001"]["read"] == {"any_of": ["0011", "0014"]}
    assert text["0002"]["read"] == {"any_of": ["0011", "0015"]}
    assert text["0003"]["read"] == {"any_of": ["0011", "0014", "0015"]}
    assert text["0014"]["value"] == r1["my_number"]
    assert text["0015"]["value"] == r1["pins"]["text_collation_b_0015"]
    assert len(text["0015"]["value"]) == 14 and text["0015"]["max_tries"] == 10

    visual = _files(prof, "visual")
    ve = VisualEntries.parse(bytes.fromhex(visual["0002"]["data"]))
    assert ve.photo.startswith(b"\x00\x00\x00\x0cjP  ")
    assert ve.name_png.startswith(b"\x89PNG\r\n\x1a\n")
    vkey = CvCertificate.parse(bytes.fromhex(visual["0004"]["data"])).public_key()
    # issue 11: DF 28 follows the real rule (three group digests, VIS-1) and DF 24 is the card key
    assert VisualRecord.parse(0x0002, bytes.fromhex(visual["0002"]["data"])).verify_issuer(vkey)
    assert visual["0011"]["value"] == r1["pins"]["visual_birth_0011"]
    assert len(visual["0011"]["value"]) == 6 and visual["0011"]["max_tries"] == 3
    assert visual["0002"]["read"] == {"any_of": ["0013", "0012"]}

    common = _files(prof, "common")
    # issue 11: record 1 is the real card-information record (01 1C + 28 digits)
    info = CardInfoRecord.parse(bytes.fromhex(common["0001"]["records"][0]))
    assert info.serial == "99" + r1["card_id"][2:].rjust(11, "0") + "00"


def test_short_and_juki_profiles(generated) -> None:
    out, _ = generated
    short = _profile(out, "mynumber-short")
    full = _profile(out, "mynumber-01")
    assert short["extended_length"] is False
    assert short["applications"] == full["applications"]
    assert _profile(out, "mynumber-02")["atr"] == pkigen.ATR_EXTENDED

    juki = _profile(out, "juki-01")
    assert juki["card_type"] == "juki"
    jpki = _files(juki, "jpki")
    assert set(jpki) == {"0001", "0002", "0006", "001A", "001B"}
    assert TokenInfo.parse(bytes.fromhex(jpki["0006"]["data"])).kind is TokenKind.JUKI_CARD
    assert (jpki["001B"]["min_len"], jpki["001B"]["max_len"], jpki["001B"]["max_tries"]) == (
        4,
        16,
        5,
    )
    key = serialization.load_pem_private_key(jpki["001A"]["private_key_pem"].encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 1024
    app = next(a for a in juki["applications"] if a["name"] == "juki")
    assert app["aid"] == "D3921000310001010401"
    files = {f["fid"]: f for f in app["files"]}
    assert (files["001C"]["max_len"], files["001C"]["max_tries"]) == (4, 3)
    code = bytes.fromhex(files["0001"]["data"]).decode()
    assert len(code) == 11 and code.isdigit()
    assert files["0001"]["read"] == {"any_of": ["001C"]}
    assert "unverified layout" in juki["description"].lower()


def test_wareki_and_birthday_helpers() -> None:
    assert pkigen.wareki_yymmdd(dt.date(1985, 7, 15)) == "600715"  # 昭和60年
    assert pkigen.wareki_yymmdd(dt.date(1989, 1, 7)) == "640107"  # 昭和64年
    assert pkigen.wareki_yymmdd(dt.date(1989, 1, 8)) == "010108"  # 平成元年
    assert pkigen.wareki(dt.date(2019, 5, 1)) == (5, 1)  # 令和元年
    assert pkigen.nth_birthday_after(dt.date(1995, 3, 2), dt.date(2025, 4, 1), 5) == dt.date(
        2030, 3, 2
    )
    assert pkigen.nth_birthday_after(dt.date(1995, 7, 2), dt.date(2025, 4, 1), 5) == dt.date(
        2029, 7, 2
    )
    png = pkigen.tiny_png()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png.endswith(b"IEND\xaeB`\x82")
