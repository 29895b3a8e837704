"""The CUDA tests (`pytest -m cuda tests/cuda`): each runs a CUDA path of Inspector against its CPU
reference. Without a CUDA device they skip, saying why.

`scripts/gpu_check.py --device cpu` (the dry run of the GPU check) sets INSPECTOR_CUDA_TESTS_ON_CPU=1:
then the CPU stands in for the GPU (bf16 autocast and channels_last on the CPU, torch.compile through
aot_eager instead of inductor, no CUDA graphs), which checks the tests themselves, not a GPU.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

ON_CPU_ENV = "INSPECTOR_CUDA_TESTS_ON_CPU"


def no_cuda_reason() -> str:
    return (f"no CUDA device (torch {torch.__version__}, built for CUDA {torch.version.cuda}: "
            "torch.cuda.is_available() is False); scripts/gpu_check.sh runs these on a GPU machine")


@pytest.fixture
def accel() -> torch.device:
    """The device under test: CUDA, or the CPU standing in for it in the dry run."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if os.environ.get(ON_CPU_ENV) == "1":
        return torch.device("cpu")
    pytest.skip(no_cuda_reason())


@pytest.fixture
def cuda_only(accel) -> torch.device:
    """For what only CUDA has (graph capture and replay)."""
    if accel.type != "cuda":
        pytest.skip("CUDA graphs need a CUDA device; the CPU stand-in of the dry run has none")
    return accel


@pytest.fixture
def image_size(accel) -> int:
    """224 on the GPU (the 14x14 and 7x7 token grids of the product); 128 on the CPU stand-in."""
    return 224 if accel.type == "cuda" else 128


@pytest.fixture
def compile_backend(accel) -> str:
    """inductor on CUDA; aot_eager on the CPU stand-in (inductor there compiles C++ for minutes)."""
    return "inductor" if accel.type == "cuda" else "aot_eager"


@pytest.fixture
def ieee_fp32():
    """True fp32 arithmetic on CUDA while the test runs: cuDNN uses TF32 for fp32 convolutions by
    default (10-bit mantissa), which would hide a real mismatch in a 1e-3 tolerance."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


def _peaked(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Attention maps like a trained model's: freshly initialised queries and keys are so small that
    every map is uniform, where any two implementations agree. Larger q/k weights and a non-zero
    pooling query give peaked maps."""
    from core.model import AttentionPool
    from core.model.attention import AdaptiveAttention

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, AdaptiveAttention):
                qk = m.qkv.weight[: 2 * m.num_heads * m.head_dim]
                qk.copy_(torch.randn(qk.shape, generator=g) * 0.15)
            elif isinstance(m, AttentionPool):
                m.query.copy_(torch.randn(m.query.shape, generator=g))
                m.key.weight.copy_(torch.randn(m.key.weight.shape, generator=g) * 0.15)
    return model


def _relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    actual, expected = actual.detach().float().cpu(), expected.detach().float().cpu()
    return float((actual - expected).norm() / expected.norm().clamp_min(1e-12))


def _write_parts(root: Path, n_per_class: int = 8, size: int = 48) -> Path:
    """Two classes of small RGB PNGs in ImageFolder layout: plain noise, and noise with a bright bar."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(("good", "scratch")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            img = rng.integers(40, 120, (size, size + 8, 3), dtype=np.uint8)
            if c:
                row = 8 + 3 * i
                img[row : row + 3, 4:-4] = 250
            Image.fromarray(img).save(root / name / f"{name}_{i:02d}.png")
    return root


@pytest.fixture
def peaked():
    """peaked(model, seed=0) -> the model with trained-looking (peaked) attention maps."""
    return _peaked


@pytest.fixture
def relative_error():
    """relative_error(actual, expected) -> ||actual - expected|| / ||expected|| on the CPU, in fp32."""
    return _relative_error


@pytest.fixture
def two_model_project(tmp_path):
    """A project of 16 imported RGB images and one aan_s checkpoint registered twice (two files,
    two model versions), so that two prediction runs each store their own rows. The classifier is
    scaled up so that most images get a clear top-1 (an untrained head is a near tie everywhere).
    Yields (project, [model id, model id])."""
    pytest.importorskip("sqlalchemy", reason="the project store needs SQLAlchemy (scripts/gpu_wheels.sh carries it)")
    from core.data.scan import scan_dataset
    from core.model import create_model
    from core.model.checkpoint import CheckpointMeta, save_checkpoint
    from core.store import open_project
    from core.store.ingest import import_scan
    from core.store.model_versions import register_model_version

    data = _write_parts(tmp_path / "data")
    project = open_project(tmp_path / "p.db")
    with project.session() as s:
        import_scan(s, scan_dataset(data), user="test")
    torch.manual_seed(4)
    model = _peaked(create_model("aan_s", 2, pool="attn"))
    with torch.no_grad():
        model.head.weight.mul_(40.0)
    ids = []
    for name in ("a", "b"):
        meta = CheckpointMeta(arch="aan_s", class_names=["good", "scratch"], in_chans=3, input_size=128)
        ckpt = save_checkpoint(tmp_path / f"{name}.safetensors", model, meta)
        with project.session() as s:
            ids.append(register_model_version(s, str(ckpt), meta))
    yield project, ids
    project.close()
