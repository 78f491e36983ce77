"""Transport quirks as stacked processors.

Each processor wraps an inner :class:`~jukicard.apdu.processor.Processor` and handles one
quirk, so sessions never see ``61xx``/``6Cxx`` and never split data by hand:

* :class:`GetResponseProcessor` — ``61xx`` → GET RESPONSE loop (bounded).
* :class:`WrongLengthReissueProcessor` — ``6Cxx`` → re-send once with the exact Le.
* :class:`CommandChainingProcessor` — data longer than one short APDU → ISO command chaining.
* :class:`ExtendedLengthFallbackProcessor` — extended-length commands on a path that cannot
  carry them: chunked READ BINARY, command chaining, or short Le.

:func:`build_stack` puts them in the right order.

NOTE: PIN counters are sacred.  A PIN-bearing command (VERIFY, CHANGE REFERENCE DATA,
RESET RETRY COUNTER, ENABLE/DISABLE VERIFICATION REQUIREMENT: see :data:`PIN_INS`) is
**never re-sent** by any processor here, whatever the status word: a re-sent wrong PIN costs
a try, and on the JPKI sign password a blocked PIN means a trip to the municipal counter.
Fetching the rest of a response with GET RESPONSE is not a re-send and stays allowed.

NOTE: nor is a secure-messaging command (CLA with SM bits: :func:`is_secure_messaging`)
re-sent: the card counts every SM command it receives (the text AP's counter,
``card-security.md`` §1), so a re-sent one would throw the host's counter out of step with
the card's — and a VERIFY under SM carries a 照合番号.  Its answer (``6Cxx``, ``6700``) goes
up unchanged to the SM layer, which decides (it ends the session).
"""

from __future__ import annotations

import logging

from jukicard.apdu.command import SHORT_MAX_LC, SHORT_MAX_LE, CommandApdu, ResponseApdu
from jukicard.apdu.processor import Processor
from jukicard.apdu.sw import SW, error_for, is_bytes_remaining, is_wrong_le
from jukicard.errors import BadResponse, MalformedApduError, UsageError

__all__ = [
    "PIN_INS",
    "is_pin_command",
    "is_secure_messaging",
    "never_resent",
    "GetResponseProcessor",
    "WrongLengthReissueProcessor",
    "CommandChainingProcessor",
    "ExtendedLengthFallbackProcessor",
    "build_stack",
]

logger = logging.getLogger(__name__)

#: INS codes whose command data carries a PIN or whose effect touches a retry counter:
#: VERIFY (20/21), CHANGE REFERENCE DATA (24), DISABLE / ENABLE VERIFICATION REQUIREMENT
#: (26/28), RESET RETRY COUNTER (2C/2D).  Processors never re-send these.
PIN_INS: frozenset[int] = frozenset({0x20, 0x21, 0x24, 0x26, 0x28, 0x2C, 0x2D})

INS_GET_RESPONSE = 0xC0
INS_READ_BINARY = 0xB0
CLA_CHAINING = 0x10
MAX_SHORT_OFFSET = 0x7FFF


def is_pin_command(cmd: CommandApdu) -> bool:
    """True if ``cmd`` must never be re-sent (its INS is in :data:`PIN_INS`)."""
    return cmd.ins in PIN_INS


def is_secure_messaging(cmd: CommandApdu) -> bool:
    """True if ``cmd``'s CLA has secure-messaging bits (ISO/IEC 7816-4 §5.4.1: b4-b3 of a
    first inter-industry or proprietary CLA, b6 of a further inter-industry one).  Errs on
    the side of True: such a command is never re-sent."""
    cla = cmd.cla
    if cla == 0xFF:
        return False
    if cla & 0xC0 == 0x40:  # further inter-industry class
        return bool(cla & 0x20)
    return bool(cla & 0x0C)


#: Authentication and key-establishment instructions: EXTERNAL / MUTUAL AUTHENTICATE (82),
#: INTERNAL AUTHENTICATE (88) and the text AP's SET SESSION KEY (``80 AE``).  Each consumes
#: card state (a challenge, a failure counter, a session) on the first send.
AUTH_INS = frozenset({0x82, 0x88})
SET_SESSION_KEY = (0x80, 0xAE)


