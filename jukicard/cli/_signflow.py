"""The one flow of ``sign --cms`` and ``sign --pdf``: outputs checked before the PIN, the
input read, one card signing, the results written atomically
(:class:`~jukicard.cli._files.Outputs`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jukicard.cli._common import interaction, out

if TYPE_CHECKING:
    from jukicard.cli._common import CardSelection

__all__ = ["sign_and_write"]


def sign_and_write(card: CardSelection, pin_stdin: bool, file: str | None,
                   output: str | None, cert_out: str | None, *, what: str, private: bool,
                   read: Callable[[], bytes],
                   sign: Callable[[Any, Any, bytes], tuple[Any, bytes, bytes]]
                   ) -> tuple[Any, bool]:
    """Plan ``-o`` and ``--cert-out`` (refused before any PIN), ``read()`` the input,
    ``sign(transport, interaction, data) -> (result, payload, certificate DER)`` on the
    card, write the payload and the certificate (PEM).

    :param what: the payload's name in messages (``"CMS"``, ``"signed PDF"``).
    :param private: the files carry the sign certificate: created 0600.
    :returns: the signing result, and whether the payload reached ``output``.
    """
    from jukicard.cli._files import Outputs
    from jukicard.services.data import to_pem

    reads_stdin = "-" if pin_stdin else None
    with Outputs(inputs=(("document", file), ("PIN (--pin-stdin)", reads_stdin)),
                 stdout=out()) as outputs:
        payload_file = outputs.plan("-o", output, what=what, binary=True, private=private)
        cert_file = outputs.plan("--cert-out", cert_out, what="certificate", private=private)
        data = read()
        asker = interaction(pin_stdin)
        with card.open() as transport:
            result, payload, certificate = sign(transport, asker, data)
        if payload_file is not None:
            payload_file.write(payload)
        if cert_file is not None:
            cert_file.write(to_pem(certificate))
    return result, payload_file is not None and payload_file.delivered
