"""``jukicard signature verify``: check a JPKI card signature or a CMS SignedData.

``jukicard signature verify FILE SIG|CMS [--cert CERT] [--digest] [--raw] [--hash sha256]
[--allow-sha1] [--anchor FILE… --intermediate FILE… --crl FILE|URL… --no-revocation --at
ISO8601 --jpki-profile --usage sign|auth] [--json]``

* SIG is a raw RSA PKCS#1 v1.5 signature (as the card returns it): ``--cert`` is needed;
  FILE is the signed data (hashed with ``--hash``), or its digest with ``--digest``, or
  the exact bytes the card was given with ``--raw`` (signed as is, no DigestInfo).
* SIG is a CMS SignedData (DER or PEM; detected automatically): the signer certificate
  comes from the CMS (``--cert`` adds a candidate); FILE is the content of a detached CMS,
  and must equal the content of an attached one.
* With ``--anchor``, the signer certificate is also validated (chain + CRL) at ``--at``;
  for a CMS, the certificate of every SignerInfo is.  Under ``--jpki-profile`` a CMS signer
  must hold a JPKI sign certificate (署名用) unless ``--usage`` says otherwise; a raw
  signature may come from either key.

Exit status 0 only when the signature is valid (and, with anchors, the certificate path);
5 otherwise; 2 on usage errors.
"""

from __future__ import annotations

import argparse
import hmac
from typing import Any

from jukicard.cli.cert import (
    EXIT_INVALID,
    add_validation_arguments,
    apply_usage,
    build_validator,
    iso_time,
    parse_at,
    print_result,
    read_file,
    result_to_json,
)
from jukicard.errors import UsageError, ValidationError

__all__ = ["register", "cmd_verify"]


def register(subparsers: Any) -> None:
    """Add the ``signature`` group (``signature verify``)."""
    sig = subparsers.add_parser("signature", help="signatures: verify (PKCS#1 v1.5 or CMS)",
                                description="Signature commands.")
    sub = sig.add_subparsers(dest="signature_command", metavar="SIGNATURE_COMMAND")
    sub.required = True
    verify = sub.add_parser(
        "verify", help="verify a raw card signature or a CMS SignedData",
        description="Verify SIG over FILE. Exit 0 only when the signature (and, with "
        "--anchor, the signer's certificate path) is valid; 5 when not; 2 on usage errors.")
    verify.add_argument("file", metavar="FILE",
                        help="signed data (or its digest with --digest; or CMS content)")
    verify.add_argument("sig", metavar="SIG",
                        help="raw PKCS#1 v1.5 signature, or CMS SignedData (DER/PEM)")
    verify.add_argument("--cert", metavar="CERT",
                        help="signer certificate (DER/PEM); required for a raw signature")
    mode = verify.add_mutually_exclusive_group()
    mode.add_argument("--digest", action="store_true",
                      help="FILE holds the digest (raw bytes) instead of the data")
    mode.add_argument("--raw", action="store_true",
                      help="FILE holds the exact bytes the card signed (no DigestInfo)")
    verify.add_argument("--hash", default="sha256",
                        choices=["sha1", "sha224", "sha256", "sha384", "sha512"],
                        help="hash of the signature (default sha256)")
    verify.add_argument("--allow-sha1", action="store_true",
                        help="accept SHA-1 (verifying old 住基カード-era data only)")
    add_validation_arguments(verify, anchors_required=False)
    verify.set_defaults(func=cmd_verify)


def _min_key_bits(args: argparse.Namespace) -> int | None:
    if args.min_rsa_bits is not None:
        return int(args.min_rsa_bits)
    if args.jpki_profile or args.usage:
        return 2048
    return None


