"""Samplers that split one epoch's order across ranks.

Every rank draws the same order from a generator seeded with (seed, epoch) and keeps every
world_size-th index, so ranks never overlap and no communication is needed; set_epoch changes the
order each epoch. `skip` drops the first batches of an epoch when resuming from a mid-epoch save.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class DistributedClassBalancedSampler(Sampler[int]):
    """Draws with replacement, each class with equal probability (weight 1/count per image)."""

    def __init__(self, targets: Sequence[int], *, num_replicas: int, rank: int, seed: int = 0):
        counts = Counter(targets)
        self.weights = torch.tensor([1.0 / counts[t] for t in targets], dtype=torch.double)
        self.num_replicas, self.rank, self.seed, self.epoch = num_replicas, rank, seed, 0
        self.num_samples = math.ceil(len(targets) / num_replicas)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        total = self.num_samples * self.num_replicas
        order = torch.multinomial(self.weights, total, replacement=True, generator=g).tolist()
        return iter(order[self.rank : total : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples


class SkipFirst(Sampler[int]):
    """Wraps a sampler and leaves out its first n indices (the part of an epoch already trained)."""

    def __init__(self, sampler: Sampler[int], n: int = 0):
        self.sampler, self.n = sampler, n

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        it = iter(self.sampler)
        for _ in range(self.n):
            next(it, None)
        return it

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.n)
