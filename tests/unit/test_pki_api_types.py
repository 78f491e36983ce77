"""Wrong argument types to the public pki operations are typed usage errors, never a bare
``TypeError`` (issue 9 verification review)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import pytest

from jukicard.errors import UsageError
from jukicard.pki import ValidationPolicy, Validator, load_certificate
from jukicard.pki.cms import SignedData, looks_like_cms

PKI = Path(__file__).resolve().parents[2] / "vectors" / "pki"
AT = _dt.datetime(2026, 6, 1, tzinfo=_dt.UTC)


@pytest.mark.parametrize("bad", ["-----BEGIN CERTIFICATE-----", None, 42, ["x"]])
def test_validate_refuses_a_non_certificate_argument(bad: Any) -> None:
    root = load_certificate((PKI / "ca" / "sign-2023.cer").read_bytes())
    validator = Validator(ValidationPolicy((root,)))
    with pytest.raises(UsageError, match="Certificate or DER/PEM bytes"):
        validator.validate(bad, AT)
    with pytest.raises(UsageError):
        validator.validate_many([(PKI / "ee" / "r1-sign.cer").read_bytes(), bad], AT)


@pytest.mark.parametrize("bad", ["abc", None, 7])
def test_cms_entry_points_refuse_a_non_bytes_argument(bad: Any) -> None:
    with pytest.raises(UsageError, match="must be bytes"):
        SignedData.parse(bad)
    with pytest.raises(UsageError, match="must be bytes"):
        looks_like_cms(bad)
