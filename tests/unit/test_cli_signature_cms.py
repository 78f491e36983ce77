"""``jukicard signature verify`` on CMS (issue 13): FILE alone (attached CMS), the
``format`` and ``signatures`` keys, two SignerInfos one bad, a swapped signer certificate.
The CMS files are made by ``cms_forge`` (a SOFTWARE signer standing in for the card)."""

from __future__ import annotations

import cms_forge as f
from test_cli_signature import AT, PKI, run_json

ANCHOR = ["--anchor", PKI / "ca/sign-2023.cer", "--crl", PKI / "crl/sign-2023.crl",
          "--at", AT]


def test_attached_cms_alone_with_path(tmp_path) -> None:
    (tmp_path / "a.p7s").write_bytes(f.good(attached=True))
    rc, res = run_json("signature", "verify", tmp_path / "a.p7s", *ANCHOR)
    assert rc == 0 and res["valid"] is True and res["format"] == "cms", res
    assert res["signature"]["format"] == "cms" and res["certificate"]["valid"] is True
    (sig,) = res["signatures"]
    assert sig["valid"] and sig["reason"] == "ok" and sig["scheme"] == "pkcs1v15"
    assert sig["cades_bes"] is True and sig["hash"] == "sha256"
    assert sig["signing_time"] == "2026-06-01T09:30:00Z"
    assert sig["path"]["valid"] is True and sig["path"]["path_sha256"][-1] == \
        sig["signer"]["certificate_sha256"]


def test_detached_cms_alone_is_usage_error_naming_what_to_give(tmp_path, capsys) -> None:
    (tmp_path / "d.p7s").write_bytes(f.good())
    rc, _ = run_json("signature", "verify", tmp_path / "d.p7s")
    err = capsys.readouterr().err
    assert rc == 2 and "detached" in err and "signature verify FILE CMS" in err, err


def test_raw_signature_gets_format_and_one_signature(tmp_path) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    (tmp_path / "doc").write_bytes(f.CONTENT)
    (tmp_path / "sig").write_bytes(f.KEY.sign(f.CONTENT, padding.PKCS1v15(), hashes.SHA256()))
    rc, res = run_json("signature", "verify", tmp_path / "doc", tmp_path / "sig",
                       "--cert", PKI / "ee/r1-sign.cer")
    assert rc == 0 and res["format"] == "pkcs1v15"
    (sig,) = res["signatures"]
    assert sig["scheme"] == "pkcs1v15" and sig["hash"] == "sha256" and sig["path"] is None


def test_two_signers_one_bad_json_says_which(tmp_path) -> None:
    good = f.signer_info(f.raw_set(f.default_attrs()))
    bad = f.signer_info(f.raw_set(f.default_attrs()), corrupt=True)
    (tmp_path / "doc").write_bytes(f.CONTENT)
    (tmp_path / "two.p7s").write_bytes(f.signed_data([good, bad]))
    rc, res = run_json("signature", "verify", tmp_path / "doc", tmp_path / "two.p7s", *ANCHOR)
    assert rc == 5 and res["valid"] is False and res["reason"] == "bad-signature"
    assert res["message"].startswith("SignerInfo #2")
    assert [(s["index"], s["valid"], s["reason"]) for s in res["signatures"]] == [
        (1, True, "ok"), (2, False, "bad-signature")]


def test_swapped_signer_certificate_is_signer_certificate_mismatch(tmp_path) -> None:
    from test_pki_cms_strict import IMPOSTOR

    (tmp_path / "doc").write_bytes(f.CONTENT)
    (tmp_path / "x.p7s").write_bytes(f.signed_data(
        [f.signer_info(f.raw_set(f.default_attrs()))], certs=[IMPOSTOR, f.ROOT]))
    rc, res = run_json("signature", "verify", tmp_path / "doc", tmp_path / "x.p7s")
    assert rc == 5 and res["reason"] == "signer-certificate-mismatch", res
    assert res["signatures"][0]["reason"] == "signer-certificate-mismatch"


def test_two_signers_both_good_paths_per_signer(tmp_path) -> None:
    si = f.signer_info(f.raw_set(f.default_attrs()))
    (tmp_path / "doc").write_bytes(f.CONTENT)
    (tmp_path / "two.p7s").write_bytes(f.signed_data([si, si]))
    rc, res = run_json("signature", "verify", tmp_path / "doc", tmp_path / "two.p7s", *ANCHOR)
    assert rc == 0, res
    assert [s["path"]["valid"] for s in res["signatures"]] == [True, True]
    assert "certificates" not in res  # one distinct signer certificate, shown once
