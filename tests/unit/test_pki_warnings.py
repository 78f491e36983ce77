"""Library calls pass on no ``CryptographyDeprecationWarning`` (issue 8, CLI defect 7).

``cryptography`` warns about inputs it still accepts: a certificate serial number that is
not positive (``vectors/malformed/cert-negative-serial.der``, NIST PKITS 4.4.15), NULL
parameters in a DSA/ECDSA signature algorithm (cryptography-vectors
``dsa_null_alg_params.pem``), UTF-8 in a VisibleString (``belgian-eid-invalid-visiblestring.pem``)
and, from cryptography 51 on, any use of DSA.  :mod:`jukicard.pki.backend` contains these warnings
around the one call that causes them; these tests record every warning (filter "always")
and require none.  The DSA deprecation is not in the cryptography this project pins
(<49): :func:`simulated_cryptography51_dsa` stands in for it, the way cryptography 51 does
it (a module ``__getattr__`` on ``dsa`` and a warning when a DSA key is loaded).
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms as acms
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID
from test_pki_malformed import VECTOR_FILES, _is_crl, needs_vectors
from test_pkits import CASES as PKITS_CASES
from test_pkits import case_id, run_case

from jukicard.errors import ValidationError
from jukicard.pki.certs import Certificate, load_certificate
from jukicard.pki.cms import SignedData
from jukicard.pki.crl import Crl
from jukicard.pki.errors import MalformedError
from jukicard.pki.policy import RevocationRule, ValidationPolicy
from jukicard.pki.revocation import CrlRevocationSource
from jukicard.pki.signatures import load_certificate as load_signer_certificate
from jukicard.pki.signatures import verify_pkcs1v15
from jukicard.pki.validate import Validator

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
MALFORMED = VECTORS / "malformed"
MANIFEST = json.loads((MALFORMED / "manifest.json").read_text("utf-8"))
AT = dt.datetime.fromisoformat(MANIFEST["validation_time"].replace("Z", "+00:00"))
NEGATIVE_SERIAL = MALFORMED / "cert-negative-serial.der"


@contextmanager
def no_warnings() -> Iterator[None]:
    """Record every warning raised in the block: there must be none."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []


def _ignore_failure(call: Callable[[], Any]) -> None:
    try:
        call()
    except (ValidationError, ValueError):
        pass


def _signed_cms_with_extra(extra_der: bytes) -> bytes:
    """A valid CMS signature whose certificates carry ``extra_der`` first (an unsigned field,
    so the signature still verifies; the signer look-up meets ``extra_der`` first)."""
    key = rsa.generate_private_key(65537, 2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "warnings test signer")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7)
            .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
            .not_valid_after(dt.datetime(2034, 1, 1, tzinfo=dt.UTC))
            .sign(key, hashes.SHA256()))
    der = (pkcs7.PKCS7SignatureBuilder().set_data(b"content").add_signer(cert, key, hashes.SHA256())
           .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))
    info = acms.ContentInfo.load(der)
    carried = list(info["content"]["certificates"])
    extra = acms.CertificateChoices(name="certificate", value=ax509.Certificate.load(extra_der))
    info["content"]["certificates"] = acms.CertificateSet([extra, *carried])  # met first
    return bytes(info.dump(force=True))


# --------------------------------------------------------------------------- negative serials
def test_negative_serial_certificate_to_cryptography() -> None:
    """Fails on the old code: ``Certificate.to_cryptography`` passed the warning on."""
    cert = Certificate.parse(NEGATIVE_SERIAL.read_bytes())
    assert cert.serial < 0
    with no_warnings():
        theirs = cert.to_cryptography()
    assert theirs.public_bytes(serialization.Encoding.DER) == cert.der


def test_negative_serial_through_signature_api() -> None:
    """Fails on the old code (the two warnings of the suite summary:
    ``test_certificate_through_signature_api[cert-negative-serial.der]``)."""
    raw = NEGATIVE_SERIAL.read_bytes()
    with no_warnings():
        theirs = load_signer_certificate(raw)
        _ignore_failure(lambda: verify_pkcs1v15(b"\x01" * 256, certificate=raw, message=b"m"))
    assert theirs.public_bytes(serialization.Encoding.DER) == raw


def test_negative_serial_carried_in_a_cms() -> None:
    """Fails on the old code: ``SignedData.parse`` loaded the carried certificates, and the
    signer look-up read their serial numbers, outside any containment."""
    raw = NEGATIVE_SERIAL.read_bytes()
    cms = _signed_cms_with_extra(raw)
    with no_warnings():
        signed = SignedData.parse(cms)
        content = signed.verify().content  # the signer is looked up by issuer and serial
    assert content == b"content"
    assert raw in [c.public_bytes(serialization.Encoding.DER) for c in signed.certificates]


@pytest.mark.parametrize("case", MANIFEST["cases"], ids=lambda c: c["file"])
def test_malformed_vector_raises_no_warning(case: dict[str, Any]) -> None:
    """Every hostile input through the parsers, the validator and the signature API
    (fails on the old code for ``cert-negative-serial.der``)."""
    raw = (MALFORMED / case["file"]).read_bytes()
    anchor = load_certificate(MALFORMED / MANIFEST["anchor"])
    policy = ValidationPolicy.permissive([anchor])
    with no_warnings():
        _through_the_library(case["kind"], raw, policy)


