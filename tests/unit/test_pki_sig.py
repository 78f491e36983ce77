"""PKCS#1 v1.5 signature verification and DigestInfo building (jukicard.pki.signatures)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from jukicard.errors import UsageError, ValidationError
from jukicard.pki import signatures as sigs
from jukicard.pki.signatures import (
    MalformedCertificateError,
    SignatureInvalidError,
    UnsupportedKeyError,
    WeakHashError,
    WeakKeyError,
    build_digest_info,
    parse_digest_info,
    recover_digest_info,
    verify_pkcs1v15,
)

# RFC 8017 §9.2 note 1: the fixed DER prefixes of DigestInfo, written out independently
# of asn1crypto so encoder and test cannot share a mistake.
PREFIX = {
    "sha1": "3021300906052b0e03021a05000414",
    "sha256": "3031300d060960864801650304020105000420",
    "sha384": "3041300d060960864801650304020205000430",
    "sha512": "3051300d060960864801650304020305000440",
}


@pytest.fixture(scope="module")
def key2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


@pytest.fixture(scope="module")
def key1024() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 1024)


def make_cert(key, *, key_usage: x509.KeyUsage | None = None) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sig test")])
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2034, 1, 1, tzinfo=dt.UTC))
    )
    if key_usage is not None:
        b = b.add_extension(key_usage, critical=True)
    return b.sign(key, hashes.SHA256())


def ku(**flags: bool) -> x509.KeyUsage:
    names = ["digital_signature", "content_commitment", "key_encipherment",
             "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign",
             "encipher_only", "decipher_only"]
    return x509.KeyUsage(**{n: flags.get(n, False) for n in names})


def card_sign(key: rsa.RSAPrivateKey, block: bytes) -> bytes:
    """What the JPKI card does: type-01 pad whatever block it is given and sign it.

    ``cryptography`` has no API to sign an arbitrary (non-digest) block with PKCS#1 v1.5,
    so this test-only card model does the textbook private operation itself.
    """
    k = key.key_size // 8
    padded = b"\x00\x01" + b"\xff" * (k - 3 - len(block)) + b"\x00" + block
    n = key.private_numbers().public_numbers.n
    d = key.private_numbers().d
    return pow(int.from_bytes(padded, "big"), d, n).to_bytes(k, "big")


# --------------------------------------------------------------------------- DigestInfo
@pytest.mark.parametrize("name", ["sha256", "sha384", "sha512"])
def test_build_digest_info_matches_rfc8017_prefix(name: str) -> None:
    digest = hashlib.new(name, b"abc").digest()
    assert build_digest_info(name, digest) == bytes.fromhex(PREFIX[name]) + digest


def test_build_digest_info_sha256_is_51_bytes() -> None:
    assert len(build_digest_info("SHA-256", b"\x01" * 32)) == 51


def test_build_digest_info_refuses_sha1_unless_allowed() -> None:
    d = hashlib.sha1(b"x").digest()
    with pytest.raises(WeakHashError) as ei:
        build_digest_info("sha1", d)
    assert ei.value.reason == "weak-hash"
    assert build_digest_info("sha1", d, allow_sha1=True) == bytes.fromhex(PREFIX["sha1"]) + d


@pytest.mark.parametrize("name,length", [("sha256", 31), ("sha256", 33), ("sha512", 32)])
def test_build_digest_info_wrong_length(name: str, length: int) -> None:
    with pytest.raises(UsageError):
        build_digest_info(name, b"\x00" * length)


def test_build_digest_info_unknown_hash() -> None:
    with pytest.raises(UsageError):
        build_digest_info("md5", b"\x00" * 16)


def test_parse_digest_info_round_trip() -> None:
    d = hashlib.sha384(b"q").digest()
    assert parse_digest_info(build_digest_info("sha384", d)) == ("sha384", d)


@pytest.mark.parametrize(
    "blob",
    [
        b"",
        b"\x30",
        bytes.fromhex(PREFIX["sha256"]) + b"\x00" * 31,  # short digest, bad length byte
        bytes.fromhex(PREFIX["sha256"]) + b"\x00" * 32 + b"\x00",  # trailing byte
        # sha256 without the NULL parameters: valid BER/DER but not the canonical form
        bytes.fromhex("302f300b0609608648016503040201" "0420") + b"\x00" * 32,
        b"\x04\x20" + b"\x00" * 32,
    ],
)
def test_parse_digest_info_rejects_garbage(blob: bytes) -> None:
    with pytest.raises(SignatureInvalidError):
        parse_digest_info(blob)


# --------------------------------------------------------------------------- verification
def test_message_mode(key2048) -> None:
    msg = b"jukicard message"
    sig = key2048.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    res = verify_pkcs1v15(sig, public_key=key2048.public_key(), message=msg)
    assert (res.mode, res.hash_alg, res.key_size) == ("message", "sha256", 2048)
    assert res.weak_hash is False
    with pytest.raises(SignatureInvalidError) as ei:
        verify_pkcs1v15(sig, public_key=key2048.public_key(), message=msg + b"!")
    assert ei.value.reason == "bad-signature"
    assert isinstance(ei.value, ValidationError)


def test_digest_mode_matches_card_signature_over_digest_info(key2048) -> None:
    msg = b"card signs a DigestInfo"
    digest = hashlib.sha256(msg).digest()
    sig = card_sign(key2048, build_digest_info("sha256", digest))
    assert verify_pkcs1v15(sig, certificate=make_cert(key2048), digest=digest).mode == "digest"
    # the same card signature verifies in message mode too
    assert verify_pkcs1v15(sig, public_key=key2048.public_key(), message=msg).mode == "message"
    with pytest.raises(SignatureInvalidError):
        verify_pkcs1v15(sig, public_key=key2048.public_key(), digest=hashlib.sha256(b"x").digest())
    with pytest.raises(SignatureInvalidError):  # right digest, wrong hash claimed
        verify_pkcs1v15(sig, public_key=key2048.public_key(), digest=hashlib.sha384(msg).digest(),
                        hash_alg="sha384")


def test_digest_mode_wrong_length_is_usage_error(key2048) -> None:
    sig = key2048.sign(b"m", padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(UsageError):
        verify_pkcs1v15(sig, public_key=key2048.public_key(), digest=b"\x00" * 20)


def test_raw_mode_arbitrary_bytes(key2048) -> None:
    block = b"arbitrary bytes, not a DigestInfo"
    sig = card_sign(key2048, block)
    assert verify_pkcs1v15(sig, public_key=key2048.public_key(), raw=block).mode == "raw"
    assert recover_digest_info(sig, public_key=key2048.public_key()) == block
    with pytest.raises(SignatureInvalidError):
        verify_pkcs1v15(sig, public_key=key2048.public_key(), raw=block[:-1])


def test_raw_mode_rejects_other_key(key2048, key1024) -> None:
    other = rsa.generate_private_key(65537, 2048)
    sig = card_sign(other, b"abc")
    with pytest.raises(SignatureInvalidError):
        verify_pkcs1v15(sig, public_key=key2048.public_key(), raw=b"abc")


def test_prehashed_sha512(key2048) -> None:
    d = hashlib.sha512(b"z").digest()
    sig = key2048.sign(d, padding.PKCS1v15(), Prehashed(hashes.SHA512()))
    res = verify_pkcs1v15(sig, public_key=key2048.public_key(), digest=d, hash_alg="sha512")
    assert res.hash_alg == "sha512"


def test_sha1_only_when_allowed_and_flagged(key1024) -> None:
    msg = b"old juki data"
    sig = key1024.sign(msg, padding.PKCS1v15(), hashes.SHA1())
    with pytest.raises(WeakHashError):
        verify_pkcs1v15(sig, public_key=key1024.public_key(), message=msg, hash_alg="sha1")
    res = verify_pkcs1v15(sig, public_key=key1024.public_key(), message=msg, hash_alg="sha1",
                          allow_sha1=True, min_key_size=sigs.MIN_RSA_BITS_JUKI)
    assert res.weak_hash is True and res.key_size == 1024


def test_key_size_policy_is_the_callers(key1024) -> None:
    msg = b"m"
    sig = key1024.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    assert verify_pkcs1v15(sig, public_key=key1024.public_key(), message=msg,
                           min_key_size=sigs.MIN_RSA_BITS_JUKI).key_size == 1024
    with pytest.raises(WeakKeyError) as ei:
        verify_pkcs1v15(sig, public_key=key1024.public_key(), message=msg,
                        min_key_size=sigs.MIN_RSA_BITS_MYNUMBER)
    assert ei.value.reason == "weak-key"


@pytest.mark.parametrize("length", [0, 1, 255, 257])
def test_wrong_signature_length(key2048, length: int) -> None:
    with pytest.raises(SignatureInvalidError):
        verify_pkcs1v15(b"\x01" * length, public_key=key2048.public_key(), message=b"m")


def test_signature_value_above_modulus(key2048) -> None:
    with pytest.raises(SignatureInvalidError):
        verify_pkcs1v15(b"\xff" * 256, public_key=key2048.public_key(), raw=b"m")


def test_certificate_pem_der_and_key_usage(key2048) -> None:
    msg = b"m"
    sig = key2048.sign(msg, padding.PKCS1v15(), hashes.SHA256())
    cert = make_cert(key2048, key_usage=ku(digital_signature=True, content_commitment=True))
    for form in (cert, cert.public_bytes(serialization.Encoding.DER),
                 cert.public_bytes(serialization.Encoding.PEM)):
        assert verify_pkcs1v15(sig, certificate=form, message=msg).key_size == 2048
    enc_only = make_cert(key2048, key_usage=ku(key_encipherment=True))
    with pytest.raises(UnsupportedKeyError):
        verify_pkcs1v15(sig, certificate=enc_only, message=msg)
    assert verify_pkcs1v15(sig, certificate=enc_only, message=msg, check_key_usage=False)


def test_non_rsa_key_is_typed_error() -> None:
    k = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(UnsupportedKeyError):
        verify_pkcs1v15(b"\x00" * 64, certificate=make_cert(k), message=b"m")


@pytest.mark.parametrize("blob", [b"", b"\x30\x03\x02\x01", b"-----BEGIN CERTIFICATE-----\nAA\n"])
def test_malformed_certificate(blob: bytes) -> None:
    with pytest.raises(MalformedCertificateError) as ei:
        verify_pkcs1v15(b"\x00" * 256, certificate=blob, message=b"m")
    assert ei.value.reason == "malformed-certificate"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"message": b"a", "digest": b"\x00" * 32},
        {"message": b"a", "raw": b"a"},
    ],
)
def test_argument_combinations(key2048, kwargs) -> None:
    with pytest.raises(UsageError):
        verify_pkcs1v15(b"\x00" * 256, public_key=key2048.public_key(), **kwargs)


def test_key_and_cert_both_or_neither(key2048) -> None:
    with pytest.raises(UsageError):
        verify_pkcs1v15(b"\x00" * 256, message=b"m")
    with pytest.raises(UsageError):
        verify_pkcs1v15(b"\x00" * 256, message=b"m", public_key=key2048.public_key(),
                        certificate=make_cert(key2048))
