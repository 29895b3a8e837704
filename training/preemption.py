"""SIGTERM handling: a stop request acted on between steps, and DataLoader workers that survive it.

A cancel or a scheduler's preemption sends SIGTERM to the whole process group (local backend) or
to every process of the job (SLURM), DataLoader workers included. A worker killed mid-batch makes
its rank crash instead of saving, so workers ignore SIGTERM (the main process ends them after it
has saved). A worker is forked with SIGTERM blocked and switches to "ignore" before unblocking,
so a signal that arrives while it starts is discarded rather than fatal.
"""
from __future__ import annotations

import signal
from collections.abc import Iterable, Iterator

_TERM = {signal.SIGTERM}


class StopRequest:
    """Set by SIGTERM; acted on only between optimiser steps, agreed on by all ranks."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        self.requested = True


def worker_init(_worker_id: int) -> None:
    import torch

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _TERM)
    torch.set_num_threads(1)


def iterate(loader: Iterable) -> Iterator:
    """iter(loader) with SIGTERM blocked while the workers are forked (they inherit the mask);
    a SIGTERM meanwhile stays pending and reaches our handler right after."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _TERM)
    try:
        return iter(loader)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
