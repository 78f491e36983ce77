"""``jukicard signature verify``: check a JPKI card signature or a CMS SignedData.

``jukicard signature verify FILE [SIG|CMS] [--cert CERT] [--digest|--raw] [--hash ALG]
[--allow-sha1] [--preset jpki|rfc5280 --anchor FILE… --intermediate FILE… --crl FILE|URL…
--no-revocation --at ISO8601 --jpki-profile --usage sign|auth --allow-test-anchors
--production-anchor SHA256…] [--json]``

* SIG is an RSA PKCS#1 v1.5 signature as the card returns it — raw bytes, base64 text or
  ``jukicard sign --json``'s object, all three as ``jukicard sign`` writes them; ``--cert``
  is needed.  The hash is read from the DigestInfo inside the signature (``--hash`` only
  double-checks it: a different one is a bad signature).  FILE is the signed data (hashed as
  a stream, any size), or its digest with ``--digest``, or the exact bytes the card was
  given with ``--raw`` (signed as is, no DigestInfo).
* SIG is a CMS SignedData (DER or PEM; detected automatically): the signer certificate
  comes from the CMS (``--cert`` adds a candidate); FILE is the content of a detached CMS,
  and must equal the content of an attached one.
* FILE alone (no SIG), not a PDF: FILE is an attached CMS and is verified by itself (a
  detached CMS then is a usage error: give the signed file too).
* SIG left out and FILE a PDF (``signature verify signed.pdf``): every signature in the PDF
  is checked (:func:`jukicard.services.pdfverify.verify_pdf`: ByteRange and revision
  coverage, later modifications, the CMS, the time stamp; ``--json`` lists them under
  ``"signatures"``); ``--cert``/``--digest``/``--raw``/``--hash`` do not apply.
* With ``--anchor`` or ``--preset jpki`` (the bundled J-LIS roots when no ``--anchor``:
  see ``cert verify``), the signer certificate is also validated (chain + CRL) at ``--at``;
  for a CMS, the certificate of every SignerInfo is.  Under ``--preset jpki``
  (``--jpki-profile``) a CMS signer must hold a JPKI sign certificate (署名用) unless
  ``--usage`` says otherwise, and a test ``--anchor`` needs ``--allow-test-anchors``.

``--json`` prints the result object: ``valid``, ``reason``, ``message``, ``at``,
``format`` (``cms`` or ``pkcs1v15``), ``signature``, ``certificate`` and ``signatures``, one
object per signature (per SignerInfo of a CMS; :mod:`jukicard.services.sigresult`), with
its signer's path when it is validated.

Exit status 0 only when the signature is valid (and, with anchors or the jpki preset, the
certificate path); 5 otherwise; 2 on usage errors.  The work is done by
:func:`jukicard.services.signatures.verify_signature`.
"""

from __future__ import annotations

from typing import Any, Literal

import click

from jukicard.cli._common import JukiGroup
from jukicard.cli.cert import print_report, validation_options, verify_options

__all__ = ["signature", "verify"]


@click.group("signature", cls=JukiGroup, help="Signature commands.",
             short_help="signatures: verify (PKCS#1 v1.5 or CMS)")
def signature() -> None:
    pass


@signature.command("verify", short_help="verify a raw card signature or a CMS SignedData",
                   help="Verify SIG over FILE, or FILE alone when it is an attached CMS or a "
                   "signed PDF (every signature in it is verified). "
                   "Exit 0 only when the signature (and, with "
                   "--anchor or --preset jpki, the signer's certificate path) is valid; 5 when "
                   "not; 2 on usage errors.  SIG may be what 'jukicard sign' writes: raw "
                   "bytes, base64 or its JSON (at most 64 MiB).")
@click.argument("file", metavar="FILE")
@click.argument("sig", metavar="[SIG]", required=False)
@click.option("--cert", "certificate", metavar="CERT",
              help="signer certificate (DER/PEM); required for a raw signature")
@click.option("--digest", is_flag=True,
              help="FILE holds the digest (raw bytes) instead of the data")
@click.option("--raw", is_flag=True,
              help="FILE holds the exact bytes the card signed (no DigestInfo)")
@click.option("--hash", "hash_alg",
              type=click.Choice(("sha1", "sha224", "sha256", "sha384", "sha512")),
              help="the hash the signature must use (default: the one named in the signature, "
              "e.g. sha256)")
@click.option("--allow-sha1", is_flag=True,
              help="accept SHA-1 (verifying old 住基カード-era data only)")
@validation_options(anchors_required=False)
def verify(file: str, sig: str | None, certificate: str | None, digest: bool, raw: bool,
           hash_alg: str | None, allow_sha1: bool, as_json: bool, **params: Any) -> int:
    from jukicard.services.signatures import SignatureOptions, verify_signature

    if sig is None and _is_pdf(file):
        return _verify_pdf(file, certificate, digest, raw, hash_alg, allow_sha1, as_json,
                           params)
    if digest and raw:
        raise click.UsageError("--raw: not allowed with --digest")
    mode: Literal["message", "digest", "raw"] = ("digest" if digest else "raw" if raw
                                                 else "message")
    sig_options = SignatureOptions(certificate=certificate, mode=mode, hash_alg=hash_alg,
                                   allow_sha1=allow_sha1)
    report = verify_signature(file, sig, sig_options, verify_options(params))
    return print_report(report, as_json)


def _is_pdf(file: str) -> bool:
    from jukicard.services.pdfverify import is_pdf_file

    return is_pdf_file(file)


def _verify_pdf(file: str, certificate: str | None, digest: bool, raw: bool,
                hash_alg: str | None, allow_sha1: bool, as_json: bool,
                params: dict[str, Any]) -> int:
    """``signature verify signed.pdf``: FILE alone, a PDF whose signatures are checked."""
    from jukicard.services.pdfverify import verify_pdf

    given = [name for name, value in (("--cert", certificate), ("--digest", digest),
                                      ("--raw", raw), ("--hash", hash_alg)) if value]
    if given:
        raise click.UsageError(f"{', '.join(given)}: not used with a PDF (its signatures "
                               "carry their certificates and hashes)")
    return print_report(verify_pdf(file, verify_options(params), allow_sha1=allow_sha1),
                        as_json)
