"""Where santong writes when no option says: a per-user state folder, never the source tree or beside a config.

``state_dir()`` is ``$SANTONG_STATE_DIR``, else ``$XDG_STATE_HOME/santong``, else ``~/.local/state/santong``.

Example::

    queue = state_dir() / "kj-substation-KJ-FZ-001-queue.db"
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["safe_name", "state_dir"]


def state_dir() -> Path:
    """The per-user state folder (not created here)."""
    explicit = os.environ.get("SANTONG_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / "santong"


def safe_name(text: str) -> str:
    """``text`` usable as one file-name component (letters, digits, ``.-_``; anything else becomes ``_``)."""
    return re.sub(r"[^0-9A-Za-z._-]", "_", text).strip(".") or "_"
