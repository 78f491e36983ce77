"""One JSON shape for one signature, whatever carried it (a CMS SignerInfo, a PDF signature
field): what ``signature verify --json`` prints per signature in ``"signatures"``.

::

    {"index": 1, "valid": true, "reason": "ok", "message": "...",
     "signer": {"subject": "...", "certificate_sha256": "..."},
     "hash": "sha256", "scheme": "pkcs1v15" | "pss", "signing_time": "…Z" | null,
     "cades_bes": true, "timestamp": null | {...}, "path": null | {...result_to_json...},
     ...format-specific keys (a PDF's "field", "revision", "coverage")}

The signer's subject goes through the same rule as a path's leaf in ``cert verify``: a JPKI
sign certificate (署名用, whose subject names the holder) is described, not printed.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from typing import Any

from jukicard.errors import UsageError, ValidationError
from jukicard.services.verify import (
    ValidationSetup,
    VerifyOptions,
    _subject_text,
    build_validation,
    iso_time,
)

__all__ = ["TsaValidation", "min_key_bits", "refuse_ignored_path_options", "signature_json",
           "signer_json", "timestamp_json"]


def signer_json(certificate: Any) -> dict[str, Any]:
    """``{"subject", "certificate_sha256"}`` of a signer certificate (``cryptography`` or
    :class:`jukicard.pki.certs.Certificate`)."""
    from jukicard.pki.certs import Certificate

    cert = certificate if isinstance(certificate, Certificate) else \
        Certificate.from_cryptography(certificate)
    return {"subject": _subject_text(cert, True), "certificate_sha256": cert.fingerprint}


def signature_json(*, index: int, valid: bool, reason: str, message: str,
                   certificate: Any = None, hash_name: str | None = None,
                   scheme: str | None = None, signing_time: _dt.datetime | None = None,
                   cades_bes: bool | None = None, timestamp: dict[str, Any] | None = None,
                   path: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The result object of one signature (see the module docstring).

    :param index: 1-based position (SignerInfo order, or PDF signature order in the file).
    :param certificate: the signer certificate, ``None`` when none was found.
    :param path: ``result_to_json`` of the signer's path, ``None`` when not validated.
    :param extra: format-specific keys, added as given.
    """
    out: dict[str, Any] = {
        "index": index, "valid": bool(valid), "reason": reason, "message": message,
        "signer": None if certificate is None else signer_json(certificate),
        "hash": hash_name, "scheme": scheme, "signing_time": iso_time(signing_time),
        "cades_bes": cades_bes, "timestamp": timestamp, "path": path,
    }
    out.update(extra)
    return out


def refuse_ignored_path_options(options: VerifyOptions, whose: str) -> None:
    """Path-validation options without ``--anchor``/``--preset jpki`` would be silently
    ignored (the certificate is not validated then): refuse them.

    :param whose: the subject of the message (``"the signer's certificate is"``).
    :raises UsageError: such options were given.
    """
    ignored = options.path_options()
    if not options.validates_path and ignored:
        raise UsageError(f"{', '.join(ignored)}: {whose} not validated without --anchor or "
                         "--preset jpki (give the trust anchor, or leave "
                         f"{'this option' if len(ignored) == 1 else 'these options'} out)")


def min_key_bits(options: VerifyOptions) -> int | None:
    """The smallest RSA key a signature may use: ``--min-rsa-bits``, else 2048 under the
    JPKI profile (its keys are 2048-bit), else none."""
    if options.min_rsa_bits is not None:
        return options.min_rsa_bits
    return 2048 if options.jpki else None


class TsaValidation:
    """The TSA-path validator, built once and only when a time stamp needs it: the
    ``rfc5280`` preset over the command's own ``--anchor`` s, intermediates, CRLs and time
    (a TSA certificate is not a JPKI certificate: the JPKI profile and ``--usage`` do not
    apply to it).  With ``--preset jpki`` and the bundled J-LIS roots (they certify no
    TSA) there is none: the token's signature, imprint and the TSA's timeStamping usage are
    still checked, and its JSON says the path was not validated."""

    def __init__(self, options: VerifyOptions, pool: list[Any]) -> None:
        self.options = options
        self.pool = pool
        self._setup: ValidationSetup | None = None

    def setup(self) -> ValidationSetup | None:
        """The rfc5280 setup over the command's own anchors; ``None`` without ``--anchor``
        (the bundled J-LIS roots certify no TSA).

        :raises ValidationError: an anchor, intermediate or CRL file problem.
        """
        if not self.options.anchors:
            return None
        if self._setup is None:
            generic = dataclasses.replace(self.options, preset="rfc5280", jpki_profile=False,
                                          usage=None, allow_test_anchors=False,
                                          production_anchors=())
            self._setup = build_validation(generic, extra_intermediates=self.pool)
        return self._setup


def timestamp_json(timestamp: Any, error: ValidationError | None,
                   tsa: TsaValidation | None) -> dict[str, Any] | None:
    """The ``timestamp`` object of one signature (``None`` without a token): its check
    (:class:`jukicard.pki.tstoken.TimestampCheck`) or the error it raised, and with
    ``tsa`` the TSA certificate's path (see :class:`TsaValidation`).  An invalid time
    stamp (its path included) makes its signature invalid: the caller's rule."""
    from jukicard.pki.certs import Certificate
    from jukicard.pki.reasons import Reason

    if error is not None:
        return {"time": None, "valid": False, "reason": str(error.reason), "tsa": None,
                "hash": None, "path": None, "message": str(error)}
    ts = timestamp
    if ts is None:
        return None
    out: dict[str, Any] = {"time": iso_time(ts.time), "valid": True, "reason": "ok",
                           "tsa": signer_json(ts.tsa_certificate)["subject"],
                           "hash": ts.hash_name, "path": None,
                           "message": "time stamp valid (TSA path not validated: no --anchor)"}
    setup = None if tsa is None else tsa.setup()
    if setup is None:
        return out
    result = setup.validator.validate(Certificate.from_cryptography(ts.tsa_certificate),
                                      setup.at)
    if result.reason in (Reason.NO_ISSUER, Reason.NO_ANCHORS):
        out["message"] = ("time stamp valid (TSA path not validated: the TSA certificate does "
                          "not chain to the trust anchors)")
        return out
    out["path"] = setup.result_json(result)
    if result.valid:
        out["message"] = "time stamp and TSA certificate path valid"
    else:
        out.update(valid=False, reason=str(result.reason),
                   message=f"TSA certificate path invalid: {result.message}")
    return out
