"""``signature verify``'s text output of per-signature results (services/sigresult.py): a
few lines per signature instead of one dictionary dump (issue 13)."""

from __future__ import annotations

from jukicard.cli.cert import format_text
from jukicard.services.sigresult import signature_json


def _report(**kw: object) -> dict[str, object]:
    sig = signature_json(index=1, valid=False, reason="pdf-modified-after-signing",
                         message="a later revision changes the page", hash_name="sha256",
                         scheme="pss", field="Signature1", revision=2,
                         coverage={"byte_range": [0, 10, 20, 5], "whole_file": False,
                                   "unsigned_bytes_after": 99, "modification": "other"},
                         timestamp={"time": "2026-12-06T00:00:00Z", "valid": True,
                                    "reason": "ok", "tsa": "CN=TSA\nforged: yes"},
                         **kw)  # type: ignore[arg-type]
    return {"valid": False, "reason": "x", "signatures": [sig]}


def test_each_signature_is_rendered_in_lines_with_its_verdict() -> None:
    text = format_text(_report())
    assert "#1 field Signature1, revision 2: INVALID (pdf-modified-after-signing): a later " \
           "revision changes the page" in text
    assert "(sha256, pss)" in text
    assert "99 bytes after it (other)" in text
    assert "{" not in text  # no dictionary dump


def test_a_value_cannot_start_a_line_of_its_own() -> None:
    text = format_text(_report())
    assert "\nforged: yes" not in text and "\\x0a" in text
