"""No secret or personal datum in the repr / str of any result object (issue 8).

Every object a public session or service operation returns, and the errors they raise, are
collected from the emulated cards; none of their ``repr()`` / ``str()`` may contain a PIN,
the My Number, 照合番号B, the name, the address, the birth date, the 住民票コード, the card
id or the sign certificate.  (Old code: ``repr(SignResult)`` carried the sign certificate;
``repr(TextApSignature)`` the digests of the My Number and 基本4情報 EFs — brute-forceable —
and ``repr(CommonCardId)`` the card number.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from emulated_support import PINS, MakeCard, PinLedger, find_file, profile_json

from jukicard.card import (
    JukiSession,
    TextSession,
    VisualSession,
    open_card,
)
from jukicard.card.dataobjects import (
    ApBasicInfo,
    BasicInfo,
    CommonCardId,
    CvCertificate,
    MyNumber,
    TextApSignature,
)
from jukicard.errors import JukiError
from jukicard.services import (
    ScriptedInteraction,
    card_info,
    pin_status_all,
    read_verified,
    sign_digest,
)
from jukicard.services.readers import CardIdentity, WatchReport

DIGEST = hashlib.sha256(b"reprs").digest()


def _ef(profile: str, app: str, fid: str) -> bytes:
    return bytes.fromhex(find_file(profile_json(profile), app, fid)["data"])


def _secrets() -> list[str]:
    """Long enough not to occur by chance in a repr of keys or hashes."""
    prof = profile_json("mynumber-01")
    basic = BasicInfo.parse(_ef("mynumber-01", "text", "0002"))
    birth = basic.birth
    out = [
        MyNumber.parse(_ef("mynumber-01", "text", "0001")).digits,
        find_file(prof, "text", "0015")["value"],  # 照合番号B
        basic.name, basic.address, basic.address[:4],
        birth.isoformat(), birth.strftime("%Y%m%d"),
        PINS["sign"], PINS["juki_sign"],
        _ef("juki-01", "juki", "0001").decode("ascii"),  # 住民票コード
        CommonCardId.parse(bytes.fromhex(find_file(prof, "common", "0001")["records"][0])).number,
        repr(_ef("mynumber-01", "jpki", "0001"))[2:40],  # the sign certificate's bytes
        _ef("mynumber-01", "jpki", "0001")[:32].hex(),
        # the digest of the My Number EF (12 digits with a check digit: brute-forceable)
        repr(hashlib.sha256(_ef("mynumber-01", "text", "0001")).digest())[2:30],
        hashlib.sha256(_ef("mynumber-01", "text", "0001")).hexdigest(),
    ]
    assert all(len(s) >= 4 for s in out)
    return out


SECRETS = _secrets()


def _results(make_card: MakeCard, pins: PinLedger) -> list[Any]:
    out: list[Any] = []
    emu = make_card("mynumber-01")
    t = emu.transport
    card = open_card(t)
    out += [card, card.token]
    out += list(pin_status_all(t, card=card))
    out.append(card.jpki().pin_status(card.jpki().PINS[0]))
    info = card_info(t, at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    out += [info, *info.certificates, *info.applications]
    res = sign_digest(t, ScriptedInteraction([pins.submit(PINS["sign"])]), DIGEST,
                      include_certificate=True)
    out.append(res)
    verified = read_verified(t, ScriptedInteraction([pins.submit(PINS["text"])]))
    match_a, basic = verified
    out += [verified, match_a, basic, getattr(verified, "signature_check", None)]
    text = TextSession(t)
    out += [text.read_ap_basic_info(), text.read_cv_certificate()]
    out += [TextApSignature.parse(_ef("mynumber-01", "text", "0003")),
            CvCertificate.parse(_ef("mynumber-01", "text", "0004")),
            ApBasicInfo.parse(_ef("mynumber-01", "text", "0005"))]
    visual = VisualSession(t)
    out.append(visual.read_entries(match_a=pins.submit(match_a.digits)))
    birth_pin = find_file(profile_json("mynumber-01"), "visual", "0011")["value"]
    out.append(visual.read_birth(pins.submit(birth_pin)))
    out.append(CommonCardId.parse(bytes.fromhex(
        find_file(profile_json("mynumber-01"), "common", "0001")["records"][0])))
    out += [CardIdentity(card.card_type.value, ("jpki",), None),
            WatchReport("card-inserted", "Reader 0", b";", None)]
    # errors raised with secrets around: a wrong PIN, a swapped call
    for run in (lambda: card.jpki().verify(card.jpki().PINS[1], pins.submit("WRONG1")),
                lambda: text.verify(match_a.digits, text.PINS[1])):  # type: ignore[arg-type]
        try:
            run()
        except JukiError as exc:
            out.append(exc)
    juki = make_card("juki-01")
    ja = JukiSession(juki.transport)
    out += [ja.pin_status(), ja.read_resident_code(pins.submit(PINS["juki"]))]
    return [o for o in out if o is not None]


def test_no_result_repr_holds_a_secret(make_card: MakeCard, pins: PinLedger) -> None:
    objects = _results(make_card, pins)
    assert len(objects) > 30
    for obj in objects:
        for text in (repr(obj), str(obj)):
            for secret in SECRETS:
                assert secret not in text, (type(obj).__name__, secret[:3])
