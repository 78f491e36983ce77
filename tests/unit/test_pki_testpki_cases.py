"""The test PKI's own validation cases (``vectors/pki/manifest.json`` → ``cases``), run
through the validator under the production JPKI policy.

Each case names a leaf, an anchor, the CRLs at hand, the validation time and the expected
outcome with its error class; the generator writes them next to the files they use, so a
regenerated PKI brings its expectations with it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from jukicard import errors
from jukicard.pki.certs import load_certificate
from jukicard.pki.policy import ValidationPolicy
from jukicard.pki.revocation import CrlRevocationSource
from jukicard.pki.validate import Validator

PKI = Path(__file__).resolve().parents[2] / "vectors" / "pki"
CASES = json.loads((PKI / "manifest.json").read_text("utf-8"))["cases"]


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict) -> None:
    anchor = load_certificate((PKI / case["anchor"]).read_bytes())
    intermediates = [load_certificate((PKI / p).read_bytes())
                     for p in case.get("intermediates") or []]
    crls = [(PKI / p).read_bytes() for p in case["crls"]]
    # the test PKI's roots are test anchors: the production preset needs them allowed
    validator = Validator(ValidationPolicy.jpki([anchor], allow_test_anchors=True),
                          intermediates=intermediates,
                          revocation=CrlRevocationSource(crls))
    result = validator.validate((PKI / case["leaf"]).read_bytes(), _at(case["at"]))
    if case["expected"] == "valid":
        assert result.valid, f"{case['reason']}: got {result.reason}: {result.message}"
        return
    assert not result.valid, case["reason"]
    expected_error = getattr(errors, case["error"])
    with pytest.raises(expected_error):
        result.raise_for_status()
