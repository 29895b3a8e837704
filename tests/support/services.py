"""What the fixtures that start real services (SLURM, PostgreSQL) share: free local ports, and the
rule for a service that cannot run here: skip with the reason, except under CI (env CI set), where
the tests must run, so it is a failure."""
from __future__ import annotations

import os
import random
import socket

import pytest


def free_ports(count: int = 1) -> int:
    """The first of `count` consecutive local TCP ports that are all free now, below the kernel's
    ephemeral range: a server started a moment later still finds them free, where a port from that
    range (what binding port 0 gives) may by then be the local end of any outgoing connection (seen
    with two test workers: the second SLURM node's port, one above a port found free, already taken)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32768
    low, high = 10000, max(ephemeral, 11000) - count
    for _ in range(200):
        first = random.SystemRandom().randrange(low, high)  # not the global generator: tests seed it
        try:
            for port in range(first, first + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise RuntimeError(f"no {count} consecutive free ports between {low} and {high + count}")


def unavailable(reason: str, service: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so {service} tests must run)", pytrace=False)
    pytest.skip(reason)
