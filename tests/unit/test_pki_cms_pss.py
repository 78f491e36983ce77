"""RSASSA-PSS SignerInfos (issue 13): built by jukicard.pki.cmsbuild with a SOFTWARE signer
standing in for the card's P1 04 (``PSS_DIGEST``: it receives the SHA-256 hash of the signed
attributes and returns a PSS signature, salt length of its own choosing), verified strictly by
jukicard.pki.cms and by ``openssl cms -verify`` (a tool nobody here wrote).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import algos as aalgos
from asn1crypto import cms as acms
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from test_pki_cmsbuild import CERT, CONTENT, KEY, ROOT, WHEN, SoftwareCardSigner

from jukicard.errors import UsageError
from jukicard.pki.cms import (
    MalformedCmsError,
    SignedData,
    UnsupportedCmsAlgorithmError,
    verify_cms,
)
from jukicard.pki.cmsbuild import CmsSignerOutputError, SigningScheme, build_signed_data
from jukicard.pki.cmspss import PssParameters, find_salt_length, max_salt_length
from jukicard.pki.signatures import SignatureInvalidError

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl not installed")
MAX_SALT = max_salt_length(2048, "sha256")  # 222


class SoftwarePssCardSigner:
    """Stands in for the card's PSS_DIGEST: PSS-SHA256 over the given 32-byte hash."""

    def __init__(self, key: rsa.RSAPrivateKey, salt: int = 32) -> None:
        self.key, self.salt = key, salt
        self.blocks: list[bytes] = []

    def __call__(self, digest: bytes) -> bytes:
        self.blocks.append(digest)
        assert len(digest) == 32
        return self.key.sign(digest, padding.PSS(padding.MGF1(hashes.SHA256()), self.salt),
                             utils.Prehashed(hashes.SHA256()))


def _build_pss(signer=None, **kw) -> bytes:
    kw.setdefault("certificate", CERT)
    kw.setdefault("ca_certificates", [ROOT])
    kw.setdefault("signing_time", WHEN)
    return build_signed_data(CONTENT, signer=signer or SoftwarePssCardSigner(KEY),
                             scheme=SigningScheme.PSS_SHA256_DIGEST, **kw)


@pytest.mark.parametrize("salt", [32, 0, 20, 17, MAX_SALT])
def test_software_pss_signer_salt_length_found_declared_and_verified(salt):
    signer = SoftwarePssCardSigner(KEY, salt)
    der = _build_pss(signer)
    assert len(signer.blocks) == 1  # the card is asked exactly once
    si = acms.ContentInfo.load(der)["content"]["signer_infos"][0]
    # the signer got the SHA-256 hash of the DER signed attributes
    assert signer.blocks[0] == hashlib.sha256(si["signed_attrs"].untag().dump()).digest()
    alg = si["signature_algorithm"]
    assert alg["algorithm"].native == "rsassa_pss"
    params = alg["parameters"].native
    assert params["hash_algorithm"]["algorithm"] == "sha256"
    assert params["mask_gen_algorithm"] == {
        "algorithm": "mgf1", "parameters": {"algorithm": "sha256", "parameters": None}}
    assert params["salt_length"] == salt and params["trailer_field"] == "trailer_field_bc"
    (s,) = verify_cms(der, detached_content=CONTENT).signers
    assert (s.scheme, s.salt_length, s.cades_bes) == ("pss", salt, True)


def test_pkcs1v15_signer_reports_its_scheme():
    (s,) = verify_cms(build_signed_data(CONTENT, signer=SoftwareCardSigner(KEY),
                                        certificate=CERT, signing_time=WHEN),
                      detached_content=CONTENT).signers
    assert (s.scheme, s.salt_length) == ("pkcs1v15", None)


def test_pss_needs_sha256_usage_error_before_the_signer_is_called():
    signer = SoftwarePssCardSigner(KEY)
    for name in ("sha384", "sha512"):
        with pytest.raises(UsageError):
            _build_pss(signer, hash_name=name)
    assert signer.blocks == []


def test_pss_signer_returning_pkcs1v15_or_wrong_key_is_refused():
    """A signer that is not doing PSS with the certificate's key: no salt length fits."""
    with pytest.raises(CmsSignerOutputError, match="no salt length"):
        _build_pss(lambda digest: KEY.sign(digest, padding.PKCS1v15(),
                                           utils.Prehashed(hashes.SHA256())))
    other = serialization.load_pem_private_key(
        (Path(__file__).resolve().parents[2] / "vectors/pki/keys/ee-r1-auth.pem").read_bytes(),
        None)
    assert isinstance(other, rsa.RSAPrivateKey)
    with pytest.raises(CmsSignerOutputError):
        _build_pss(SoftwarePssCardSigner(other))


def test_find_salt_length_none_for_garbage():
    assert find_salt_length(KEY.public_key(), bytes(256), bytes(32), "sha256") is None


# -- strict verification of the parameters ------------------------------------------------