def is_authentication(cmd: CommandApdu) -> bool:
    """True for an authentication or key-establishment command (:data:`AUTH_INS`, or
    ``80 AE`` SET SESSION KEY)."""
    return ((cmd.cla & 0x80) == 0 and cmd.ins in AUTH_INS) or \
        (cmd.cla & 0xF0, cmd.ins) == SET_SESSION_KEY


def never_resent(cmd: CommandApdu) -> bool:
    """True if no processor may send ``cmd`` a second time: a PIN command
    (:func:`is_pin_command`), a secure-messaging one (:func:`is_secure_messaging`) or an
    authentication / key-establishment one (:func:`is_authentication`: a second send would
    meet a used challenge or count as a failed authentication)."""
    return is_pin_command(cmd) or is_secure_messaging(cmd) or is_authentication(cmd)


def _get_response_cla(cla: int) -> int:
    """CLA for GET RESPONSE: interindustry, same logical channel, no chaining / SM bits."""
    if cla & 0x80:  # proprietary class (e.g. JPKI's 80 2A): GET RESPONSE is interindustry
        return 0x00
    if cla & 0x40:  # further interindustry: b4-b1 channel number
        return 0x40 | (cla & 0x0F)
    return cla & 0x03  # first interindustry: b2-b1 channel number


def _hdr(cmd: CommandApdu) -> str:
    return f"{cmd.cla:02X} {cmd.ins:02X} {cmd.p1:02X} {cmd.p2:02X}"


class GetResponseProcessor:
    """Collect ``61xx`` responses with GET RESPONSE (``00 C0 00 00 xx``, ``xx=00`` = 256).

    Data of every round is concatenated; the status word of the last round is returned.
    If a GET RESPONSE ends with an error, that response (with the data collected so far)
    is returned for the caller to check.

    :param inner: the processor below.
    :param max_rounds: maximum number of GET RESPONSE commands for one command.
    :param max_size: maximum total response size in bytes.
    :raises UsageError: if a bound is not positive.
    :raises BadResponse: (from :meth:`send`) if the card keeps answering ``61xx`` past
        either bound.
    """

    def __init__(self, inner: Processor, *, max_rounds: int = 512, max_size: int = 1 << 20):
        if max_rounds < 1 or max_size < 1:
            raise UsageError("max_rounds and max_size must be positive")
        self.inner = inner
        self.max_rounds = max_rounds
        self.max_size = max_size

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        """Send ``cmd``; fetch any remaining response bytes."""
        resp = self.inner.send(cmd)
        if not is_bytes_remaining(resp.sw):
            return resp
        chunks = [resp.data]
        total = len(resp.data)
        rounds = 0
        cla = _get_response_cla(cmd.cla)
        while is_bytes_remaining(resp.sw):
            rounds += 1
            if rounds > self.max_rounds:
                raise BadResponse(
                    f"card still answers 61xx after {self.max_rounds} GET RESPONSE rounds",
                    sw=resp.sw,
                )
            resp = self.inner.send(CommandApdu(cla, INS_GET_RESPONSE, 0, 0, le=resp.sw2 or 256))
            total += len(resp.data)
            if total > self.max_size:
                raise BadResponse(
                    f"response to {_hdr(cmd)} exceeds {self.max_size} bytes", sw=resp.sw
                )
            chunks.append(resp.data)
        logger.debug("GET RESPONSE: %d rounds, %d bytes for %s", rounds, total, _hdr(cmd))
        return ResponseApdu(b"".join(chunks), resp.sw)


class WrongLengthReissueProcessor:
    """On ``6Cxx`` re-send the same command once with ``Le = xx`` (``00`` = 256).

    Never for PIN commands (:data:`PIN_INS`), secure-messaging commands
    (:func:`is_secure_messaging`) nor blocks inside a chain (CLA bit ``10``): their
    ``6Cxx`` is returned unchanged.  A second ``6Cxx`` is returned as is.
    """

    def __init__(self, inner: Processor) -> None:
        self.inner = inner

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        """Send ``cmd``; re-issue it once on ``6Cxx``."""
        resp = self.inner.send(cmd)
        if not is_wrong_le(resp.sw):
            return resp
        if never_resent(cmd):
            # INFO: a card can answer so at will; the session reports the status word
            logger.info("%s answered %04X; PIN and secure-messaging commands are never "
                        "re-sent", _hdr(cmd), resp.sw)
            return resp
        if cmd.cla & CLA_CHAINING:
            return resp
        le = resp.sw2 or SHORT_MAX_LE
        if cmd.le == le:
            return resp
        logger.debug("%s answered %04X: re-issuing with Le=%d", _hdr(cmd), resp.sw, le)
        return self.inner.send(cmd.replace(le=le))


