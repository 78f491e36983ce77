"""Unmodified OpenSC tools against the emulated card (pcscd + vpcd + bridge).

* ``pkcs15-tool --list-certificates`` with the jpki driver forced (``OPENSC_DRIVER=jpki``) and
  with OpenSC's default configuration (its driver probing must end at ``jpki``);
* ``pkcs11-tool --login --sign --mechanism SHA256-RSA-PKCS --id 01`` through
  ``opensc-pkcs11.so``, and the signature checked against the auth certificate.

No OpenSC configuration file is touched; the test card's PIN comes from its profile.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

pytestmark = [pytest.mark.integration, pytest.mark.opensc]

PKCS11_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
AUTH_TOKEN_LABEL = "JPKI (User Authentication PIN)"
#: OpenSC's JPKI emulation (pkcs15-jpki.c): ID → label, file.
JPKI_CERTS = {
    "01": ("User Authentication Certificate", "000a"),
    "02": ("Digital Signature Certificate", "0001"),
    "03": ("User Authentication Certificate CA", "000b"),
    "04": ("Digital Signature Certificate CA", "0002"),
}
TIMEOUT = 60


@pytest.fixture(scope="module", autouse=True)
def _opensc_installed(opensc_tools: None) -> None:
    """pkcs15-tool, pkcs11-tool and opensc-pkcs11.so are there (skip / fail in CI)."""


def opensc_env(force_jpki: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSC_")}
    if force_jpki:
        env["OPENSC_DRIVER"] = "jpki"
    return env


def run(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, (
        f"{' '.join(cmd[:3])} ... exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )
    return proc.stdout


def parse_certificates(listing: str) -> dict[str, dict[str, str]]:
    """``pkcs15-tool --list-certificates`` output → ``{ID: {"label":…, "path":…, …}}``."""
    certs: dict[str, dict[str, str]] = {}
    for block in re.split(r"\n(?=X\.509 Certificate \[)", listing.strip()):
        m = re.match(r"X\.509 Certificate \[(.*)\]", block)
        if not m:
            continue
        fields = dict(re.findall(r"^\s+([A-Za-z ]+?)\s*:\s*(.*)$", block, flags=re.M))
        fields["label"] = m.group(1)
        certs[fields.get("ID", "?")] = fields
    return certs


def der_integer(value: int) -> str:
    """DER INTEGER encoding of a positive int, as pkcs15-tool prints ``Encoded serial``."""
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return f"02 {len(body):02X} {body.hex().upper()}"


@pytest.mark.parametrize("force_jpki", [True, False], ids=["OPENSC_DRIVER=jpki", "default-config"])
def test_pkcs15_lists_the_certificates(card: Any, auth_cert_der: bytes, force_jpki: bool) -> None:
    env = opensc_env(force_jpki)
    reader = ["--reader", str(card.slot)]
    listing = run(["pkcs15-tool", *reader, "--list-certificates"], env)
    certs = parse_certificates(listing)
    assert set(certs) == set(JPKI_CERTS), listing
    for cid, (label, path) in JPKI_CERTS.items():
        assert certs[cid]["label"] == label
        assert certs[cid]["Path"].lower() == path
    auth = x509.load_der_x509_certificate(auth_cert_der)
    assert certs["01"]["Encoded serial"] == der_integer(auth.serial_number)

    # The certificate OpenSC reads is the card's auth certificate (same subject, same bytes).
    pem = run(["pkcs15-tool", *reader, "--read-certificate", "01"], env)
    read = x509.load_pem_x509_certificate(pem.encode("ascii"))
    assert read.subject == auth.subject
    assert read.subject.rfc4514_string() in {auth.subject.rfc4514_string()}
    assert read == auth


def pkcs11_slot_index(reader: str, env: dict[str, str]) -> int:
    """Index (as ``--slot-index`` counts) of the auth-PIN token on *reader*."""
    listing = run(["pkcs11-tool", "--module", PKCS11_MODULE, "--list-slots"], env)
    slots = re.split(r"\n(?=Slot \d+ )", listing.split("Available slots:", 1)[-1].strip())
    for index, block in enumerate(slots):
        head = block.splitlines()[0]
        if head.endswith(reader) and f"token label        : {AUTH_TOKEN_LABEL}" in block:
            return index
    raise AssertionError(f"no {AUTH_TOKEN_LABEL!r} token on {reader}:\n{listing}")


@pytest.fixture(scope="module")
def auth_signature(
    bridge: Any, auth_pin: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[bytes, bytes]:
    """``(data, signature)`` made by pkcs11-tool with the card's auth key after login."""
    card = bridge
    if card.removed:
        card.insert()
    env = opensc_env(force_jpki=True)
    work = tmp_path_factory.mktemp("pkcs11")
    data = b"jukicard integration test: sign me with the JPKI auth key\n"
    (work / "data").write_bytes(data)
    index = pkcs11_slot_index(card.reader, env)
    if card.slot == 0:
        assert index == 0  # the README's `--slot-index 0` form
    run(
        [
            "pkcs11-tool", "--module", PKCS11_MODULE, "--slot-index", str(index),
            "--login", "--pin", auth_pin,
            "--sign", "--mechanism", "SHA256-RSA-PKCS", "--id", "01",
            "-i", str(work / "data"), "-o", str(work / "sig"),
        ],
        env,
    )
    return data, (work / "sig").read_bytes()


def _auth_public_key(auth_cert_der: bytes) -> rsa.RSAPublicKey:
    key = x509.load_der_x509_certificate(auth_cert_der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def test_pkcs11_sign_with_auth_key_verifies(
    auth_signature: tuple[bytes, bytes], auth_cert_der: bytes
) -> None:
    data, signature = auth_signature
    key = _auth_public_key(auth_cert_der)
    assert len(signature) == key.key_size // 8
    key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


def test_pkcs11_signature_does_not_verify_other_data(
    auth_signature: tuple[bytes, bytes], auth_cert_der: bytes
) -> None:
    data, signature = auth_signature
    key = _auth_public_key(auth_cert_der)
    with pytest.raises(InvalidSignature):
        key.verify(signature, data + b"x", padding.PKCS1v15(), hashes.SHA256())
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    with pytest.raises(InvalidSignature):
        key.verify(tampered, data, padding.PKCS1v15(), hashes.SHA256())
