"""The card data objects under their former module name.

Each application's data objects live beside its session now —
:mod:`jukicard.card.jpki_data`, :mod:`jukicard.card.text_data`,
:mod:`jukicard.card.visual_data`, :mod:`jukicard.card.common_data`,
:mod:`jukicard.card.juki_data`, :mod:`jukicard.card.cvc` — and are re-exported here
unchanged for existing imports.
"""

from __future__ import annotations

from jukicard.card.codec import Sex
from jukicard.card.common_data import CommonCardId
from jukicard.card.cvc import CvCertificate
from jukicard.card.jpki_data import TOKEN_EF_SIZE, TokenInfo, TokenKind
from jukicard.card.text_data import (
    AP_BASIC_INFO_EF_SIZE,
    BASIC_INFO_EF_SIZE,
    MY_NUMBER_EF_SIZE,
    ApBasicInfo,
    BasicInfo,
    MyNumber,
    SignatureCheck,
    TextApSignature,
    VerifiedTextData,
    basic_info_hash_range,
    is_valid_my_number,
    my_number_check_digit,
)
from jukicard.card.visual_data import VisualBirth, VisualEntries
from jukicard.errors import DataIntegrityError

__all__ = [
    "DataIntegrityError",
    "TokenKind",
    "TokenInfo",
    "my_number_check_digit",
    "is_valid_my_number",
    "MyNumber",
    "Sex",
    "BasicInfo",
    "basic_info_hash_range",
    "TextApSignature",
    "CvCertificate",
    "ApBasicInfo",
    "SignatureCheck",
    "VerifiedTextData",
    "VisualBirth",
    "VisualEntries",
    "CommonCardId",
    "MY_NUMBER_EF_SIZE",
    "BASIC_INFO_EF_SIZE",
    "AP_BASIC_INFO_EF_SIZE",
    "TOKEN_EF_SIZE",
]