class CommandChainingProcessor:
    """Split command data longer than ``block_size`` into an ISO 7816-4 command chain.

    Every block but the last is sent with CLA bit ``10`` set and no Le; each must answer
    ``9000``.  The last block carries the original CLA and Le (capped to 256, as the chain
    is made of short APDUs); only its response is returned.  Commands with no more than
    ``block_size`` data bytes pass unchanged.

    :param inner: the processor below.
    :param block_size: data bytes per block, 1..255.
    :raises UsageError: if ``block_size`` is out of range.
    :raises CardError: (from :meth:`send`) typed by :func:`~jukicard.apdu.sw.error_for` if
        an intermediate block is not answered ``9000``; the rest of the chain is not sent.
    :raises MalformedApduError: (from :meth:`send`) if a command to be split already has
        the chaining bit set.
    """

    def __init__(self, inner: Processor, *, block_size: int = SHORT_MAX_LC) -> None:
        if not 1 <= block_size <= SHORT_MAX_LC:
            raise UsageError(f"block_size must be 1..{SHORT_MAX_LC}")
        self.inner = inner
        self.block_size = block_size

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        """Send ``cmd``, chaining it if its data is too long."""
        data = cmd.data
        if len(data) <= self.block_size:
            return self.inner.send(cmd)
        if cmd.cla & CLA_CHAINING:
            raise MalformedApduError("command already has the chaining bit set")
        size = self.block_size
        blocks = [data[i : i + size] for i in range(0, len(data), size)]
        logger.debug("chaining %s: %d blocks", _hdr(cmd), len(blocks))
        for block in blocks[:-1]:
            part = CommandApdu(cmd.cla | CLA_CHAINING, cmd.ins, cmd.p1, cmd.p2, block,
                               extended=False)
            resp = self.inner.send(part)
            if resp.sw != SW.SUCCESS:
                raise error_for(resp.sw, resp.data)
        le = None if cmd.le is None else min(cmd.le, SHORT_MAX_LE)
        last = CommandApdu(cmd.cla, cmd.ins, cmd.p1, cmd.p2, blocks[-1], le=le, extended=False)
        return self.inner.send(last)


