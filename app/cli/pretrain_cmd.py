"""`inspector pretrain`: formula-driven pretraining as a job (local torchrun or SLURM), resumable."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pretrain", help="pretrain a model on generated formula images (no data needed), as a job",
        description="Writes OUT/job.json and submits it like a fine-tune (torchrun locally or sbatch). Images are "
                    "generated on the fly (1000 IFS categories on procedural surfaces). Run the same command "
                    "again to continue after a stop. The result is OUT/out/best.safetensors; "
                    "scripts/make_start_checkpoint.py makes the shipped starting point from it.")
    p.add_argument("--out", required=True, metavar="DIR", help="job folder")
    p.add_argument("--arch", default="aan_s")
    p.add_argument("--from", dest="start_from", metavar="CKPT",
                   help="continue from this checkpoint instead of random weights (a curriculum: e.g. 1000 "
                        "categories after 100; its head is replaced when the categories differ)")
    p.add_argument("--pool", default="attn", help="classifier pooling of the pretrained model (default: attn)")
    p.add_argument("--backend", choices=("local", "slurm"))
    p.add_argument("--profile", metavar="NAME", help="backend profile (default: local-cpu, or slurm-gpu with --backend slurm)")
    p.add_argument("--profiles-file", metavar="TOML")
    p.add_argument("--gpus", type=int, metavar="N", help="GPUs per node; 0 trains on CPU (gloo)")
    p.add_argument("--nproc", type=int, metavar="N", help="processes per node (default: one per GPU)")
    p.add_argument("--nodes", type=int, metavar="N", help="SLURM nodes, one torchrun each (default: the profile's, 1)")
    p.add_argument("--partition", metavar="P")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--images-per-epoch", type=int, default=50_000)
    p.add_argument("--categories", type=int, default=1000)
    p.add_argument("--input-size", type=int, default=96)
    p.add_argument("--in-chans", type=int, choices=(1, 3), default=1)
    p.add_argument("--batch-size", type=int, default=64, metavar="B", help="per process")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--workers", type=int, default=1, help="image-generating processes per training process")
    p.add_argument("--compile", action="store_true", help="torch.compile (CUDA)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps-per-epoch", type=int, metavar="N", help="cap epochs (smoke tests)")
    p.add_argument("--wait", action="store_true", help="follow the job until it ends")
    p.add_argument("--poll", type=float, default=5.0, metavar="S")
    p.set_defaults(func=pretrain)


def pretrain(args: argparse.Namespace) -> int:
    from training.backends import make_backend
    from training.backends.base import JobSpec
    from training.pretrain import pretrain_config, write_job
    from usecases.finetune_jobs import choose_profile

    profile = choose_profile(args.profile, backend=args.backend, gpus=args.gpus, nproc=args.nproc,
                             partition=args.partition, nodes=args.nodes, profiles_file=args.profiles_file)
    out = Path(args.out).expanduser().absolute()
    arch = args.arch
    if args.start_from:
        from core.model.checkpoint import CheckpointError, read_metadata

        start = Path(args.start_from).expanduser().absolute()  # the job runs in its own folder
        try:
            read_metadata(start)
        except CheckpointError as e:
            print(f"inspector: --from: {e}", file=sys.stderr)
            return 2
        arch = str(start)
    cfg = pretrain_config(out, arch=arch, pool=args.pool, categories=args.categories, images_per_epoch=args.images_per_epoch,
                          epochs=args.epochs, input_size=args.input_size, in_chans=args.in_chans,
                          batch_size=args.batch_size, lr=args.lr, device=profile.device, seed=args.seed,
                          num_workers=args.workers, compile=args.compile, max_steps_per_epoch=args.max_steps_per_epoch)
    config_path = write_job(out, cfg)
    from training.backends.base import CANCEL_FILE, EXIT_CODE_FILE

    for name in (EXIT_CODE_FILE, CANCEL_FILE):  # the last run's outcome, not the next one's
        (out / name).unlink(missing_ok=True)
    spec = JobSpec(name=f"inspector-pretrain-{out.name}", job_dir=out, config_path=config_path)
    backend = make_backend(profile)
    external_id = backend.submit(spec)
    (out / "external_id").write_text(f"{profile.backend} {external_id}\n")
    print(f"pretraining submitted to {profile.backend} (profile {profile.name}, id {external_id}); folder {out}")
    print(backend.render(spec))
    sys.stdout.flush()
    if not args.wait:
        return 0
    return _follow(backend, external_id, out, args.poll)


def _follow(backend, external_id: str, out: Path, poll: float) -> int:
    from training.metrics_log import METRICS_FILE, read_metrics

    last = None
    while True:
        status = backend.status(external_id, out)
        records = read_metrics(out / "out" / METRICS_FILE)
        epoch = next((r for r in reversed(records) if r["kind"] == "epoch"), None)
        step = next((r for r in reversed(records) if r["kind"] == "step"), None)
        line = f"pretraining: {status.state}"
        if step:
            line += f"  step {step['global_step']}  loss {step['loss']:.3f}  {step['images_per_s']:.0f} img/s"
        if epoch:
            line += f"  epoch {epoch['epoch'] + 1}  held-out acc {epoch.get('val_acc', float('nan')):.3f}"
        if line != last:
            print(line, flush=True)
            last = line
        if status.final:
            break
        time.sleep(poll)
    if status.state != "succeeded":
        print(f"inspector: pretraining {status.state}: {status.detail}".rstrip(), file=sys.stderr)
        return 1
    print(f"pretraining done: {out / 'out' / 'best.safetensors'}")
    return 0
