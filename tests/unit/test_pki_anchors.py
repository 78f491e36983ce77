"""The production J-LIS trust anchors (:mod:`jukicard.pki.anchors`, issue 9) and the
production preset :meth:`ValidationPolicy.jpki` that uses them.

The fingerprints below are written here by hand, from the sources named beside them, and are
compared with both the manifest and SHA-256 computed over the bundled certificates, so the
manifest, the files and the documentation cannot drift apart together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from cryptography import x509

from jukicard.errors import UsageError, ValidationError
from jukicard.pki import (
    Certificate,
    CrlRevocationSource,
    Reason,
    ValidationPolicy,
    Validator,
    anchors,
    load_certificate,
)
from jukicard.pki.anchors import AnchorIntegrityError, AnchorSet
from jukicard.pki.jpki import ca_generation, ca_kind

ROOT = Path(__file__).resolve().parents[2]
PKI = ROOT / "vectors" / "pki"
ANCHORS = ROOT / "jukicard" / "pki" / "anchors"
AT = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)

#: SHA-256 fingerprints J-LIS publishes for its sign roots (sign_fingerprint.pdf, as quoted
#: by public code): signca02 (2019) and signca03 (2023).
JLIS_PUBLISHED = {
    ("sign", 2019): "79679c33e4cc9319440f1ad120a597ff1844e2ef217063adb176966fd5e6fbeb",
    ("sign", 2023): "d227f6cde11d35c5252178f106f843d24651944975413b539fa2fb68dbfa365f",
}
#: Every fingerprint the anchors README documents: J-LIS's two, and the four we computed
#: from jpki/myna's src/ta/*.pem at commit 87f0218 (the 2023 sign one equals J-LIS's).
DOCUMENTED = {
    ("auth", 2015): "4dcfc4ca0aaf9fb2a3081b3f0c991c320b3acc008667a341eeaec5af1d58ca7d",
    ("auth", 2023): "64114f29620c24ed2631d46476a040e7ee740d956089c00b036a6a8118c322b5",
    ("sign", 2015): "19645405a1fe14377434bd55957628ac4038557c542403a2243f21c706fc9355",
    **JLIS_PUBLISHED,
}


def _der_sha256(cert: Certificate) -> str:
    """SHA-256 over the DER bytes, computed here (not :attr:`Certificate.fingerprint`)."""
    return hashlib.sha256(cert.der).hexdigest()


def _test_cert(rel: str):
    return load_certificate((PKI / rel).read_bytes())


# --------------------------------------------------------------------------- loading
def test_the_real_anchors_load_by_kind_and_generation() -> None:
    assert len(anchors.load()) == 4
    for kind in ("sign", "auth"):
        for generation in (2015, 2023):
            (cert,) = anchors.load(kind=kind, generation=generation)
            assert ca_kind(cert.subject) == kind
            assert ca_generation(cert) == str(generation)
            assert cert.self_issued and cert.is_ca and cert.key_bits == 2048
    assert anchors.load(kind="sign", generation=2019) == ()  # known by fingerprint only
    assert len(anchors.load(kind="auth")) == 2
    with pytest.raises(UsageError):
        anchors.load(kind="signature")


def test_the_real_anchors_are_intact_self_signed_roots() -> None:
    for cert in anchors.load():
        c = x509.load_der_x509_certificate(cert.der)
        c.verify_directly_issued_by(c)  # raises if the signature does not verify


def test_fingerprints_match_the_documented_ones() -> None:
    manifest = {(a.kind, a.generation): a for a in anchors.bundled().anchors}
    assert {k: a.sha256 for k, a in manifest.items()} == DOCUMENTED
    for key, entry in manifest.items():
        if entry.certificate is not None:
            assert _der_sha256(entry.certificate) == DOCUMENTED[key], key
    readme = (ANCHORS / "README.md").read_text("utf-8")
    for fingerprint in DOCUMENTED.values():
        assert fingerprint in readme


def test_the_2023_sign_root_is_the_one_jlis_publishes() -> None:
    (cert,) = anchors.load(kind="sign", generation=2023)
    assert _der_sha256(cert) == JLIS_PUBLISHED[("sign", 2023)]


def test_only_jlis_published_fingerprints_are_marked_confirmed_by_jlis() -> None:
    for a in anchors.bundled().anchors:
        confirmed = JLIS_PUBLISHED.get((a.kind, a.generation)) == a.sha256
        assert (a.sha256_source == "j-lis") is confirmed, a.id


def test_the_2019_sign_root_is_production_by_its_published_fingerprint_only() -> None:
    (entry,) = anchors.bundled().select("sign", 2019)
    assert entry.certificate is None and entry.id == "jlis-sign-2019"
    assert JLIS_PUBLISHED[("sign", 2019)] in anchors.production_fingerprints()
    # a certificate that merely claims the name is not production: only the hash counts
    assert not anchors.is_production(_test_cert("ca/sign-2019.cer"))


def test_test_pki_roots_are_test_anchors() -> None:
    for rel in ("ca/sign-2023.cer", "ca/auth-2023.cer", "ca/sign-2015.cer"):
        cert = _test_cert(rel)
        assert not anchors.is_production(cert)
        assert anchors.bundled().find(cert) is None
        assert anchors.is_production(cert, extra=[cert.fingerprint.upper()])
    for cert in anchors.load():
        assert anchors.is_production(cert)


def test_fingerprints_are_normalised_and_checked() -> None:
    fp = DOCUMENTED[("sign", 2023)]
    assert anchors.normalise_fingerprint(":".join(fp[i:i + 2] for i in range(0, 64, 2))
                                         .upper()) == fp
    for bad in ("", "abc", fp[:-1], fp + "00", "z" * 64):
        with pytest.raises(UsageError):
            anchors.normalise_fingerprint(bad)


# --------------------------------------------------------------------------- integrity
@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of the bundled anchors directory, to damage."""
    target = tmp_path / "anchors"
    target.mkdir()
    for path in ANCHORS.iterdir():
        if path.suffix in (".pem", ".json"):
            shutil.copy(path, target / path.name)
    return target