class ExtendedLengthFallbackProcessor:
    """Send extended-length commands only where the path can carry them.

    ``extended_supported``:

    * ``True`` — extended commands pass unchanged.
    * ``False`` — extended commands are turned into short ones: a case-2E READ BINARY
      (INS ``B0``) becomes successive short reads of up to 256 bytes; data longer than 255
      bytes is sent with command chaining; a Le above 256 is capped to 256 (``00``, the
      ``61xx`` GET RESPONSE processor below fetches any rest).  A command forced extended
      that fits the short form is sent short.
    * ``None`` (unknown) — the first extended command is sent as is.  If it is answered
      ``6700`` (wrong length), the path is marked unsupported and the command is sent
      again once in short form; any other answer marks it supported.

    Only ``6700`` teaches "unsupported"; transport errors propagate and teach nothing.
    What was learnt belongs to one card: :meth:`forget` goes back to the configured value
    (the session channel calls it when the card is removed, reset or replaced).

    NOTE: a PIN command (:data:`PIN_INS`) or a secure-messaging command
    (:func:`is_secure_messaging`) answered ``6700`` is returned as is and never re-sent (PIN
    counters are sacred; an SM command re-sent puts the SM counter out of step).

    :param inner: the processor below (normally a GET RESPONSE processor).
    :param extended_supported: see above.
    :param chain_block_size: block size for command chaining.
    """

    def __init__(
        self,
        inner: Processor,
        *,
        extended_supported: bool | None = None,
        chain_block_size: int = SHORT_MAX_LC,
    ) -> None:
        self.inner = inner
        self.configured: bool | None = extended_supported
        self.extended_supported = extended_supported
        self._chain = CommandChainingProcessor(inner, block_size=chain_block_size)

    def forget(self) -> None:
        """Forget what the card taught (back to the configured ``extended_supported``)."""
        if self.extended_supported != self.configured:
            logger.debug("extended-length support forgotten (was %s)", self.extended_supported)
        self.extended_supported = self.configured

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        """Send ``cmd``, in short form if extended length is not available."""
        if not cmd.is_extended or self.extended_supported is True:
            return self.inner.send(cmd)
        if self.extended_supported is False:
            return self._send_short(cmd)
        resp = self.inner.send(cmd)
        if resp.sw != SW.WRONG_LENGTH:
            self.extended_supported = True
            return resp
        if never_resent(cmd):
            # INFO: a card can answer so at will; the session reports the status word
            logger.info("%s (extended) answered 6700; PIN and secure-messaging commands are "
                        "never re-sent", _hdr(cmd))
            return resp
        logger.info("extended-length APDU refused (6700): falling back to short APDUs")
        self.extended_supported = False
        return self._send_short(cmd)

    def _send_short(self, cmd: CommandApdu) -> ResponseApdu:
        if cmd.fits_short:
            return self.inner.send(cmd.replace(extended=False))
        if cmd.ins == INS_READ_BINARY and not cmd.data and cmd.le is not None:
            return self._read_binary_chunked(cmd, cmd.le)
        if len(cmd.data) > SHORT_MAX_LC:
            return self._chain.send(cmd)
        le = None if cmd.le is None else min(cmd.le, SHORT_MAX_LE)
        return self.inner.send(cmd.replace(le=le, extended=False))

    def _read_binary_chunked(self, cmd: CommandApdu, wanted: int) -> ResponseApdu:
        """READ BINARY of ``wanted`` bytes as short reads of at most 256 bytes.

        The first read keeps P1/P2 as given (offset or SFI form: an SFI read makes that EF
        current); the following ones use 15-bit offsets.  Stops at end of file (short
        chunk, ``6282``, or ``6B00`` on a later read), like one extended read would.
        """
        if cmd.p1 & 0x80:  # P1 = 80 | SFI, P2 = offset
            base = cmd.p2
        else:
            base = (cmd.p1 << 8) | cmd.p2
        chunks: list[bytes] = []
        got = 0
        final_sw = int(SW.SUCCESS)
        while got < wanted:
            n = min(wanted - got, SHORT_MAX_LE)
            if not chunks:
                p1, p2 = cmd.p1, cmd.p2
            else:
                pos = base + got
                if pos > MAX_SHORT_OFFSET:
                    raise MalformedApduError(
                        f"READ BINARY offset {pos} does not fit 15 bits (P1-P2)"
                    )
                p1, p2 = pos >> 8, pos & 0xFF
            resp = self.inner.send(CommandApdu(cmd.cla, cmd.ins, p1, p2, le=n, extended=False))
            if not chunks:
                if resp.sw not in (SW.SUCCESS, SW.END_OF_FILE):
                    return resp
            elif resp.sw == SW.WRONG_P1P2:  # offset at end of file
                break
            elif resp.sw not in (SW.SUCCESS, SW.END_OF_FILE):
                return ResponseApdu(b"", resp.sw)
            chunks.append(resp.data)
            got += len(resp.data)
            if resp.sw == SW.END_OF_FILE:
                final_sw = resp.sw
                break
            if len(resp.data) < n:
                break
        logger.debug("READ BINARY %s: %d bytes in %d short reads", _hdr(cmd), got, len(chunks))
        return ResponseApdu(b"".join(chunks), final_sw)


def build_stack(
    base: Processor, *, extended: bool | None = None
) -> ExtendedLengthFallbackProcessor:
    """Stack the quirk processors on ``base`` in the right order.

    From the top: extended-length fallback (with command chaining) → GET RESPONSE →
    6Cxx re-issue → ``base``.  GET RESPONSE sits above the re-issue so a re-issued command
    answered ``61xx`` is completed, and a GET RESPONSE answered ``6Cxx`` is re-issued.

    :param base: the bottom processor (e.g. a :class:`~jukicard.apdu.processor.TransmitProcessor`).
    :param extended: whether the reader and card carry extended-length APDUs: ``True``,
        ``False``, or ``None`` to learn it from the first extended command.
    """
    return ExtendedLengthFallbackProcessor(
        GetResponseProcessor(WrongLengthReissueProcessor(base)),
        extended_supported=extended,
    )
