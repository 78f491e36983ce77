"""``jukicard sign``: sign a file or a digest with the card's sign or auth key.

::

    jukicard sign FILE [--key sign|auth] [--hash sha256] [-o SIG] [--cert-out CERT]
    jukicard sign --digest HEX [--hash sha256] ...

The signature is RSA PKCS#1 v1.5 over the DER DigestInfo of the hash (what
``jukicard signature verify FILE SIG --cert CERT`` checks).  Without ``-o`` it is printed in
base64 on stdout; with ``-o`` the raw signature bytes are written to the file.
PIN order for ``--pin-stdin``: one line, the key's PIN (sign password or auth PIN).
"""

from __future__ import annotations

import argparse
import base64
import os
import sys

from jukicard.cli._common import (
    card_parent,
    interaction_from_args,
    notice,
    open_from_args,
    pin_parent,
    print_json,
    write_file_atomic,
)
from jukicard.errors import UsageError
from jukicard.services.signing import KEY_IDS, SignResult, hash_stream, sign_digest

__all__ = ["register", "cmd_sign"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "sign", parents=[card_parent(), pin_parent("the key's PIN")],
        help="sign a file or a digest with the card (sign or auth key)",
        description="Sign with a JPKI key on the card (RSA PKCS#1 v1.5 over a DigestInfo). "
        "The card's signature is checked against its certificate before it is output.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("file", nargs="?", metavar="FILE",
                     help="the file to sign ('-' = stdin, not with --pin-stdin)")
    src.add_argument("--digest", metavar="HEX", help="sign this ready-made digest (hex)")
    p.add_argument("--key", choices=KEY_IDS, default="sign",
                   help="sign = 署名用 (default, asks the sign password); "
                   "auth = 利用者証明用 (asks the 4-digit auth PIN)")
    p.add_argument("--hash", default="sha256", choices=("sha256", "sha384", "sha512"),
                   help="hash algorithm (default sha256)")
    p.add_argument("-o", "--output", metavar="SIG",
                   help="write the raw signature bytes here (default: base64 on stdout)")
    p.add_argument("--cert-out", metavar="CERT",
                   help="also write the key's certificate (PEM) here; NOTE: the sign "
                   "certificate holds personal data")
    p.set_defaults(func=cmd_sign)


def _digest_from_args(args: argparse.Namespace) -> bytes:
    if args.digest is not None:
        text = args.digest.strip().lower().removeprefix("0x").replace(":", "")
        try:
            return bytes.fromhex(text)
        except ValueError as exc:
            raise UsageError("--digest must be hexadecimal") from exc
    if args.file == "-":
        if args.pin_stdin:
            raise UsageError("cannot read both the data and the PIN from stdin")
        return hash_stream(sys.stdin.buffer, args.hash)
    try:
        with open(args.file, "rb") as fh:
            return hash_stream(fh, args.hash)
    except OSError as exc:
        raise UsageError(f"cannot read {args.file!r}: {exc.strerror}") from exc


def _write_file(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (:func:`write_file_atomic`)."""
    write_file_atomic(path, data)


def cmd_sign(args: argparse.Namespace) -> int:
    digest = _digest_from_args(args)
    interaction = interaction_from_args(args)
    with open_from_args(args) as transport:
        result: SignResult = sign_digest(
            transport, interaction, digest, key=args.key, hash_alg=args.hash,
            include_certificate=args.cert_out is not None,
        )
    if args.output is not None:
        _write_file(args.output, result.signature)
    if args.cert_out is not None and result.certificate is not None:
        from jukicard.services.data import to_pem

        _write_file(args.cert_out, to_pem(result.certificate))
    if args.json:
        out = result.to_json()
        if args.output is not None:
            out["output"] = os.fspath(args.output)
        if args.cert_out is not None:
            out["certificate_output"] = os.fspath(args.cert_out)
        print_json(out)
    elif args.output is None:
        print(base64.b64encode(result.signature).decode("ascii"))
    else:
        notice(f"signature ({len(result.signature)} bytes, {args.key} key, {args.hash}) "
               f"written to {args.output}")
    return 0
