"""Create a SoftHSM2 token holding jukicard's master key(s), for tests and demonstrations.

::

    JUKICARD_PKCS11_PIN=... JUKICARD_PKCS11_SO_PIN=... \\
        python -m jukicard.keys.init --dir /tmp/jk-hsm --label jukicard-demo

writes ``DIR/softhsm2.conf`` and ``DIR/tokens/``, initialises a token labelled ``--label``
(refused if the directory already holds a token), and generates each ``--master`` key
(default :data:`DEFAULT_MASTER_LABEL`, the jukicard protocol's) INSIDE the token: AES-256,
a token object, sensitive, never extractable, usable only to derive.  Its value never
exists outside the token.  The last line printed is the
``export SOFTHSM2_CONF=...`` the shell needs.  The PINs come from environment variables
(``--pin-env``/``--so-pin-env``), never from the command line; they reach ``softhsm2-util``
through a pseudo-terminal, not its argv.

:func:`import_demo_master_key` (not reachable from the command) stores a *known* value as a
master key: for tests and demos whose emulated cards must hold the matching per-card keys.
A production token never gets one.  ``python -m jukicard.testing.jptoken`` is this command
with the jukicard protocol's published TEST master imported (the emulated test cards hold
the per-card keys it diversifies to).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pkcs11 import Attribute, KeyType, ObjectClass

from jukicard.errors import JukiError, KeyStoreUnavailableError, UsageError
from jukicard.keys.token import (
    DEFAULT_MODULE,
    KeySession,
    KeyStore,
    PinSource,
    TokenKey,
    TokenSettings,
    _token_errors,
)

__all__ = ["DEFAULT_MASTER_LABEL", "check_label", "write_softhsm_conf", "init_softhsm_token",
           "generate_master_key", "import_demo_master_key", "main"]

#: A master key: a token object that only derives; its value never leaves the token.
_MASTER_TEMPLATE: dict[Any, Any] = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.DERIVE: True,
    Attribute.ENCRYPT: False,
    Attribute.DECRYPT: False,
    Attribute.SIGN: False,
    Attribute.VERIFY: False,
    Attribute.WRAP: False,
    Attribute.UNWRAP: False,
    Attribute.MODIFIABLE: False,
}


#: The jukicard protocol's master key label (``jukicard juki authenticate --master-label``'s
#: default, :data:`jukicard.services.mutual.DEFAULT_MASTER_LABEL`).
DEFAULT_MASTER_LABEL = "jukicard-protocol-master"

_LABEL = re.compile(r"[A-Za-z0-9._-]{1,32}")


def check_label(label: str, what: str = "key label") -> str:
    """Return *label* if it is 1..32 characters of ``[A-Za-z0-9._-]`` (a SoftHSM2 token
    label holds at most 32).

    :raises UsageError: otherwise.
    """
    if not _LABEL.fullmatch(label):
        raise UsageError(f"a {what} must be 1-32 characters of A-Z a-z 0-9 . _ -")
    return label


def write_softhsm_conf(directory: Path) -> Path:
    """Write ``directory/softhsm2.conf`` pointing at ``directory/tokens`` (created, 0700).

    :returns: the configuration file's path (the value for ``SOFTHSM2_CONF``).
    :raises UsageError: the token directory already holds a token (a second init with the
        same label would make two tokens that nobody can tell apart).
    """
    directory = directory.resolve()
    tokens = directory / "tokens"
    tokens.mkdir(parents=True, exist_ok=True, mode=0o700)
    if any(tokens.iterdir()):
        raise UsageError(f"{tokens} already holds a token; use a fresh directory")
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
        "log.level = ERROR\nslots.removable = false\n",
        encoding="utf-8",
    )
    return conf


def init_softhsm_token(conf: Path, label: str, *, user_pin: str, so_pin: str) -> None:
    """Initialise a SoftHSM2 token in the free slot of *conf* with ``softhsm2-util``.

    The PINs are typed into ``softhsm2-util``'s prompts through a pseudo-terminal, so they
    are in no process's argv and in no log.

    :raises KeyStoreUnavailableError: ``softhsm2-util`` is missing or failed.
    :raises UsageError: a PIN shorter than 4 characters or containing a line break.
    """
    for pin in (user_pin, so_pin):
        if len(pin) < 4 or "\n" in pin or "\r" in pin:
            raise UsageError("a SoftHSM2 PIN is at least 4 characters on one line")
    tool = shutil.which("softhsm2-util")
    if tool is None:
        raise KeyStoreUnavailableError("softhsm2-util is not installed (.ci/install)")
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [tool, "--init-token", "--free", "--label", label],
            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "SOFTHSM2_CONF": str(conf)}, start_new_session=True,
        )
        os.close(slave)
        slave = -1
        os.write(master, f"{so_pin}\n{so_pin}\n{user_pin}\n{user_pin}\n".encode())
        # A hang guard: softhsm2-util answers in milliseconds.
        _out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    if proc.returncode != 0:
        detail = err.decode("utf-8", "replace").strip().splitlines()
        raise KeyStoreUnavailableError(
            f"softhsm2-util --init-token failed: {detail[-1] if detail else proc.returncode}"
        )


def _unique(session: KeySession, label: str) -> None:
    found = list(session._live().get_objects(
        {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: label}))
    if found:
        raise UsageError(f"token {session.token_label!r} already has a key labelled {label!r}")


def generate_master_key(session: KeySession, label: str) -> TokenKey:
    """Generate an AES-256 master key inside the token (a read-write session).

    :raises UsageError: a key with that label exists already.
    """
    _unique(session, label)
    with _token_errors(f"generating master key {label!r}"):
        key = session._live().generate_key(
            KeyType.AES, 256, label=label, store=True, template=dict(_MASTER_TEMPLATE))
    return TokenKey(label, False, key)


def import_demo_master_key(session: KeySession, label: str, value: bytes) -> TokenKey:
    """Store a KNOWN AES master key value (16 or 32 bytes): tests and demos only, where the
    emulated cards must be personalised with the matching per-card keys.  The stored key is
    as locked down as a generated one (sensitive, non-extractable, derive only).

    :raises UsageError: bad length, or a key with that label exists already.
    """
    if len(value) not in (16, 32):
        raise UsageError("an AES master key is 16 or 32 bytes")
    _unique(session, label)
    template = {**_MASTER_TEMPLATE, Attribute.CLASS: ObjectClass.SECRET_KEY,
                Attribute.KEY_TYPE: KeyType.AES, Attribute.LABEL: label,
                Attribute.VALUE: bytes(value)}
    with _token_errors(f"importing demo master key {label!r}"):
        key = session._live().create_object(template)
    return TokenKey(label, False, key)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m jukicard.keys.init",
        description="Create a SoftHSM2 token with jukicard master keys (tests, demos).",
    )
    p.add_argument("--dir", required=True, type=Path,
                   help="directory for softhsm2.conf and tokens/ (must hold no token yet)")
    p.add_argument("--label", default="jukicard-demo", help="token label")
    p.add_argument("--master", action="append", default=[],
                   help="label of a master key to generate in the token (repeatable; "
                        f"default: {DEFAULT_MASTER_LABEL}, the jukicard protocol's)")
    p.add_argument("--pin-env", default="JUKICARD_PKCS11_PIN",
                   help="environment variable holding the user PIN")
    p.add_argument("--so-pin-env", default="JUKICARD_PKCS11_SO_PIN",
                   help="environment variable holding the security officer PIN")
    p.add_argument("--module", type=Path, default=DEFAULT_MODULE, help="SoftHSM2 module path")
    return p


def main(argv: list[str] | None = None, *, demo_keys: Mapping[str, bytes] | None = None,
         prog: str | None = None) -> int:
    """Run the command; returns the exit status (0 ok, 2 usage, 3 key-store failure).

    :param demo_keys: KNOWN master values to import (label → 16 or 32 bytes) instead of the
        generated default (:mod:`jukicard.testing.jptoken`: tests and demos only; not
        reachable from this module's own command line).
    :param prog: the program name in usage messages.
    """
    parser = _parser()
    if prog is not None:
        parser.prog = prog
    args = parser.parse_args(argv)
    demo = dict(demo_keys or {})
    try:
        check_label(args.label, "token label")
        masters = [check_label(m) for m in
                   (args.master or ([] if demo else [DEFAULT_MASTER_LABEL]))]
        for label in demo:
            check_label(label)
        pin = PinSource(env=args.pin_env).read()
        so_pin = PinSource(env=args.so_pin_env).read()
        conf = write_softhsm_conf(args.dir)
        init_softhsm_token(conf, args.label, user_pin=pin, so_pin=so_pin)
        # SoftHSM2 reads SOFTHSM2_CONF when the module is loaded (first time, in this process)
        os.environ["SOFTHSM2_CONF"] = str(conf)
        settings = TokenSettings(args.label, PinSource(env=args.pin_env), args.module)
        with KeyStore.open(settings, rw=True) as session:
            for label in masters:
                generate_master_key(session, label)
            for label, value in demo.items():
                import_demo_master_key(session, label, value)
    except JukiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 3
    if masters:
        print(f"token {args.label!r}: master keys {', '.join(masters)} (generated in the token)")
    if demo:
        print(f"token {args.label!r}: KNOWN TEST master keys {', '.join(demo)} (imported; "
              "tests and demos only)")
    print(f"export SOFTHSM2_CONF={conf}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
