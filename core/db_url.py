"""Is a `--db` value a database URL or a file path? Here, outside core.store, because the GUI asks
before the window shows, and importing core.store pulls in SQLAlchemy (core.store.location parses the URL)."""
from __future__ import annotations

import os
import re

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(text: str | os.PathLike) -> bool:
    return isinstance(text, str) and bool(_URL.match(text))
