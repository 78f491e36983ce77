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

import datetime as _dt
from typing import Any

from jukicard.services.verify import _subject_text, iso_time

__all__ = ["signature_json", "signer_json"]


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
