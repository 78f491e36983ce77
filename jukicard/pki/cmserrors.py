"""The typed errors of the CMS verifier and builder (:mod:`jukicard.pki.cms`,
:mod:`jukicard.pki.cmsbuild`, :mod:`jukicard.pki.cmspss`, :mod:`jukicard.pki.cmsattrs`).

They live apart so the helper modules can raise them without importing the verifier;
:mod:`jukicard.pki.cms` re-exports each one (import them from there).
"""

from __future__ import annotations

from jukicard.pki.errors import MalformedError, PkiError, UnsupportedAlgorithmError
from jukicard.pki.reasons import Reason

__all__ = ["MalformedCmsError", "SignerNotFoundError", "UnsupportedCmsAlgorithmError",
           "SignerCertificateMismatchError"]


class MalformedCmsError(MalformedError):
    """The bytes are not a well-formed CMS SignedData (or a required attribute is missing,
    repeated, or the signed attributes are not DER)."""

    reason = Reason.MALFORMED_CMS


class SignerNotFoundError(PkiError):
    """No certificate in the CMS (or given by the caller) matches a SignerInfo."""

    reason = Reason.SIGNER_NOT_FOUND


class UnsupportedCmsAlgorithmError(UnsupportedAlgorithmError):
    """The SignerInfo uses an algorithm other than RSA PKCS#1 v1.5 or RSASSA-PSS with SHA-2
    (or SHA-1 for PKCS#1 v1.5), or RSASSA-PSS parameters this verifier does not accept."""

    reason = Reason.UNSUPPORTED_ALGORITHM


class SignerCertificateMismatchError(PkiError):
    """The signer certificate found for a SignerInfo is not the one its ESS
    signing-certificate(-v2) attribute names (a certificate swapped in the bag, another
    certificate for the same key), or more than one different certificate answers to the
    SignerInfo's identifier and none is named by such an attribute."""

    reason = Reason.SIGNER_CERTIFICATE_MISMATCH
