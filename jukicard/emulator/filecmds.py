"""File commands of the emulated card: SELECT, READ BINARY, READ RECORD.

======================  ===============================================================
``00 A4`` SELECT        P1=04 by DF name (P2=0C none, 00 FCI ``6F``, 04 FCP ``62``);
                        P1=02 EF in current DF (data = 2-byte FID; P2=00/04 → FCP);
                        P1=00 with ``3F00``/no data = MF, other FID = as P1=02.
``00 B0`` READ BINARY   15-bit offset in P1P2, or SFI form (P1 = 80|SFI, offset in P2).
``00 B2`` READ RECORD   P2 = 04 (current EF) or SFI<<3|04; also mode 05 (P1..last).
======================  ===============================================================

SELECT by DF name clears the security state and closes any secure-messaging session.
"""

from __future__ import annotations

from typing import ClassVar

from jukicard.apdu.command import CommandApdu
from jukicard.apdu.sw import SW
from jukicard.emulator.fs import BinaryEF, ElementaryFile, RecordEF
from jukicard.emulator.state import CardState, SwError

__all__ = ["FileCommands"]


class FileCommands(CardState):
    """SELECT / READ BINARY / READ RECORD over :attr:`CardState.fs`."""

    COMMANDS: ClassVar[dict[tuple[int, int], str]] = {
        (0x00, 0xA4): "_select",
        (0x00, 0xB0): "_read_binary",
        (0x00, 0xB2): "_read_record",
    }

    def _fcp(self, ef: ElementaryFile) -> bytes:
        if isinstance(ef, BinaryEF):
            descriptor = 0x01
        elif isinstance(ef, RecordEF):
            descriptor = 0x04
        else:
            descriptor = 0x08  # internal EF
        size = min(ef.size, 0xFFFF)
        body = (self._tlv(0x80, size.to_bytes(2, "big")) + self._tlv(0x82, bytes((descriptor,)))
                + self._tlv(0x83, ef.fid.to_bytes(2, "big")))
        return self._tlv(0x62, body)

    # ------------------------------------------------------------------ SELECT
    def _select(self, cmd: CommandApdu) -> bytes:
        p1, p2 = cmd.p1, cmd.p2
        if p2 & 0x03 or p2 & 0xF0 or (p2 & 0x0C) == 0x08:
            raise SwError(SW.INCORRECT_P1P2)  # only "first occurrence" and FCI/FCP/none
        if p1 == 0x04:
            if not cmd.data:
                raise SwError(SW.WRONG_LENGTH)
            df = self.fs.find_df(cmd.data)
            if df is None:
                raise SwError(SW.FILE_NOT_FOUND)
            self._df, self._ef = df, None
            self._verified.clear()  # SELECT by DF name clears the security state
            self.secure_channel = None  # ... and closes a secure-messaging session
            if p2 == 0x0C:
                return b""
            if p2 == 0x04:
                body = self._tlv(0x82, b"\x38") + self._tlv(0x84, df.aid)
                return self._fit(self._tlv(0x62, body), cmd.le)
            return self._fit(self._tlv(0x6F, self._tlv(0x84, df.aid)), cmd.le)
        if p1 == 0x00 and cmd.data in (b"", b"\x3f\x00"):
            self._df, self._ef = None, None  # MF: no EFs in this model
            self._verified.clear()
            self.secure_channel = None
            return b""
        if p1 in (0x00, 0x02):
            if len(cmd.data) != 2:
                raise SwError(SW.WRONG_LENGTH)
            df = self._need_df()
            ef = df.get(int.from_bytes(cmd.data, "big"))
            if ef is None:
                raise SwError(SW.FILE_NOT_FOUND)
            self._ef = ef
            if p2 == 0x0C:
                return b""
            return self._fit(self._fcp(ef), cmd.le)
        raise SwError(SW.INCORRECT_P1P2)

    def _resolve_sfi(self, sfi: int) -> ElementaryFile:
        df = self._need_df()
        ef = df.by_sfi(sfi)
        if ef is None:
            raise SwError(SW.FILE_NOT_FOUND)
        self._ef = ef  # SFI access makes the EF current (ISO 7816-4)
        return ef

    # ------------------------------------------------------------------ READ BINARY
    def _read_binary(self, cmd: CommandApdu) -> bytes:
        if cmd.data or cmd.le is None:
            raise SwError(SW.WRONG_LENGTH)
        if cmd.p1 & 0x80:
            if cmd.p1 & 0x60 or not 1 <= cmd.p1 & 0x1F <= 30:
                raise SwError(SW.INCORRECT_P1P2)
            ef: ElementaryFile | None = self._resolve_sfi(cmd.p1 & 0x1F)
            offset = cmd.p2
        else:
            ef = self._ef
            offset = (cmd.p1 << 8) | cmd.p2
        if ef is None:
            raise SwError(SW.COMMAND_NOT_ALLOWED_NO_EF)
        if not isinstance(ef, BinaryEF):
            raise SwError(SW.COMMAND_INCOMPATIBLE_WITH_FILE)
        if not ef.read.satisfied_by(self._verified):
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
        if offset >= ef.size:
            raise SwError(SW.WRONG_P1P2)
        return ef.data[offset:offset + cmd.le]

    # ------------------------------------------------------------------ READ RECORD
    def _read_record(self, cmd: CommandApdu) -> bytes:
        if cmd.data or cmd.le is None:
            raise SwError(SW.WRONG_LENGTH)
        mode, sfi = cmd.p2 & 0x07, cmd.p2 >> 3
        if mode not in (0x04, 0x05) or sfi == 31 or cmd.p1 == 0:
            raise SwError(SW.INCORRECT_P1P2)
        ef = self._resolve_sfi(sfi) if sfi else self._ef
        if ef is None:
            raise SwError(SW.COMMAND_NOT_ALLOWED_NO_EF)
        if not isinstance(ef, RecordEF):
            raise SwError(SW.COMMAND_INCOMPATIBLE_WITH_FILE)
        if not ef.read.satisfied_by(self._verified):
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
        if cmd.p1 > len(ef.records):
            raise SwError(SW.RECORD_NOT_FOUND)
        if mode == 0x04:
            data = ef.records[cmd.p1 - 1]
        else:
            data = b"".join(ef.records[cmd.p1 - 1:])
        return data[:cmd.le]
