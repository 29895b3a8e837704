"""Who is acting: the OS user unless the caller (CLI --user, GUI setting) says otherwise."""
from __future__ import annotations

import getpass


def default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers without passwd entry): still record something
        return "unknown"


def resolve_user(user: str | None) -> str:
    return user if user else default_user()
