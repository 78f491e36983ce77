"""jukicard: smart-card and authentication middleware for 住基カード and マイナンバーカード.

Layers (each imports only the ones before it)::

    errors → apdu → transport → card → services → cli
    pki (validator, fast path) and operator (vein login) sit beside card
    emulator uses only apdu and errors
"""

from __future__ import annotations

__version__ = "0.1.0"
