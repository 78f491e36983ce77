"""The differential corpus generator (``jukicard.testing.x509corpus``): deterministic, each
case differs from its base chain, and the encoder writes exactly the defect it is asked for
(checked by parsing the bytes back with asn1crypto, not with the encoder's own code)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from jukicard.testing.x509corpus import CASES, PEERS, Case, build_corpus, write_corpus
from jukicard.testing.x509corpus.encode import OID

ROOT = Path(__file__).resolve().parents[2]
KEY_DIR = ROOT / "vectors" / "x509corpus" / "keys"


@pytest.fixture(scope="module")
def corpus() -> dict[str, Case]:
    return {c.id: c for c in build_corpus(KEY_DIR)}


def _tbs(der: bytes) -> asn1_x509.TbsCertificate:
    return asn1_x509.Certificate.load(der)["tbs_certificate"]


def _ext_ids(der: bytes) -> list[str]:
    exts = _tbs(der)["extensions"]
    return [e["extn_id"].dotted for e in exts] if exts.native is not None else []


def _base_of(case: Case) -> str:
    if case.crl is not None:
        return "valid-crl"
    return "valid-3" if len(case.certs) == 3 else "valid-2"


def test_corpus_is_deterministic(corpus: dict[str, Case]) -> None:
    again = build_corpus(KEY_DIR)
    assert [(c.id, c.certs, c.crl) for c in again] == \
        [(c.id, c.certs, c.crl) for c in corpus.values()]


def test_every_case_changes_its_base_chain(corpus: dict[str, Case]) -> None:
    def key(c: Case) -> tuple[object, ...]:
        return (c.certs, c.crl, c.others, c.at)

    same = [c.id for c in corpus.values()
            if c.id != _base_of(c) and key(c) == key(corpus[_base_of(c)])]
    assert same == []


def test_case_table_is_consistent() -> None:
    assert len({d.id for d in CASES}) == len(CASES)
    assert all(p in PEERS for d in CASES for p in d.notes)
    assert all(d.reasons == () or not d.valid for d in CASES)
    assert {d.shape for d in CASES} == {2, 3}


def test_base_chain_is_as_documented(corpus: dict[str, Case]) -> None:
    root, inter, leaf = (_tbs(d) for d in corpus["valid-3"].certs)
    assert [t["version"].native for t in (root, inter, leaf)] == ["v3"] * 3
    assert root["issuer"] == root["subject"] and leaf["issuer"] == inter["subject"]
    assert OID.AKI not in _ext_ids(corpus["valid-3"].anchor)
    assert {OID.AKI, OID.SKI, OID.KU} <= set(_ext_ids(corpus["valid-3"].target))
    bc = next(e for e in inter["extensions"] if e["extn_id"].dotted == OID.BC)
    assert bc["critical"].native is True and bc["extn_value"].parsed["ca"].native is True


def test_encoder_writes_the_requested_defects(corpus: dict[str, Case]) -> None:
    v1 = _tbs(corpus["v1-with-extensions-leaf"].target)
    assert v1.contents[:1] == b"\x02"      # serial first: version omitted (the DER default)
    assert _tbs(corpus["valid-3"].target).contents[:1] == b"\xa0"
    assert _ext_ids(corpus["v1-with-extensions-leaf"].target)
    assert _tbs(corpus["serial-negative-leaf"].target)["serial_number"].native < 0
    assert _ext_ids(corpus["duplicate-ext-leaf"].target).count(OID.SKI) == 2
    mismatch = asn1_x509.Certificate.load(corpus["sigalg-mismatch-leaf"].target)
    assert mismatch["tbs_certificate"]["signature"].dump() != \
        mismatch["signature_algorithm"].dump()
    params = asn1_x509.Certificate.load(corpus["sigalg-params-mismatch-leaf"].target)
    assert params["tbs_certificate"]["signature"]["algorithm"].dotted == \
        params["signature_algorithm"]["algorithm"].dotted
    assert params["tbs_certificate"]["signature"].dump() != \
        params["signature_algorithm"].dump()
    gt = _tbs(corpus["leaf-generalizedtime-before-2050"].target)["validity"]["not_before"]
    assert gt.name == "general_time"
    assert _tbs(corpus["subject-empty-intermediate"].certs[1])["subject"].native == {}


def test_crl_defects(corpus: dict[str, Case]) -> None:
    def ids(case_id: str) -> list[str]:
        crl = corpus[case_id].crl
        assert crl is not None
        exts = asn1_crl.CertificateList.load(crl)["tbs_cert_list"]["crl_extensions"]
        return [e["extn_id"].dotted for e in exts]

    assert OID.CRL_NUMBER in ids("valid-crl") and OID.AKI in ids("valid-crl")
    assert OID.CRL_NUMBER not in ids("crl-number-missing")
    assert OID.AKI not in ids("crl-aki-missing")
    assert ids("crl-duplicate-ext").count(OID.CRL_NUMBER) == 2


def test_separate_crl_signer(corpus: dict[str, Case]) -> None:
    case = corpus["valid-crl-separate-signer"]
    assert case.crl is not None and len(case.others) == 1 and case.untrusted == case.others
    signer = _tbs(case.others[0])
    assert signer["subject"] == signer["issuer"] == _tbs(case.anchor)["subject"]
    assert signer["subject_public_key_info"] != _tbs(case.anchor)["subject_public_key_info"]
    aki = next(e for e in asn1_crl.CertificateList.load(case.crl)["tbs_cert_list"][
        "crl_extensions"] if e["extn_id"].dotted == OID.AKI)
    ski = next(e for e in signer["extensions"] if e["extn_id"].dotted == OID.SKI)
    assert aki["extn_value"].parsed["key_identifier"].native == ski["extn_value"].parsed.native
    assert OID.AKI not in _ext_ids(corpus["crl-signer-aki-missing"].others[0])


def test_write_corpus_layout(corpus: dict[str, Case], tmp_path: Path) -> None:
    cases = [corpus["valid-3"], corpus["valid-crl"]]
    files = write_corpus(cases, tmp_path)
    assert files["valid-3"].untrusted is not None and files["valid-3"].crl is None
    assert files["valid-crl"].untrusted is None and files["valid-crl"].crl is not None
    assert files["valid-3"].target.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in manifest["cases"]] == ["valid-3", "valid-crl"]
    assert manifest["cases"][0]["at"] == "2026-06-01T00:00:00+00:00"


@pytest.mark.parametrize("conformance", ["strict", "lenient"])
def test_signature_algorithm_mismatch_is_named_under_either_conformance(
        corpus: dict[str, Case], conformance: str) -> None:
    """§4.1.1.2: outer and TBS algorithm fields that differ are reported as
    ``signature-algorithm-mismatch`` by the §6.1.3 signature step too, so ``--lenient``
    (which skips the §4 profile) still names the defect instead of a bad signature."""
    from jukicard.pki import Validator, load_certificate
    from jukicard.pki.policy import Conformance, RevocationRule, ValidationPolicy
    from jukicard.pki.reasons import Reason

    case = corpus["sigalg-mismatch-leaf"]
    policy = ValidationPolicy((load_certificate(case.anchor),),
                              revocation=RevocationRule.NONE,
                              conformance=Conformance(conformance))
    result = Validator(policy, intermediates=list(case.untrusted)).validate(case.target,
                                                                            at=case.at)
    assert not result.valid
    assert result.reason == Reason.SIGNATURE_ALGORITHM_MISMATCH
