"""Card authentication on the 券面事項確認AP (issue 11, part C): in-process (loopback
transport → CardOS) and through pcscd + vpcd, against a plain-read baseline of the same
run: ``VisualSession.read_entries`` (VERIFY 照合番号B + the entries EF 0002), which card
authentication contains (plus EF 0004, GET CHALLENGE, 80 2A and the offline chain check).

``python3 -m pytest benchmarks/test_card_authenticate.py --benchmark-only``.  The ratio is
computed from the table (median card authentication / median plain read, same layer);
nothing here asserts on time.  Each run VERIFYs 照合番号B with its right value (the
counter is not spent).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jukicard.card.cardauth import CardAuthPolicy, CvCaKey, TrustLevel
from jukicard.card.cvc import CvCertificate

ROOT = Path(__file__).resolve().parents[1]
_ROOT_CV = CvCertificate.parse((ROOT / "vectors/pki/cv/jlis-root.cvc").read_bytes())
POLICY = CardAuthPolicy((CvCaKey.from_cv_certificate(_ROOT_CV, production=False),),
                        production=False)


def _match_b(profile_path: Path) -> str:
    data = json.loads(profile_path.read_text(encoding="utf-8"))
    app = next(a for a in data["applications"] if a["name"] == "visual")
    return str(next(f for f in app["files"] if f["fid"] == "0012")["value"])


def _runs(transport: Any, match_b: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
    from jukicard.card.visual import VisualSession

    session = VisualSession(transport)

    def read() -> Any:
        return session.read_entries(match_b=match_b)

    def authenticate() -> Any:
        result = session.authenticate_card(match_b=match_b, policy=POLICY)
        assert result.level is TrustLevel.VERIFIED_TO_JLIS_CA
        return result

    return read, authenticate


@pytest.mark.parametrize("kind", ["plain read (VERIFY + EF 0002)", "visual card authentication"])
def test_in_process(measure: Callable[..., Any], cardos: Any, profile_path: Path,
                    kind: str) -> None:
    from jukicard.transport.loopback import LoopbackTransport

    read, authenticate = _runs(LoopbackTransport(cardos), _match_b(profile_path))
    fn = authenticate if "authentication" in kind else read
    measure(f"in-process: {kind}", "card authenticate", fn)


@pytest.mark.parametrize("kind", ["plain read (VERIFY + EF 0002)", "visual card authentication"])
def test_vpcd(measure: Callable[..., Any], vpcd_bridge: Any, profile_path: Path,
              kind: str) -> None:
    from jukicard.transport import pcsc

    transport = pcsc.PcscTransport(vpcd_bridge.reader, share="exclusive")
    try:
        read, authenticate = _runs(transport, _match_b(profile_path))
        fn = authenticate if "authentication" in kind else read
        measure(f"vpcd: {kind}", "card authenticate (vpcd)", fn)
    finally:
        transport.close()