def cmd_verify(args: argparse.Namespace) -> int:
    """``jukicard signature verify``: 0 valid, 5 invalid."""
    from jukicard.pki.certs import Certificate
    from jukicard.pki.cms import SignedData, looks_like_cms
    from jukicard.pki.signatures import load_certificate, verify_pkcs1v15

    data = read_file(args.file, "data file")
    sig = read_file(args.sig, "signature file")
    cert_bytes = read_file(args.cert, "certificate") if args.cert else None
    at = parse_at(args.at)
    if args.hash == "sha1" and not args.allow_sha1:
        raise UsageError("SHA-1 is accepted only with --allow-sha1 (old data)")
    out: dict[str, Any] = {"valid": False, "reason": None, "message": "",
                           "at": iso_time(at), "signature": None, "certificate": None}
    signer_certs: list[Any] = []
    cms_certs: list[Any] = []
    is_cms = False
    try:
        if looks_like_cms(sig):
            if args.digest or args.raw:
                raise UsageError("--digest/--raw apply to raw signatures, not to CMS")
            signed = SignedData.parse(sig)
            extra = [cert_bytes] if cert_bytes is not None else []
            if signed.detached:
                res = signed.verify(detached_content=data, extra_certificates=extra,
                                    min_key_size=_min_key_bits(args),
                                    allow_sha1=args.allow_sha1)
            else:
                if not hmac.compare_digest(signed.content or b"", data):
                    from jukicard.pki.signatures import SignatureInvalidError

                    raise SignatureInvalidError("FILE differs from the content in the CMS")
                res = signed.verify(extra_certificates=extra,
                                    min_key_size=_min_key_bits(args),
                                    allow_sha1=args.allow_sha1)
            # every SignerInfo's certificate is validated, not only the first one
            for s in res.signers:
                if s.certificate not in signer_certs:
                    signer_certs.append(s.certificate)
            cms_certs = list(res.certificates)
            is_cms = True
            out["signature"] = {
                "valid": True, "format": "cms", "detached": signed.detached,
                "content_type": res.content_type,
                "signers": [{"hash": s.digest_algorithm, "key_size": s.key_size,
                             "signed_attributes": s.signed_attributes,
                             "signing_time": iso_time(s.signing_time),
                             "weak_hash": s.weak_hash,
                             "certificate_sha256": Certificate.from_cryptography(
                                 s.certificate).fingerprint}
                            for s in res.signers],
            }
        else:
            if cert_bytes is None:
                raise UsageError("a raw signature needs the signer certificate (--cert)")
            signer_cert = load_certificate(cert_bytes)
            signer_certs.append(signer_cert)
            kwargs: dict[str, Any] = {"certificate": signer_cert,
                                      "min_key_size": _min_key_bits(args),
                                      "allow_sha1": args.allow_sha1, "hash_alg": args.hash}
            if args.digest:
                kwargs["digest"] = data
            elif args.raw:
                kwargs["raw"] = data
            else:
                kwargs["message"] = data
            vs = verify_pkcs1v15(sig, **kwargs)
            out["signature"] = {"valid": True, "format": "pkcs1v15", "mode": vs.mode,
                                "hash": vs.hash_alg, "key_size": vs.key_size,
                                "weak_hash": vs.weak_hash}
    except ValidationError as exc:
        out.update(reason=exc.reason, message=str(exc))
        out["signature"] = {"valid": False, "reason": exc.reason}
        print_result(out, as_json=args.json)
        return EXIT_INVALID

    if not args.anchor:
        out.update(valid=True, reason="ok", message="signature valid (certificate not "
                   "validated: no --anchor)")
        print_result(out, as_json=args.json)
        return 0

    try:
        # a CMS document signature must come from a JPKI sign certificate (署名用): under
        # --jpki-profile an auth certificate (利用者証明用) is refused unless --usage says so
        setup = build_validator(args, extra_intermediates=[
            Certificate.from_cryptography(c) for c in cms_certs],
            default_usage="sign" if is_cms else None)
        targets = [Certificate.from_cryptography(c) for c in signer_certs]
    except ValidationError as exc:
        out.update(reason=exc.reason, message=str(exc))
        print_result(out, as_json=args.json)
        return EXIT_INVALID
    results = [apply_usage(r, setup.usage)
               for r in setup.validator.validate_many(targets, setup.at)]
    failed = next((r for r in results if not r.valid), None)
    shown = failed if failed is not None else results[0]
    out["certificate"] = result_to_json(shown, extra_problems=setup.crl_problems)
    if len(results) > 1:
        out["certificates"] = [result_to_json(r, extra_problems=setup.crl_problems)
                               for r in results]
    out.update(valid=failed is None, reason=shown.reason,
               message="signature and certificate path valid" if failed is None
               else f"signature valid, certificate path invalid: {shown.message}")
    print_result(out, as_json=args.json)
    return 0 if failed is None else EXIT_INVALID
