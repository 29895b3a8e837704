"""The recipe's defaults that the window and the command line show before any training code loads.

Torch-free on purpose: `training.config` imports torch through its augmentations, and the Fine-tune
dialog and `inspector finetune --help` must not pay for that. `training.config` takes its defaults
from here, so there is one number for each.
"""
from __future__ import annotations

# Peak AdamW learning rate at a global batch of 32 (square-root scaled; 2e-3 diverged at 32).
PEAK_LR = 1e-3

# How many epochs a job trains unless told. From a start or a trained checkpoint aan_s levels off
# within about 15 epochs; from random weights it is still learning at 30: on the benchmark's 1,400
# demo images test / train accuracy 0.843 / 0.841 after 30 epochs, 0.912 / 0.928 after 60,
# 0.950 / 0.975 after 120 (training/README.md).
FROM_START_EPOCHS = 30
FROM_SCRATCH_EPOCHS = 120


def default_epochs(from_scratch: bool) -> int:
    return FROM_SCRATCH_EPOCHS if from_scratch else FROM_START_EPOCHS
