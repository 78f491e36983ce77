"""jukicard.emulator: an emulated JPKI / My Number / Juki card for tests.

* :class:`CardOS` — pure ``execute(bytes) -> bytes`` card OS built from a card profile;
* :func:`load_profile` / :class:`CardProfile` — card profiles as JSON data
  (``vectors/cards/*.json``, format ``jukicard-card-profile/1``);
* :class:`VpcdBridge` — serves a card to vsmartcard's vpcd (``python -m jukicard.emulator``).

Layering: imports only :mod:`jukicard.apdu` and :mod:`jukicard.errors` (plus
``cryptography`` for the test-only RSA key handling).
"""

from __future__ import annotations

from jukicard.emulator.cardos import SW, CardOS, CardStats, SwError
from jukicard.emulator.profile import (
    DEFAULT_ATR,
    PROFILE_FORMAT,
    AccessCondition,
    ApplicationSpec,
    CardProfile,
    ProfileError,
    load_profile,
    profile_dir,
    resolve_profile_path,
)
from jukicard.emulator.vpcd import VpcdBridge

__all__ = [
    "SW",
    "CardOS",
    "CardStats",
    "SwError",
    "DEFAULT_ATR",
    "PROFILE_FORMAT",
    "AccessCondition",
    "ApplicationSpec",
    "CardProfile",
    "ProfileError",
    "load_profile",
    "profile_dir",
    "resolve_profile_path",
    "VpcdBridge",
]
