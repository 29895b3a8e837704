"""Fine-tune (or train from scratch) with DDP: `torchrun --nproc_per_node=N -m training.finetune --config job.json`.

Also runs as a plain single process (`python -m training.finetune --config job.json`). The training
itself is `training.trainer.train`; this is its job entry point: the process group, SIGTERM, exit codes.

Files in `run.out_dir`:
  config.json        the config of the run
  metrics.jsonl      rank 0: step records every log_every steps, one epoch record per epoch
  resume.pt          full resume state after every epoch and on SIGTERM (weights_only-loadable)
  last.safetensors   Inspector checkpoint of the latest epoch; best.safetensors: best val balanced accuracy
  status.json        running / preempted / succeeded, for whoever watches the job
  result.json        written once training finished: best checkpoint and its metrics

Exit status: 0 finished, 75 stopped by SIGTERM with resume state saved (run the same command again
to continue), 2 bad configuration, anything else a crash.
"""
from __future__ import annotations

import argparse
import sys

from training.config import ConfigError, TrainConfig
from training.trainer import PREEMPTED_EXIT

__all__ = ["PREEMPTED_EXIT", "main", "run"]


def run(cfg: TrainConfig) -> int:
    from training.dist import init_distributed, shutdown
    from training.preemption import StopRequest
    from training.trainer import train

    if cfg.run.out_dir is None:
        raise ConfigError("run.out_dir is required for a job (checkpoints, metrics and resume state go there)")
    stop = StopRequest()
    info = init_distributed(cfg.run.device)
    try:
        result = train(cfg, info=info, stop=lambda: stop.requested)
    finally:
        shutdown()
    return PREEMPTED_EXIT if result.stopped else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.finetune", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="job.json written by Inspector (see training/config.py)")
    args = parser.parse_args(argv)
    try:
        return run(TrainConfig.load(args.config))
    except ConfigError as e:
        print(f"training.finetune: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
