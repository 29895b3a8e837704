"""What the fixtures that start real services (SLURM, PostgreSQL) share: a free local port, and the
rule for a service that cannot run here: skip with the reason, except under CI (env CI set), where
the tests must run, so it is a failure."""
from __future__ import annotations

import os
import socket

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unavailable(reason: str, service: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so {service} tests must run)", pytrace=False)
    pytest.skip(reason)
