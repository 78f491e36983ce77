"""Where a generator run writes: ``<out>/pki`` and ``<out>/cards``, and the JSON style."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["OutputTree", "dumps"]


def dumps(obj: Any) -> str:
    """JSON as the vectors are written: UTF-8 text, indent 2, a final newline."""
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


@dataclass(frozen=True)
class OutputTree:
    """The output root of one run.

    :ivar root: the output root (``vectors``).
    """

    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def cards(self) -> Path:
        return self.root / "cards"

    @property
    def keys(self) -> Path:
        return self.pki / "keys"

    def write_pki(self, rel: str, data: bytes) -> str:
        """Write ``data`` to ``pki/<rel>``; returns ``rel`` (the manifest's path)."""
        path = self.pki / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return rel

    def write_text(self, path: Path, text: str) -> None:
        """Write UTF-8 text (a README, a profile, the manifest), creating folders."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