def test_an_unmodified_copy_loads(copy: Path) -> None:
    assert AnchorSet.from_directory(copy) == anchors.bundled()


def test_a_modified_anchor_file_is_an_integrity_error(copy: Path) -> None:
    pem = copy / "sign_ca_2023.pem"
    pem.write_bytes(pem.read_bytes() + b"\n")  # same certificate, different file
    with pytest.raises(AnchorIntegrityError, match="sign_ca_2023.pem") as info:
        AnchorSet.from_directory(copy)
    assert info.value.file == "sign_ca_2023.pem"
    assert isinstance(info.value, ValidationError)
    assert info.value.reason == "trust-anchor-integrity"  # a code of its own in --json


def test_another_certificate_under_a_manifest_entry_is_an_integrity_error(copy: Path) -> None:
    """The file hash matches the manifest, but the certificate is not the one it names."""
    manifest = json.loads((copy / "manifest.json").read_text("utf-8"))
    test_root = (PKI / "ca/sign-2023.cer").read_bytes()
    (copy / "sign_ca_2023.pem").write_bytes(test_root)
    for entry in manifest["anchors"]:
        if entry["file"] == "sign_ca_2023.pem":
            entry["file_sha256"] = hashlib.sha256(test_root).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(AnchorIntegrityError, match="does not hold the certificate"):
        AnchorSet.from_directory(copy)


@pytest.mark.parametrize("damage", ["missing-file", "bad-json", "no-anchors", "bad-entry",
                                    "duplicate"])
