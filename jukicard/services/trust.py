"""Which trust anchors a verification uses (``cert verify`` / ``signature verify``): the
validation preset, the bundled J-LIS roots, and the refusal of test anchors.

Two presets:

* ``rfc5280`` (the default): generic RFC 5280 path validation up to the ``--anchor``
  certificates given, whatever they are;
* ``jpki`` (``--jpki-profile`` and ``--usage`` select it too): the production JPKI policy
  (:meth:`~jukicard.pki.policy.ValidationPolicy.jpki`).  Without ``--anchor`` it trusts the
  J-LIS roots bundled in :mod:`jukicard.pki.anchors`; with ``--anchor`` it trusts those
  files, but only if each certificate is a *production anchor* (its SHA-256 is a J-LIS
  root's, bundled or published, or one given with ``--production-anchor``).  Any other
  anchor is a *test anchor* (the test PKI, the emulator's CA, a re-signed copy of a real
  root) and needs ``--allow-test-anchors``.

The functions take the :class:`~jukicard.services.verify.VerifyOptions` (its fields
``preset``, ``jpki``, ``anchors``, ``allow_test_anchors``, ``production_anchors``).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from typing import Any

from jukicard.errors import UsageError
from jukicard.services.inputs import InputError, display_path

__all__ = ["PRESETS", "check_trust_options", "trust_anchors", "trust_json"]

#: The validation presets (``--preset``); ``None`` = ``rfc5280`` unless the JPKI options
#: select ``jpki``.
PRESETS = ("jpki", "rfc5280")


def check_trust_options(options: Any) -> tuple[str, ...]:
    """Check the preset options together; return the ``production_anchors`` normalised
    (64 lower-case hex digits each).

    :raises UsageError: an unknown preset; ``rfc5280`` with ``--jpki-profile`` or
        ``--usage``; ``--allow-test-anchors`` or ``--production-anchor`` without the jpki
        preset or without ``--anchor`` (they would be ignored); a malformed fingerprint.
    """
    from jukicard.pki.anchors import normalise_fingerprint

    if options.preset is not None and options.preset not in PRESETS:
        raise UsageError("--preset must be 'jpki' or 'rfc5280'")
    if options.preset == "rfc5280" and (options.jpki_profile or options.usage is not None):
        raise UsageError("--preset rfc5280: not allowed with --jpki-profile or --usage "
                         "(they select --preset jpki)")
    try:
        fingerprints = tuple(normalise_fingerprint(f) for f in options.production_anchors)
    except UsageError as exc:
        raise UsageError(f"--production-anchor: {exc}") from exc
    for name, given in (("--allow-test-anchors", options.allow_test_anchors),
                        ("--production-anchor", fingerprints)):
        if given and not options.jpki:
            raise UsageError(f"{name} applies to --preset jpki only")
        if given and not options.anchors:
            raise UsageError(f"{name}: only with --anchor (without it, --preset jpki trusts "
                             "the bundled J-LIS roots, all of them production anchors)")
    return fingerprints


def trust_anchors(options: Any, load: Callable[[str, str], Sequence[Any]]) -> list[Any]:
    """The trust anchors of a verification: the ``--anchor`` files, or under the jpki preset
    without them the bundled J-LIS roots.

    :param load: reads the certificates of one option's file (``load(path, "--anchor")``).
    :raises InputError: under the jpki preset, an anchor that is not a production anchor
        (without ``allow_test_anchors``), naming the file and its SHA-256; what ``load``
        raises.
    :raises UsageError: no anchor under the rfc5280 preset.
    :raises AnchorIntegrityError: the bundled anchor files differ from their manifest.
    """
    from jukicard.pki import anchors as production

    # under the jpki preset the bundled set is checked first, whatever --anchor says: a
    # damaged installation is reported the same way (trust-anchor-integrity) in every case
    bundled = list(production.load()) if options.jpki else []
    if not options.anchors:
        if options.jpki:
            return bundled
        raise UsageError("no trust anchor given (--anchor FILE, or --preset jpki for the "
                         "bundled J-LIS roots)")
    found: list[Any] = []
    for path in options.anchors:
        for cert in load(path, "--anchor"):
            if (options.jpki and not options.allow_test_anchors
                    and not production.is_production(cert, options.production_anchors)):
                raise InputError(
                    f"--anchor {display_path(path)} is not a production J-LIS root (sha256 "
                    f"{cert.fingerprint}): --preset jpki trusts a test anchor only with "
                    "--allow-test-anchors, a newer J-LIS generation only with "
                    "--production-anchor SHA256", option="--anchor", path=path)
            found.append(cert)
    return found


def trust_json(options: Any, path: Sequence[Any], anchors: Container[Any]) -> dict[str, Any]:
    """The result fields telling what was trusted: ``preset``, ``conformance`` (``strict``
    or ``lenient``: whether the RFC 5280 profile checks ran), and under the jpki preset,
    for a path that ends at one of ``anchors``, ``anchor``: ``{"id": "jlis-sign-2023" |
    None, "production": bool, "source": "manifest" | "declared" | "test"}`` (``declared``:
    admitted as production only by ``--production-anchor``, so an audit can tell).

    A valid jpki result whose anchor is not a production one shows ``production: false``:
    it rests on a test anchor (``--allow-test-anchors``).

    :param path: the result's path, anchor first (a failed one may stop short of it).
    :param anchors: the trust anchors of the validation (``Validator.anchors``).
    """
    out: dict[str, Any] = {"preset": "jpki" if options.jpki else "rfc5280",
                           "conformance": "lenient" if options.lenient else "strict"}
    if options.jpki and path and path[0] in anchors:
        from jukicard.pki import anchors as production

        entry = production.bundled().find(path[0])
        known = production.is_production(path[0])
        declared = not known and production.is_production(path[0], options.production_anchors)
        out["anchor"] = {"id": None if entry is None else entry.id,
                         "production": known or declared,
                         "source": "manifest" if known else
                         "declared" if declared else "test"}
    return out
