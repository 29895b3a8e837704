"""aan_s on the GPU: bf16 autocast + channels_last training against fp32 on the CPU, attention capture,
torch.compile and CUDA-graph replay against eager. Both the default pooling and attention pooling."""
from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from core.model import capture_attention, create_model

pytestmark = pytest.mark.cuda

POOLS = ["mean", "attn"]  # the variant's default, and the pooling that is captured as a layer
CL = torch.channels_last
REPO = Path(__file__).resolve().parents[2]


def model_speed():
    """bench/model_speed.py, whose CUDA-graph runner the benchmark times (tested here as it is used)."""
    spec = importlib.util.spec_from_file_location("bench_model_speed", REPO / "bench" / "model_speed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("pool", POOLS)
def test_bf16_channels_last_step_matches_fp32_cpu(accel, image_size, pool, peaked, relative_error):
    """One training step's forward and backward as the trainer runs it on CUDA (bf16 autocast,
    channels_last, BatchNorm in train mode) against fp32 on the CPU. Tolerances: about 4x what the
    CPU's own bf16 path measures (logits 1.1%, gradients 1.3% relative)."""
    torch.manual_seed(0)
    ref = peaked(create_model("aan_s", 10, pool=pool)).train()
    dev = copy.deepcopy(ref).to(accel).to(memory_format=CL)
    x = torch.randn(8, 3, image_size, image_size)
    y = torch.randint(0, 10, (8,))

    ref_logits = ref(x)
    F.cross_entropy(ref_logits, y, label_smoothing=0.1).backward()
    with torch.autocast(accel.type, dtype=torch.bfloat16):
        logits = dev(x.to(accel).contiguous(memory_format=CL))
    assert logits.dtype == torch.bfloat16
    F.cross_entropy(logits.float(), y.to(accel), label_smoothing=0.1).backward()

    assert relative_error(logits, ref_logits) < 0.05
    named_ref, named_dev = dict(ref.named_parameters()), dict(dev.named_parameters())
    g_ref = torch.cat([p.grad.flatten() for p in named_ref.values()])
    g_dev = torch.cat([p.grad.float().cpu().flatten() for p in named_dev.values()])
    assert torch.isfinite(g_dev).all()
    assert relative_error(g_dev, g_ref) < 0.05
    scale = g_ref.norm()
    for name, p in named_ref.items():
        # Per tensor, against the whole gradient's size: some (a LayerNorm bias, the keys of a
        # pooling query at 0) have near-zero gradients that bf16 turns into noise of no consequence.
        # 0.04: aan_s's stage-2 downsample (280 x 96 x 3 x 3, the largest convolution) measures 0.031
        # on the CPU's own bf16 path since the stages changed (issue 10); the first design stayed under 0.03.
        err = (named_dev[name].grad.float().cpu() - p.grad).norm() / scale
        assert err < 0.04, f"{name}: gradient differs by {err:.4f} of the total gradient norm"
    for a_ref, a_dev in zip(ref.alphas(), dev.alphas()):
        assert F.cosine_similarity(a_dev.grad.float().cpu(), a_ref.grad, dim=0) > 0.98
    for (name, b_ref), (_, b_dev) in zip(ref.named_buffers(), dev.named_buffers()):
        if b_ref.is_floating_point():  # BatchNorm running statistics
            assert relative_error(b_dev, b_ref) < 0.05, name


@pytest.mark.parametrize("pool", POOLS)
def test_capture_attention_on_cuda_equals_cpu(accel, image_size, pool, ieee_fp32, peaked, relative_error):
    """The explainer's path (fp32, explicit softmax) gives the same maps on CUDA as on the CPU."""
    torch.manual_seed(1)
    model = peaked(create_model("aan_s", 5, pool=pool)).eval()
    dev = copy.deepcopy(model).to(accel)
    x = torch.randn(2, 3, image_size, image_size)
    with torch.inference_mode():
        with capture_attention(model) as cpu_maps:
            cpu_logits = model(x)
        with capture_attention(dev) as dev_maps:
            dev_logits = dev(x.to(accel))
    assert [(r.name, r.grid, r.probs.shape) for r in dev_maps] == [(r.name, r.grid, r.probs.shape) for r in cpu_maps]
    assert len(cpu_maps) == sum(model.config.depths) + (pool == "attn") == len(model.alphas())
    assert max(float(r.probs.max()) for r in cpu_maps) > 0.2, "maps are near-uniform: the test would prove nothing"
    for a, b in zip(dev_maps, cpu_maps):
        torch.testing.assert_close(a.probs.cpu(), b.probs, atol=2e-4, rtol=2e-3, msg=lambda m: f"{b.name}: {m}")
    torch.testing.assert_close(dev_logits.cpu(), cpu_logits, atol=1e-4, rtol=1e-3)
    # And captured logits equal the fused (SDPA) path's on the device.
    with torch.inference_mode():
        fused = dev(x.to(accel))
    torch.testing.assert_close(fused, dev_logits, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("pool", POOLS)
def test_torch_compile_matches_eager(accel, image_size, compile_backend, pool, peaked, relative_error):
    """Inference as predict.py runs it (eval, bf16 autocast, channels_last), compiled vs eager."""
    torch.manual_seed(2)
    model = peaked(create_model("aan_s", 10, pool=pool)).eval().to(accel).to(memory_format=CL)
    compiled = torch.compile(model, backend=compile_backend, dynamic=False)
    x = torch.randn(4, 3, image_size, image_size, device=accel).contiguous(memory_format=CL)
    with torch.inference_mode(), torch.autocast(accel.type, dtype=torch.bfloat16):
        eager = model(x).float()
        out = compiled(x).float()
        again = compiled(x).float()
    assert relative_error(out, eager) < 0.03
    assert relative_error(again, out) < 1e-2  # a second call runs the same compiled code
    assert (out.argmax(1) == eager.argmax(1)).float().mean() >= 0.75


@pytest.mark.parametrize("pool", POOLS)
def test_cuda_graph_batch1_matches_eager(cuda_only, pool, peaked, relative_error):
    """Batch-1 inference replayed from one captured CUDA graph (bench/model_speed.py's runner)
    equals eager, for new inputs copied into the graph's input buffer."""
    bench = model_speed()
    torch.manual_seed(3)
    model = peaked(create_model("aan_s", 10, pool=pool)).eval().to(cuda_only).to(memory_format=CL)
    inputs = [torch.randn(1, 3, 224, 224, device=cuda_only).contiguous(memory_format=CL) for _ in range(3)]
    run = bench.cuda_graphed(model, inputs[0], amp=True)
    for x in inputs:
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
            eager = model(x).float()
        replayed = run(x).float()
        assert relative_error(replayed, eager) < 1e-2