def _through_the_library(kind: str, raw: bytes, policy: ValidationPolicy) -> None:
    if kind == "crl":
        _ignore_failure(lambda: Crl.parse(raw))
        try:
            source = CrlRevocationSource([raw])
        except MalformedError:
            return
        Validator(policy, revocation=source).validate(
            (MALFORMED / MANIFEST["end_entity"]).read_bytes(), AT)
        return
    try:
        cert = Certificate.parse(raw)
    except MalformedError:
        cert = None
    if cert is not None:
        _ignore_failure(cert.to_cryptography)
    Validator(policy.replace(revocation=RevocationRule.NONE)).validate(raw, AT)
    _ignore_failure(lambda: load_signer_certificate(raw))
    _ignore_failure(lambda: verify_pkcs1v15(b"\x01" * 256, certificate=raw, message=b"m"))


@needs_vectors
@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.name)
def test_cryptography_vectors_raise_no_warning(path: Path) -> None:
    """The x509 files of cryptography-vectors (fails on the old code for
    ``belgian-eid-invalid-visiblestring.pem``: "UTF-8 characters in a VisibleString",
    raised when ``cryptography`` decodes the extensions)."""
    raw = path.read_bytes()
    anchor = load_certificate(MALFORMED / MANIFEST["anchor"])
    with no_warnings():
        _through_the_library("crl" if _is_crl(path, raw) else "certificate", raw,
                             ValidationPolicy.permissive([anchor]))


def test_tolerated_encoding_accepted_under_warnings_as_errors() -> None:
    """A caller running with warnings as errors gets the same answer: the old code turned
    cryptography's warning into MalformedCertificateError for a certificate it accepts."""
    path = next((p for p in VECTOR_FILES if p.name == "belgian-eid-invalid-visiblestring.pem"),
                None)
    if path is None:
        pytest.skip("cryptography-vectors not installed (test extra)")
    raw = path.read_bytes()
    ours = Certificate.parse(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        theirs = load_signer_certificate(raw)
        ours.to_cryptography()
    assert theirs.public_bytes(serialization.Encoding.DER) == ours.der


# --------------------------------------------------------------------------- NIST PKITS
def test_pkits_cases_and_their_certificates_raise_no_warning() -> None:
    """All 255 PKITS validations, and every PKITS certificate as the CLI shows it
    (``to_cryptography``): fails on the old code for the negative serial numbers."""
    certs = [Certificate.parse(p.read_bytes())
             for p in sorted((VECTORS / "pkits" / "certs").glob("*.crt"))]
    with no_warnings():
        for case in PKITS_CASES:
            run_case(case)
        for cert in certs:
            _ignore_failure(cert.to_cryptography)


@pytest.fixture
def simulated_cryptography51_dsa(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stand-in for cryptography 51's DSA deprecation (pyca/cryptography#15597): reading a
    public name of the ``dsa`` module warns, and so does loading a DSA key."""
    names = [n for n in dir(dsa) if n.startswith(("DSA", "generate_"))]
    real = {n: getattr(dsa, n) for n in names}
    for n in names:
        monkeypatch.delattr(dsa, n)

    def module_getattr(name: str) -> Any:
        if name in real:
            warnings.warn(f"dsa.{name}: DSA is deprecated (simulated cryptography 51)",
                          CryptographyDeprecationWarning, stacklevel=2)
            return real[name]
        raise AttributeError(name)

    monkeypatch.setattr(dsa, "__getattr__", module_getattr, raising=False)
    real_load = serialization.load_der_public_key

    def load_der_public_key(data: bytes, backend: Any = None) -> Any:
        key = real_load(data)
        if isinstance(key, real["DSAPublicKey"]):
            warnings.warn("loading a DSA key is deprecated (simulated cryptography 51)",
                          CryptographyDeprecationWarning, stacklevel=2)
        return key

    monkeypatch.setattr(serialization, "load_der_public_key", load_der_public_key)


def test_simulation_warns_where_cryptography51_would(
        simulated_cryptography51_dsa: None) -> None:
    """The stand-in is live: outside the library, DSA names and DSA keys warn."""
    with pytest.warns(CryptographyDeprecationWarning):
        dsa.DSAPublicNumbers  # noqa: B018
    dsa_case = next(c for c in PKITS_CASES if case_id(c).startswith("4.1.4-"))
    spki = Certificate.parse((VECTORS / "pkits" / dsa_case["ee_cert"]).read_bytes()).spki
    with pytest.warns(CryptographyDeprecationWarning):
        serialization.load_der_public_key(spki)


def test_pkits_quiet_under_simulated_cryptography51_dsa(
        simulated_cryptography51_dsa: None) -> None:
    """Every PKITS case (4.1.4–4.1.6 are DSA, 4.1.5 with inherited parameters) gives the
    same outcome and no warning.  Fails on the old code, which named ``dsa.DSAPublicKey``
    on every key load (RSA ones too) and loaded DSA keys outside any containment."""
    with no_warnings():
        outcomes = [run_case(case) for case in PKITS_CASES]
    assert [case_id(o.case) for o in outcomes if not o.passed] == []


def test_containment_is_local() -> None:
    """No filter is left behind: after a library call that met the warning, the caller's
    own CryptographyDeprecationWarning still reaches it."""
    before = list(warnings.filters)
    Certificate.parse(NEGATIVE_SERIAL.read_bytes()).to_cryptography()
    assert warnings.filters == before
    with pytest.warns(CryptographyDeprecationWarning):
        warnings.warn("the caller's own", CryptographyDeprecationWarning, stacklevel=1)
