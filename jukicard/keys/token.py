"""Open a PKCS#11 token and run the jukicard protocol's key operations inside it.

:class:`TokenSettings` says where the keys are (module path, token label, PIN source);
:meth:`KeyStore.open` loads the module, finds the token by label, logs in and returns a
:class:`KeySession`.  Every operation of the session runs in the token: the master key is a
token object that is sensitive and non-extractable, the per-card keys are derived from it with
``CKM_AES_ECB_ENCRYPT_DATA`` as *session* objects (gone when the session closes), and the host
only ever sees cryptograms, MACs and random bytes.  See :mod:`jukicard.keys` for the decisions.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e

from jukicard.errors import (
    KeyNotFoundError,
    KeyOperationError,
    KeyStoreError,
    KeyStorePinIncorrectError,
    KeyStorePinLockedError,
    KeyStorePinMissingError,
    KeyStoreUnavailableError,
    MechanismUnsupportedError,
    UsageError,
)
from jukicard.keys.diversify import diversification_data

__all__ = [
    "DEFAULT_MODULE",
    "REQUIRED_MECHANISMS",
    "PinSource",
    "TokenSettings",
    "TokenKey",
    "KeyStore",
    "KeySession",
]

#: SoftHSM2, the embedded default (Debian's ``softhsm2`` package).
DEFAULT_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
#: What the jukicard protocol needs from a token; checked when a session opens.
REQUIRED_MECHANISMS: tuple[str, ...] = ("AES_ECB_ENCRYPT_DATA", "AES_CMAC", "AES_ECB", "AES_CBC")
_BLOCK = 16

#: One loaded module per path for the whole process.  A PKCS#11 module is initialised once per
#: process (``C_Initialize``); finalising it would end every other session of that module, so
#: it is never finalised here.  NOTE: a token created by another process after the module was
#: loaded is not seen by this process (SoftHSM2 reads its token directory at initialisation).
_LIBS: dict[str, Any] = {}
_LIBS_LOCK = threading.Lock()


def _load(module: Path) -> Any:
    key = str(module)
    with _LIBS_LOCK:
        if key not in _LIBS:
            if not module.is_file():
                raise KeyStoreUnavailableError(f"PKCS#11 module {key} does not exist")
            try:
                _LIBS[key] = pkcs11.lib(key)
            except p11e.PKCS11Error as exc:
                raise KeyStoreUnavailableError(
                    f"PKCS#11 module {key} could not be loaded ({type(exc).__name__})"
                ) from None
        return _LIBS[key]


@dataclass(frozen=True)
class PinSource:
    """Where the token's user PIN comes from: an environment variable or a file, never a
    literal (so it is never on a command line, in a settings file or in a repr).

    :param env: name of an environment variable holding the PIN.
    :param file: path of a file whose first line is the PIN.
    """

    env: str | None = None
    file: Path | None = None

    def __post_init__(self) -> None:
        if (self.env is None) == (self.file is None):
            raise UsageError("a PIN source is exactly one of an environment variable or a file")

    def read(self, environ: Mapping[str, str] | None = None) -> str:
        """Return the PIN.

        :param environ: the environment to read (default :data:`os.environ`).
        :raises KeyStorePinMissingError: the variable is unset or empty, the file is missing,
            unreadable or empty.
        """
        if self.env is not None:
            value = (os.environ if environ is None else environ).get(self.env, "")
            where = f"environment variable {self.env}"
        else:
            assert self.file is not None
            where = f"PIN file {self.file}"
            try:
                value = self.file.read_text(encoding="utf-8").splitlines()[0]
            except (OSError, UnicodeDecodeError, IndexError):
                value = ""
        if not value:
            raise KeyStorePinMissingError(f"no token PIN: {where} is unset or empty")
        return value


@dataclass(frozen=True)
class TokenSettings:
    """Where the system keys live.

    :param token_label: the token's label (tokens are found by label, never by slot number:
        SoftHSM2 renumbers slots).
    :param pin: where the user PIN comes from.
    :param module: path of the PKCS#11 module (default: SoftHSM2).
    """

    token_label: str
    pin: PinSource
    module: Path = DEFAULT_MODULE

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> TokenSettings:
        """Settings from ``JUKICARD_PKCS11_MODULE`` (optional), ``JUKICARD_PKCS11_TOKEN`` and
        either ``JUKICARD_PKCS11_PIN_FILE`` (a path) or the PIN itself in
        ``JUKICARD_PKCS11_PIN``.

        :raises UsageError: ``JUKICARD_PKCS11_TOKEN`` is not set.
        """
        env = os.environ if environ is None else environ
        label = env.get("JUKICARD_PKCS11_TOKEN", "")
        if not label:
            raise UsageError("JUKICARD_PKCS11_TOKEN (the token label) is not set")
        pin_file = env.get("JUKICARD_PKCS11_PIN_FILE")
        pin = PinSource(file=Path(pin_file)) if pin_file else PinSource(env="JUKICARD_PKCS11_PIN")
        module = env.get("JUKICARD_PKCS11_MODULE")
        return cls(label, pin, Path(module) if module else DEFAULT_MODULE)


@dataclass(frozen=True)
class TokenKey:
    """A secret key object in the token.  Holds the handle, never the value.

    :ivar label: the key's label (derived keys: ``"<master label>/<purpose>"``).
    :ivar derived: True for a per-card key derived in this session (a session object).
    """

    label: str
    derived: bool
    _key: Any = field(repr=False, compare=False)


#: A derived per-card key: a session object, sensitive, never extractable, never a base key.
_DERIVED_TEMPLATE: dict[Any, Any] = {
    Attribute.TOKEN: False,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.ENCRYPT: True,
    Attribute.DECRYPT: True,
    Attribute.SIGN: True,
    Attribute.VERIFY: True,
    Attribute.DERIVE: False,
    Attribute.WRAP: False,
    Attribute.UNWRAP: False,
}


@contextmanager
def _token_errors(what: str) -> Iterator[None]:
    """Translate python-pkcs11 errors into the key-store tree (names only, no data)."""
    try:
        yield
    except KeyStoreError:
        raise
    except p11e.MechanismInvalid:
        raise MechanismUnsupportedError(f"{what}: the token does not offer the mechanism") from None
    except (p11e.PinIncorrect, p11e.PinInvalid, p11e.PinLenRange):
        raise KeyStorePinIncorrectError(f"{what}: the token rejected the PIN") from None
    except p11e.PinLocked:
        raise KeyStorePinLockedError(f"{what}: the token's user PIN is locked") from None
    except (p11e.TokenNotPresent, p11e.DeviceRemoved, p11e.NoSuchToken):
        raise KeyStoreUnavailableError(f"{what}: the token went away") from None
    except p11e.PKCS11Error as exc:
        raise KeyOperationError(f"{what} failed in the token ({type(exc).__name__})") from None


def _op(key: TokenKey, name: str) -> Any:
    """The bound operation *name* of *key*.  python-pkcs11 gives a key object only the
    methods its ``CKA_SIGN``/``CKA_ENCRYPT``/... attributes allow.

    :raises KeyOperationError: the key's attributes forbid the operation.
    """
    fn = getattr(key._key, name, None)
    if fn is None:
        raise KeyOperationError(f"key {key.label!r} may not be used to {name.partition('_')[0]}")
    return fn


class KeyStore:
    """Entry point: :meth:`open` a logged-in session on the token of some settings."""

    @staticmethod
    def open(
        settings: TokenSettings,
        *,
        rw: bool = False,
        required: tuple[str, ...] = REQUIRED_MECHANISMS,
        environ: Mapping[str, str] | None = None,
    ) -> KeySession:
        """Load the module, find the token by label, check its mechanisms, log in.

        The PIN is read (from the settings' source) before anything else touches the token
        and used for exactly one login.

        :param settings: module, token label, PIN source.
        :param rw: a read-write session (needed only to create token objects).
        :param required: mechanism names (``pkcs11.Mechanism`` members) the token must offer.
        :param environ: environment the PIN source reads (default :data:`os.environ`).
        :raises KeyStorePinMissingError: no PIN configured.
        :raises KeyStoreUnavailableError: module not loadable; no or several tokens labelled so.
        :raises MechanismUnsupportedError: a required mechanism is missing (``mechanisms``).
        :raises KeyStorePinIncorrectError, KeyStorePinLockedError: the login failed.
        """
        pin = settings.pin.read(environ)
        lib = _load(settings.module)
        label = settings.token_label
        with _token_errors(f"looking up token {label!r}"):
            try:
                token = lib.get_token(token_label=label)
            except p11e.NoSuchToken:
                hint = (" (SoftHSM2 finds its tokens through $SOFTHSM2_CONF: is it exported?)"
                        if "softhsm" in settings.module.name.lower() else "")
                raise KeyStoreUnavailableError(f"no token labelled {label!r}{hint}") from None
            except p11e.MultipleTokensReturned:
                raise KeyStoreUnavailableError(
                    f"more than one token labelled {label!r}") from None
        with _token_errors(f"token {label!r}"):
            offered = {m.name for m in token.slot.get_mechanisms() if hasattr(m, "name")}
            missing = tuple(name for name in required if name not in offered)
            if missing:
                raise MechanismUnsupportedError(
                    f"token {label!r} lacks {', '.join(missing)}", missing
                )
            session = token.open(rw=rw, user_pin=pin)
        del pin
        return KeySession(session, label)


class KeySession:
    """A logged-in session on one token.  Use as a context manager; :meth:`close` logs out
    and destroys every key derived in it.

    Block operations take whole 16-byte blocks (padding is the protocol's business).
    """

    def __init__(self, session: Any, token_label: str) -> None:
        self._session = session
        self.token_label = token_label
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"KeySession(token_label={self.token_label!r}, {state})"

    def __enter__(self) -> KeySession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Log out and close the session (idempotent)."""
        if not self._closed:
            self._closed = True
            try:
                self._session.close()
            except p11e.PKCS11Error:
                pass  # the token went away: nothing is left to close

    def _live(self) -> Any:
        if self._closed:
            raise KeyOperationError(f"the session on token {self.token_label!r} is closed")
        return self._session

    # ------------------------------------------------------------------------ keys
    def key(self, label: str) -> TokenKey:
        """The one secret key labelled *label* in the token.

        :raises KeyNotFoundError: no key, or more than one, has that label.
        """
        session = self._live()
        with _token_errors(f"looking up key {label!r}"):
            try:
                found = session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)
            except p11e.NoSuchKey:
                raise KeyNotFoundError(
                    f"no key labelled {label!r} in token {self.token_label!r}"
                ) from None
            except p11e.MultipleObjectsReturned:
                raise KeyNotFoundError(
                    f"more than one key labelled {label!r} in token {self.token_label!r}"
                ) from None
        return TokenKey(label, False, found)

    def diversify(
        self, master: TokenKey, card_id: bytes | str, *, purpose: str = "card-key",
        bits: int = 128,
    ) -> TokenKey:
        """Derive the per-card key of *card_id* from *master*, inside the token.

        ``K_card = AES-ECB(K_master, D)`` with ``D`` from :func:`diversification_data`
        (``CKM_AES_ECB_ENCRYPT_DATA``).  The result is a session object, sensitive and
        non-extractable, usable for encrypt/decrypt/CMAC only.

        :param master: the master key (must allow ``CKA_DERIVE``).
        :param card_id: the card identification number (GET DATA ``0045``, ASCII).
        :param purpose: which key of the card (e.g. ``"auth-enc"``, ``"auth-mac"``).
        :param bits: 128 or 256.
        :raises UsageError: bad card id, purpose or size.
        :raises MechanismUnsupportedError: the token cannot derive this way.
        :raises KeyOperationError: the master key may not derive (or another token failure).
        """
        data = diversification_data(card_id, purpose=purpose, bits=bits)
        self._live()
        with _token_errors(f"deriving {purpose!r} from {master.label!r}"):
            derived = _op(master, "derive_key")(
                KeyType.AES, bits, mechanism=Mechanism.AES_ECB_ENCRYPT_DATA,
                mechanism_param=data, template=_DERIVED_TEMPLATE,
            )
        return TokenKey(f"{master.label}/{purpose}", True, derived)

    def destroy(self, key: TokenKey) -> None:
        """Destroy a per-card key derived in this session (a session object), so that a
        long-lived session does not accumulate one object per derivation.  A no-op once the
        session is closed (its session objects are gone with it).

        :raises UsageError: *key* is not a derived key (a token object is never destroyed
            here).
        :raises KeyOperationError: the token failed.
        """
        if not key.derived:
            raise UsageError(f"key {key.label!r} is a token object; only derived keys are "
                             "destroyed")
        if self._closed:
            return
        with _token_errors(f"destroying {key.label!r}"):
            key._key.destroy()

    # ------------------------------------------------------------------------ operations
    def cmac(self, key: TokenKey, data: bytes) -> bytes:
        """AES-CMAC (NIST SP 800-38B) of *data* under *key*, 16 bytes, computed in the token.

        :raises KeyOperationError: the key may not sign, or another token failure.
        """
        self._live()
        with _token_errors(f"CMAC with {key.label!r}"):
            return bytes(_op(key, "sign")(bytes(data), mechanism=Mechanism.AES_CMAC))

    def encrypt_ecb(self, key: TokenKey, data: bytes) -> bytes:
        """AES-ECB encryption of whole blocks.

        :raises UsageError: *data* is empty or not a multiple of 16 bytes.
        """
        return self._block(key, data, Mechanism.AES_ECB, None, encrypt=True)

    def decrypt_ecb(self, key: TokenKey, data: bytes) -> bytes:
        """AES-ECB decryption of whole blocks.

        :raises UsageError: *data* is empty or not a multiple of 16 bytes.
        """
        return self._block(key, data, Mechanism.AES_ECB, None, encrypt=False)

    def encrypt_cbc(self, key: TokenKey, iv: bytes, data: bytes) -> bytes:
        """AES-CBC encryption of whole blocks (no padding) with a 16-byte *iv*.

        :raises UsageError: bad IV length, or *data* not whole blocks.
        """
        return self._block(key, data, Mechanism.AES_CBC, iv, encrypt=True)

    def decrypt_cbc(self, key: TokenKey, iv: bytes, data: bytes) -> bytes:
        """AES-CBC decryption of whole blocks (no padding) with a 16-byte *iv*.

        :raises UsageError: bad IV length, or *data* not whole blocks.
        """
        return self._block(key, data, Mechanism.AES_CBC, iv, encrypt=False)

    def _block(
        self, key: TokenKey, data: bytes, mechanism: Mechanism, iv: bytes | None, *,
        encrypt: bool,
    ) -> bytes:
        if not data or len(data) % _BLOCK:
            raise UsageError(f"AES block data must be whole 16-byte blocks, got {len(data)} bytes")
        if iv is not None and len(iv) != _BLOCK:
            raise UsageError(f"an AES-CBC IV is 16 bytes, got {len(iv)}")
        self._live()
        op = "encrypt" if encrypt else "decrypt"
        with _token_errors(f"{mechanism.name} {op} with {key.label!r}"):
            fn = _op(key, op)
            return bytes(fn(bytes(data), mechanism=mechanism,
                            mechanism_param=None if iv is None else bytes(iv)))

    def random(self, n: int) -> bytes:
        """*n* random bytes from the token's generator (1..4096).

        :raises UsageError: *n* out of range.
        """
        if not 1 <= n <= 4096:
            raise UsageError(f"random byte count out of range: {n}")
        session = self._live()
        with _token_errors("random"):
            return bytes(session.generate_random(n * 8))
