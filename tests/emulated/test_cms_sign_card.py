"""CMS signing with the emulated card (issue 13): ``services.cmssign.sign_cms`` and
``jukicard sign --cms``, checked by openssl and by ``jukicard signature verify``.

The emulated card ``mynumber-01`` stands in for a real card; its CA certificates are the
test roots ``vectors/pki/ca/{sign,auth}-2023.cer``.  The autouse PIN ledger asserts one
VERIFY with data per signing, with the PIN the test gave.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from emulated_support import PINS, Emulated, PinLedger
from test_cli_card import Cli, cli  # noqa: F401 - the CLI fixture

from jukicard.errors import PinError, UsageError
from jukicard.services.cmssign import sign_cms
from jukicard.services.interaction import ScriptedInteraction

CA = Path(__file__).resolve().parents[2] / "vectors" / "pki" / "ca"
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl not installed")
DOC = b"application form\n" * 50


def _openssl_ok(tmp_path: Path, cms: bytes, root: str, content: bytes | None) -> bool:
    p7s = tmp_path / "x.p7s"
    p7s.write_bytes(cms)
    ca = tmp_path / "root.pem"
    ca.write_bytes(x509.load_der_x509_certificate((CA / root).read_bytes())
                   .public_bytes(Encoding.PEM))
    cmd = [str(OPENSSL), "cms", "-verify", "-binary", "-inform", "DER", "-in", str(p7s),
           "-CAfile", str(ca), "-purpose", "any", "-out", str(tmp_path / "out.bin")]
    if content is not None:
        (tmp_path / "doc.bin").write_bytes(content)
        cmd += ["-content", str(tmp_path / "doc.bin")]
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize("attached", [False, True])
def test_sign_cms_document_with_sign_key(mynumber: Emulated, pins: PinLedger,
                                         attached: bool, tmp_path: Path) -> None:
    it = ScriptedInteraction([pins.submit(PINS["sign"])])
    res = sign_cms(mynumber.transport, it, DOC, attached=attached, hash_name="sha384")
    assert len(it.requests) == 1 and mynumber.card.stats.signatures == 1
    assert res.key == "sign" and res.attached is attached and res.hash_alg == "sha384"
    assert "cms" not in repr(res) and res.signer_subject not in repr(res)
    if OPENSSL is not None:
        assert _openssl_ok(tmp_path, res.cms, "sign-2023.cer", None if attached else DOC)
        flipped = bytearray(DOC)
        flipped[0] ^= 1
        if not attached:  # the acceptance is not vacuous
            assert not _openssl_ok(tmp_path, res.cms, "sign-2023.cer", bytes(flipped))
            assert not _openssl_ok(tmp_path, res.cms, "auth-2023.cer", DOC)


@needs_openssl
def test_sign_cms_challenge_with_auth_key(mynumber: Emulated, pins: PinLedger,
                                          tmp_path: Path) -> None:
    nonce = bytes(range(32))
    res = sign_cms(mynumber.transport, ScriptedInteraction([pins.submit(PINS["auth"])]),
                   nonce, key="auth")
    assert res.key == "auth" and mynumber.card.stats.signatures == 1
    assert _openssl_ok(tmp_path, res.cms, "auth-2023.cer", nonce)


def test_sign_cms_wrong_pin_is_pin_error_and_no_signature(mynumber: Emulated,
                                                          pins: PinLedger) -> None:
    with pytest.raises(PinError):
        sign_cms(mynumber.transport, ScriptedInteraction([pins.submit("WRONG1")]), DOC)
    assert mynumber.card.stats.signatures == 0


def test_sign_cms_usage_errors_cost_no_pin(mynumber: Emulated) -> None:
    it = ScriptedInteraction(["ABC123"])
    for kwargs in ({"key": "nope"}, {"hash_name": "md5"}, {"hash_name": "sha1"}):
        with pytest.raises(UsageError):
            sign_cms(mynumber.transport, it, DOC, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        sign_cms(mynumber.transport, it, "text")  # type: ignore[arg-type]
    assert it.requests == [] and mynumber.card.stats.verify_with_data == 0


# --------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("attached", [False, True])
def test_cli_sign_cms_file_then_signature_verify(cli: Cli, pins: PinLedger,  # noqa: F811
                                                  tmp_path: Path, attached: bool) -> None:
    doc = tmp_path / "form.txt"
    doc.write_bytes(DOC)
    p7s = tmp_path / "form.p7s"
    argv = ["sign", str(doc), "--cms", "-o", str(p7s), "--emulated", "--pin-stdin", "--json"]
    res = cli.run(*argv + (["--attached"] if attached else []),
                  stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    summary = json.loads(res.out)
    assert summary["key"] == "sign" and summary["hash"] == "sha256"
    assert summary["attached"] is attached and summary["size"] == p7s.stat().st_size
    assert summary["signer"]["certificate_sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["form.p7s", "form.txt"]
    ver = cli.run("signature", "verify", str(doc), str(p7s), "--json")
    assert ver.rc == 0, ver.out + ver.err
    if OPENSSL is not None:
        (tmp_path / "ossl").mkdir()
        assert _openssl_ok(tmp_path / "ossl", p7s.read_bytes(), "sign-2023.cer",
                           None if attached else DOC)


def test_cli_sign_cms_challenge_auth_key(cli: Cli, pins: PinLedger,  # noqa: F811
                                         tmp_path: Path) -> None:
    out = tmp_path / "login.p7s"
    res = cli.run("sign", "--challenge", "00112233445566778899aabbccddeeff", "--key", "auth",
                  "--cms", "-o", str(out), "--emulated", "--pin-stdin",
                  stdin=pins.submit(PINS["auth"]) + "\n")
    assert res.rc == 0, res.err
    nonce = tmp_path / "nonce.bin"
    nonce.write_bytes(bytes.fromhex("00112233445566778899aabbccddeeff"))
    ver = cli.run("signature", "verify", str(nonce), str(out))
    assert ver.rc == 0, ver.out + ver.err
    if OPENSSL is not None:
        assert _openssl_ok(tmp_path, out.read_bytes(), "auth-2023.cer", nonce.read_bytes())


def test_cli_sign_cms_wrong_pin_leaves_no_file(cli: Cli, pins: PinLedger,  # noqa: F811
                                               tmp_path: Path) -> None:
    doc = tmp_path / "form.txt"
    doc.write_bytes(DOC)
    res = cli.run("sign", str(doc), "--cms", "-o", str(tmp_path / "form.p7s"), "--emulated",
                  "--pin-stdin", stdin=pins.submit("WRONG1") + "\n")
    assert res.rc != 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["form.txt"]  # no temp file either


def test_cli_cms_options_need_cms(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    doc = tmp_path / "form.txt"
    doc.write_bytes(DOC)
    assert cli.run("sign", str(doc), "--attached", "--emulated").rc == 2
    assert cli.run("sign", "--challenge", "00", "--emulated").rc == 2
    assert cli.run("sign", "--digest", "00" * 32, "--cms", "--emulated").rc == 2


@pytest.mark.parametrize(("key", "pin", "cert_ef"), [("sign", "sign", "0001"),
                                                      ("auth", "auth", "000A")])
def test_sign_cms_reads_the_key_certificate_once(mynumber: Emulated, pins: PinLedger,
                                                 key: str, pin: str, cert_ef: str) -> None:
    """The certificate put in the CMS is the one the signature is checked against: it is
    read from the card once.  Before, the session read it a second time to check the
    signature (one more SELECT + READ of the EF per signing)."""
    sign_cms(mynumber.transport, ScriptedInteraction([pins.submit(PINS[pin])]), DOC, key=key)
    selects = [c for c in mynumber.sent if c[:4] == bytes.fromhex("00A4020C")
               and c[5:7] == bytes.fromhex(cert_ef)]
    assert len(selects) == 1


def test_sign_with_a_given_certificate_checks_the_signature_against_it(
        mynumber: Emulated, pins: PinLedger) -> None:
    """``sign_with_certificate(certificate=…)``: a certificate of another key (a card
    swapped after its certificate was read) makes the signature fail its check; a value
    that is not bytes is refused before anything is sent."""
    from jukicard.apdu.apps.jpki import JpkiCert, JpkiKey
    from jukicard.card.jpki import JpkiSession
    from jukicard.errors import DataIntegrityError

    jpki = JpkiSession(mynumber.transport)
    auth_cert = jpki.read_certificate(JpkiCert.AUTH)
    sent = len(mynumber.sent)
    with pytest.raises(UsageError):
        jpki.sign_with_certificate(JpkiKey.AUTH, None, digest=bytes(32),
                                   certificate="not bytes")  # type: ignore[arg-type]
    assert len(mynumber.sent) == sent
    other = jpki.read_certificate(JpkiCert.SIGN_CA)
    with pytest.raises(DataIntegrityError):
        jpki.sign_with_certificate(JpkiKey.AUTH, pins.submit(PINS["auth"]),
                                   digest=bytes(32), certificate=other)
    signature, der = jpki.sign_with_certificate(JpkiKey.AUTH, None, digest=bytes(32),
                                                certificate=auth_cert)
    assert der == auth_cert and len(signature) == 256


# --------------------------------------------------------------------------- PSS (issue 13)
@pytest.mark.parametrize("attached", [False, True])
def test_sign_cms_pss_uses_card_p1_04_and_openssl_accepts(mynumber: Emulated, pins: PinLedger,
                                                         attached: bool,
                                                         tmp_path: Path) -> None:
    from jukicard.pki.cms import SignedData

    it = ScriptedInteraction([pins.submit(PINS["sign"])])
    res = sign_cms(mynumber.transport, it, DOC, attached=attached, scheme="pss")
    assert res.scheme == "pss" and mynumber.card.stats.signatures == 1
    signs = [c for c in mynumber.sent if c[:2] == bytes.fromhex("802A")]
    assert [c[2] for c in signs] == [0x04]  # PSS_DIGEST, once
    assert len(signs[0]) == 5 + 32 + 1  # the 32-byte SHA-256 hash of the signed attributes
    sd = SignedData.parse(res.cms)
    (s,) = sd.verify(detached_content=None if attached else DOC).signers
    assert (s.scheme, s.salt_length, s.cades_bes) == ("pss", 32, True)  # the emulator's salt
    if OPENSSL is not None:
        assert _openssl_ok(tmp_path, res.cms, "sign-2023.cer", None if attached else DOC)
        if not attached:
            flipped = bytearray(DOC)
            flipped[7] ^= 1
            assert not _openssl_ok(tmp_path, res.cms, "sign-2023.cer", bytes(flipped))


def test_sign_cms_pss_with_another_hash_is_usage_error_before_anything(
        mynumber: Emulated) -> None:
    it = ScriptedInteraction(["ABC123"])
    sent = len(mynumber.sent)
    for kwargs in ({"scheme": "pss", "hash_name": "sha384"}, {"scheme": "PSS"},
                   {"scheme": None}):
        with pytest.raises(UsageError):
            sign_cms(mynumber.transport, it, DOC, **kwargs)  # type: ignore[arg-type]
    assert it.requests == [] and len(mynumber.sent) == sent


def test_cli_sign_cms_pss_attached_then_verify_alone(cli: Cli, pins: PinLedger,  # noqa: F811
                                                     tmp_path: Path) -> None:
    doc = tmp_path / "form.txt"
    doc.write_bytes(DOC)
    p7s = tmp_path / "form.p7s"
    res = cli.run("sign", str(doc), "--cms", "--scheme", "pss", "--attached", "-o", str(p7s),
                  "--emulated", "--pin-stdin", "--json", stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    assert json.loads(res.out)["scheme"] == "pss"
    ver = cli.run("signature", "verify", str(p7s), "--json")
    assert ver.rc == 0, ver.out + ver.err
    out = json.loads(ver.out)
    assert out["format"] == "cms" and out["valid"] is True
    (sig,) = out["signatures"]
    assert sig["scheme"] == "pss" and sig["cades_bes"] is True and sig["valid"] is True
    assert sig["hash"] == "sha256" and sig["path"] is None and sig["index"] == 1
    # FILE SIG still works for the attached CMS
    assert cli.run("signature", "verify", str(doc), str(p7s)).rc == 0


def test_cli_pss_usage_errors_cost_nothing(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    doc = tmp_path / "form.txt"
    doc.write_bytes(DOC)
    res = cli.run("sign", str(doc), "--cms", "--scheme", "pss", "--hash", "sha384",
                  "-o", str(tmp_path / "x.p7s"), "--emulated", "--pin-stdin", stdin="NOPIN\n")
    assert res.rc == 2 and "SHA-256" in res.err
    assert cli.run("sign", str(doc), "--scheme", "pss", "--emulated").rc == 2  # needs --cms
    assert sorted(p.name for p in tmp_path.iterdir()) == ["form.txt"]


def test_cli_verify_detached_cms_alone_is_usage_error(cli: Cli, pins: PinLedger,  # noqa: F811
                                                      tmp_path: Path) -> None:
    doc = tmp_path / "form.txt"
    doc.write_bytes(DOC)
    p7s = tmp_path / "form.p7s"
    assert cli.run("sign", str(doc), "--cms", "-o", str(p7s), "--emulated", "--pin-stdin",
                   stdin=pins.submit(PINS["sign"]) + "\n").rc == 0
    res = cli.run("signature", "verify", str(p7s))
    assert res.rc == 2 and "detached" in res.err and "FILE" in res.err
    res = cli.run("signature", "verify", str(doc))  # not a CMS at all
    assert res.rc == 2 and "SIG" in res.err