def test_a_damaged_manifest_or_missing_file_is_an_integrity_error(copy: Path,
                                                                  damage: str) -> None:
    manifest_path = copy / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8"))
    if damage == "missing-file":
        (copy / "auth_ca_2015.pem").unlink()
    elif damage == "bad-json":
        manifest_path.write_text("{", "utf-8")
    elif damage == "no-anchors":
        manifest_path.write_text(json.dumps({"format": 1}), "utf-8")
    elif damage == "bad-entry":
        manifest["anchors"][0]["kind"] = "root"
    else:
        manifest["anchors"].append(dict(manifest["anchors"][0]))
    if damage in ("bad-entry", "duplicate"):
        manifest_path.write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(AnchorIntegrityError):
        AnchorSet.from_directory(copy)


# --------------------------------------------------------------------------- the preset
def test_the_production_preset_uses_the_bundled_anchors_by_default() -> None:
    policy = ValidationPolicy.jpki()
    assert policy.trust_anchors == anchors.load()
    assert policy.allow_test_anchors is False and policy.jpki_profile
    assert ValidationPolicy.jpki(anchors.load(kind="sign")).trust_anchors == anchors.load(
        kind="sign")


def test_the_production_preset_refuses_test_anchors_unless_allowed() -> None:
    test_root = _test_cert("ca/sign-2023.cer")
    with pytest.raises(UsageError, match="not a production J-LIS anchor"):
        ValidationPolicy.jpki([test_root])
    with pytest.raises(UsageError):  # mixed with real roots: still refused
        ValidationPolicy.jpki([*anchors.load(), test_root])
    with pytest.raises(UsageError):  # replace() keeps the rule
        ValidationPolicy.jpki().replace(trust_anchors=(test_root,))
    assert ValidationPolicy.jpki([test_root], allow_test_anchors=True).trust_anchors == (
        test_root,)
    declared = ValidationPolicy.jpki([test_root], production_fingerprints=[test_root.fingerprint])
    assert declared.production_fingerprints == frozenset({test_root.fingerprint})
    with pytest.raises(UsageError):
        ValidationPolicy.jpki([test_root], production_fingerprints=["not-a-fingerprint"])
    # RFC 5280 has no notion of production anchors: the generic policies are unchanged
    assert ValidationPolicy.permissive([test_root]).allow_test_anchors
    assert ValidationPolicy([test_root], jpki_profile=True).trust_anchors == (test_root,)


def _validate(policy: ValidationPolicy, leaf: str = "ee/r1-sign.cer",
              crl: str = "crl/sign-2023.crl"):
    validator = Validator(policy, revocation=CrlRevocationSource([(PKI / crl).read_bytes()]))
    return validator.validate(_test_cert(leaf), AT)


def test_a_test_pki_chain_is_refused_under_the_production_preset() -> None:
    result = _validate(ValidationPolicy.jpki())
    assert not result.valid and result.reason == Reason.NO_ISSUER
    assert not _validate(ValidationPolicy.jpki(), "ee/r1-auth.cer", "crl/auth-2023.crl").valid


def test_a_test_pki_chain_is_accepted_with_test_anchors_allowed() -> None:
    test_root = _test_cert("ca/sign-2023.cer")
    result = _validate(ValidationPolicy.jpki([test_root], allow_test_anchors=True))
    assert result.valid, result.message
    assert result.path[0] == test_root
    # or with its root declared production by fingerprint (a newer J-LIS generation)
    result = _validate(ValidationPolicy.jpki(
        [*anchors.load(), test_root], production_fingerprints=[test_root.fingerprint]))
    assert result.valid, result.message


def test_the_anchor_files_ship_as_package_data() -> None:
    """A wheel without the PEM files or the manifest would fail at the first jpki
    validation: ``pyproject.toml`` must list them."""
    import fnmatch
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["jukicard.pki.anchors"]
    manifest = json.loads((ANCHORS / "manifest.json").read_text("utf-8"))
    needed = ["manifest.json", "README.md", *(a["file"] for a in manifest["anchors"]
                                              if a["file"] is not None)]
    for name in needed:
        assert any(fnmatch.fnmatch(name, p) for p in patterns), name