def _with_alg(der: bytes, alg) -> bytes:
    """The CMS with the SignerInfo's signatureAlgorithm replaced (the signature does not
    cover it: only the verifier's strictness can catch a change)."""
    info = acms.ContentInfo.load(der)
    si = info["content"]["signer_infos"][0]
    new_si = acms.SignerInfo({k: si[k] for k in ("version", "sid", "digest_algorithm",
                                                  "signed_attrs", "signature")}
                             | {"signature_algorithm": alg})
    sd = info["content"]
    return acms.ContentInfo({"content_type": "signed_data", "content": acms.SignedData({
        "version": sd["version"], "digest_algorithms": sd["digest_algorithms"],
        "encap_content_info": sd["encap_content_info"], "certificates": sd["certificates"],
        "signer_infos": [new_si]})}).dump()


def _params(**over):
    base = {"hash_algorithm": {"algorithm": "sha256"},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
            "salt_length": 32}
    base.update(over)
    return aalgos.SignedDigestAlgorithm({"algorithm": "rsassa_pss",
                                         "parameters": aalgos.RSASSAPSSParams(base)})


@pytest.mark.parametrize(("alg", "error"), [
    (aalgos.SignedDigestAlgorithm({"algorithm": "rsassa_pss"}), MalformedCmsError),
    (aalgos.SignedDigestAlgorithm({"algorithm": "rsassa_pss",
                                   "parameters": aalgos.RSASSAPSSParams.load(b"\x30\x00")}),
     UnsupportedCmsAlgorithmError),  # the SHA-1 defaults
    (_params(hash_algorithm={"algorithm": "sha384"},
             mask_gen_algorithm={"algorithm": "mgf1", "parameters": {"algorithm": "sha384"}}),
     MalformedCmsError),  # not the digestAlgorithm
    (_params(mask_gen_algorithm={"algorithm": "mgf1", "parameters": {"algorithm": "sha1"}}),
     UnsupportedCmsAlgorithmError),
    (_params(trailer_field=2), UnsupportedCmsAlgorithmError),
    (_params(salt_length=MAX_SALT + 1), MalformedCmsError),
    (_params(salt_length=20), SignatureInvalidError),  # declared != used: exact check
    (_params(salt_length=33), SignatureInvalidError),
])
def test_pss_parameters_are_checked_strictly(alg, error):
    der = _with_alg(_build_pss(), alg)
    with pytest.raises(error):
        verify_cms(der, detached_content=CONTENT)
    # and the one-signer-at-a-time view says the same, without raising
    (outcome,) = SignedData.parse(der).verify_signers(detached_content=CONTENT)
    assert isinstance(outcome.error, error) and outcome.certificate == CERT


def test_pss_parameters_round_trip():
    p = PssParameters("sha256", 32)
    parsed = PssParameters.parse(aalgos.SignedDigestAlgorithm.load(
        p.algorithm_identifier().dump()), "sha256", 2048)
    assert parsed == p


# -- openssl cms -verify --------------------------------------------------------------------

def _openssl(tmp_path: Path, der: bytes, content: bytes | None) -> bool:
    (tmp_path / "x.p7s").write_bytes(der)
    (tmp_path / "root.pem").write_bytes(ROOT.public_bytes(serialization.Encoding.PEM))
    cmd = [str(OPENSSL), "cms", "-verify", "-binary", "-inform", "DER",
           "-in", str(tmp_path / "x.p7s"), "-CAfile", str(tmp_path / "root.pem"),
           "-purpose", "any", "-out", str(tmp_path / "out.bin")]
    if content is not None:
        (tmp_path / "doc.bin").write_bytes(content)
        cmd += ["-content", str(tmp_path / "doc.bin")]
    ok = subprocess.run(cmd, capture_output=True, check=False).returncode == 0
    if ok:
        assert (tmp_path / "out.bin").read_bytes() == (content or CONTENT)
    return ok


@needs_openssl
@pytest.mark.parametrize("salt", [32, MAX_SALT])
def test_software_pss_signer_detached_and_attached_accepted_by_openssl(tmp_path, salt):
    assert _openssl(tmp_path, _build_pss(SoftwarePssCardSigner(KEY, salt)), CONTENT)
    assert _openssl(tmp_path, _build_pss(SoftwarePssCardSigner(KEY, salt), attached=True),
                    None)


@needs_openssl
def test_software_pss_signer_openssl_rejects_one_byte_tamper(tmp_path):
    """The acceptance above is not vacuous."""
    flipped = bytearray(CONTENT)
    flipped[5] ^= 0x01
    assert not _openssl(tmp_path, _build_pss(), bytes(flipped))
    att = bytearray(_build_pss(attached=True))
    att[att.index(CONTENT) + 5] ^= 0x01
    assert not _openssl(tmp_path, bytes(att), None)
    with pytest.raises(SignatureInvalidError):
        verify_cms(bytes(att))
    # the signature itself: one byte of it
    der = bytearray(_build_pss())
    sig = acms.ContentInfo.load(bytes(der))["content"]["signer_infos"][0]["signature"].native
    i = bytes(der).index(sig)
    der[i + 100] ^= 0x01
    assert not _openssl(tmp_path, bytes(der), CONTENT)
    with pytest.raises(SignatureInvalidError):
        verify_cms(bytes(der), detached_content=CONTENT)
