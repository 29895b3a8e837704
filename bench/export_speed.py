"""Edge export: aan_s against torchvision's EfficientNet-B0 and MobileNetV3-Large, same run, on the CPU.

For each model (224x224x3, 1000 classes, random weights: speed does not depend on them) and each
runtime (PyTorch eager fp32, onnxruntime fp32, onnxruntime int8 static QDQ):
  - batch-1 latency, median and p95 over --repeats runs (round-robin over models, so machine noise
    hits every model alike);
  - batch-32 throughput (images/s);
  - peak resident memory (VmHWM, from the kernel's rusage of the child: os.wait4) of a fresh
    process that loads the model and predicts one image: for ONNX the torch-free
    examples/edge_predict.py itself, for PyTorch the same in torch;
  - model file size (safetensors fp32 for PyTorch).
Then parity on the demo project (the shipped demo model, a freshly generated demo dataset): top-1
agreement with PyTorch and max |Δlogit| for fp32 and int8, accuracy of each, and int8 with every op
onnxruntime can quantize (attention and first convolution too), which is why the default
keeps those float.

    python bench/export_speed.py [--threads N] [--repeats R] [--demo-n N] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import logging
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.edge.onnx_export import export_graph, quantize_graph, write_with_metadata  # noqa: E402
from core.edge.onnx_model import OnnxClassifier  # noqa: E402
from core.model import create_model  # noqa: E402
from core.model.checkpoint import CheckpointMeta, save_checkpoint  # noqa: E402

MODELS = ("aan_s", "efficientnet_b0", "mobilenet_v3_large")
RUNTIMES = ("torch fp32", "ort fp32", "ort int8")
SIZE, CHANS, CLASSES = 224, 3, 1000
SEED_MB = 156  # the seed's memory figure for its model
DEMO_MODEL = ROOT / "assets" / "demo_aan_s.safetensors"
EXAMPLE = ROOT / "examples" / "edge_predict.py"

# A fresh process with PyTorch: load the model as Inspector or torchvision would, predict one image.
TORCH_CHILD = """
import sys
import numpy as np
import torch
from PIL import Image
torch.set_num_threads(int(sys.argv[3]))
name, path = sys.argv[1], sys.argv[2]
if name == "aan_s":
    sys.path.insert(0, sys.argv[5])
    from core.model.checkpoint import load_checkpoint
    model, _ = load_checkpoint(path)
else:
    import torchvision
    from safetensors.torch import load_file
    model = getattr(torchvision.models, name)()
    model.load_state_dict(load_file(path))
model.eval()
im = np.asarray(Image.open(sys.argv[4]).convert("RGB").resize((224, 224)), np.float32) / 255.0
with torch.inference_mode():
    model(torch.from_numpy(im.transpose(2, 0, 1).copy())[None])
"""


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if name == "aan_s":
        return create_model("aan_s", CLASSES, CHANS).eval()
    import torchvision

    return getattr(torchvision.models, name)(num_classes=CLASSES).eval()


def prepare(name: str, folder: Path, calib: np.ndarray) -> dict[str, Path]:
    """The model's files: safetensors (fp32), ONNX fp32 and int8, the ONNX ones with Inspector metadata."""
    model = build(name)
    files = {"torch fp32": folder / f"{name}.safetensors"}
    if name == "aan_s":
        save_checkpoint(files["torch fp32"], model, CheckpointMeta(arch="aan_s", class_names=[f"c{i}" for i in range(CLASSES)]))
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(files["torch fp32"]))
    meta = CheckpointMeta(arch=name, class_names=[f"c{i}" for i in range(CLASSES)], in_chans=CHANS, input_size=SIZE,
                          provenance={"onnx": {"precision": "fp32", "bench": True}})
    work = folder / f"{name}_work"
    work.mkdir()
    fp32 = work / "fp32.onnx"
    export_graph(model, CHANS, SIZE, fp32)
    files["ort fp32"] = folder / f"{name}_fp32.onnx"
    write_with_metadata(fp32, files["ort fp32"], meta.to_json())
    int8 = quantize_graph(fp32, work, calib)
    meta.provenance = {"onnx": {"precision": "int8", "bench": True}}
    files["ort int8"] = folder / f"{name}_int8.onnx"
    write_with_metadata(int8, files["ort int8"], meta.to_json())
    return files


def runner(name: str, runtime: str, files: dict[str, Path], threads: int):
    if runtime == "torch fp32":
        model = build(name)

        def run(x: np.ndarray) -> None:
            with torch.inference_mode():
                model(torch.from_numpy(x))
        return run
    session = OnnxClassifier(files[runtime], device="cpu", threads=threads)
    return session.run


def latency_table(files: dict[str, dict[str, Path]], threads: int, repeats: int) -> dict:
    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    one = rng.standard_normal((1, CHANS, SIZE, SIZE)).astype(np.float32)
    batch = rng.standard_normal((32, CHANS, SIZE, SIZE)).astype(np.float32)
    runs = {(m, r): runner(m, r, files[m], threads) for m in files for r in RUNTIMES}
    for fn in runs.values():  # warm-up: first-run allocations and kernel choices
        fn(one), fn(one), fn(batch)
    times = {k: [] for k in runs}
    for _ in range(repeats):
        for k, fn in runs.items():
            t = time.perf_counter()
            fn(one)
            times[k].append(time.perf_counter() - t)
    throughput = {}
    for k, fn in runs.items():
        t = time.perf_counter()
        for _ in range(3):
            fn(batch)
        throughput[k] = 3 * len(batch) / (time.perf_counter() - t)
    return {k: {"median_ms": 1e3 * float(np.median(v)), "p95_ms": 1e3 * float(np.percentile(v, 95)),
                "batch32_img_s": throughput[k]} for k, v in times.items()}


# Runs a program and prints its own VmHWM at exit. The kernel resets VmHWM at exec, so it is the
# child's alone (a fork's rusage would also count the benchmark's own pages from before the exec).
HWM_WRAPPER = ("import atexit, runpy, sys\n"
               "def hwm():\n"
               "    line = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
               "    print('VmHWM_KB', line.split()[1], file=sys.stderr)\n"
               "atexit.register(hwm)\n"
               "sys.argv = sys.argv[1:]\n"
               "runpy.run_path(sys.argv[0], run_name='__main__')\n")


def peak_memory_mb(name: str, runtime: str, path: Path, image: Path, threads: int, folder: Path) -> float:
    """VmHWM of a fresh process that loads the model and predicts one image."""
    if runtime == "torch fp32":
        script = folder / "torch_child.py"
        script.write_text(TORCH_CHILD)
        argv = [str(script), name, str(path), str(threads), str(image), str(ROOT)]
    else:
        argv = [str(EXAMPLE), str(path), str(image)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    run = subprocess.run([sys.executable, "-c", HWM_WRAPPER, *argv], capture_output=True, text=True, env=env, timeout=300)
    lines = [l for l in run.stderr.splitlines() if l.startswith("VmHWM_KB")]
    if run.returncode != 0 or not lines:
        raise RuntimeError(f"{name} {runtime}: the child failed: {run.stderr[-500:]}")
    return int(lines[-1].split()[1]) / 1024


def parity(demo_n: int, folder: Path) -> dict:
    """The shipped demo model against its fp32 and int8 exports on a fresh demo dataset."""
    from core.data.demo import plan_demo_dataset
    from core.edge.onnx_export import export_onnx
    from core.inference.loader import make_loader
    from core.inference.preprocess import Preprocess
    from core.model.checkpoint import load_checkpoint
    from usecases.demo_project import write_demo_dataset

    data = write_demo_dataset(folder / "demo", demo_n, seed=0)
    plan = plan_demo_dataset(demo_n, 0.0, 0)
    paths = [str(data.root / it.rel_path) for it in plan]
    truth = [it.true_label for it in plan]
    test = np.array([it.split == "test" for it in plan])
    model, meta = load_checkpoint(DEMO_MODEL)
    pre = Preprocess.from_meta(meta)
    rng = np.random.default_rng(0)
    calib_paths = [paths[i] for i in sorted(rng.choice(len(paths), size=min(200, len(paths)), replace=False))]
    calib = []
    for _, b, _ in make_loader(calib_paths, pre, batch_size=32, num_workers=0):
        calib.extend(pre.normalise(b).numpy())
    exports = {
        "fp32": export_onnx(DEMO_MODEL, folder / "demo_fp32.onnx", calibration=calib).path,
        "int8": export_onnx(DEMO_MODEL, folder / "demo_int8.onnx", int8=True, calibration=calib).path,
    }
    work = folder / "all_int8"
    work.mkdir()
    fp32_graph = folder / "demo_fp32_plain.onnx"
    export_graph(model, meta.in_chans, meta.input_size, fp32_graph)
    all_int8 = quantize_graph(fp32_graph, work, np.stack(calib), float_attention=False)
    meta_json = json.loads(OnnxClassifier(exports["int8"]).meta.to_json())
    write_with_metadata(all_int8, folder / "demo_int8_all.onnx", json.dumps(meta_json))
    exports["int8, all ops (attention too)"] = folder / "demo_int8_all.onnx"

    def logits(m) -> np.ndarray:
        out = []
        for _, b, _ in make_loader(paths, pre, batch_size=32, num_workers=0):
            x = pre.normalise(b)
            with torch.inference_mode():
                out.append(m(x).numpy() if not isinstance(m, OnnxClassifier) else m.run(x.numpy()))
        return np.concatenate(out)

    names = meta.class_names
    y = np.array([names.index(t) for t in truth])
    ref = logits(model)
    rows = {"torch fp32": {"acc_all": float((ref.argmax(1) == y).mean()), "acc_test": float((ref.argmax(1) == y)[test].mean()),
                           "agree": 1.0, "max_dlogit": 0.0, "bytes": DEMO_MODEL.stat().st_size}}
    for label, path in exports.items():
        got = logits(OnnxClassifier(path, device="cpu"))
        rows[f"ort {label}"] = {"acc_all": float((got.argmax(1) == y).mean()),
                                "acc_test": float((got.argmax(1) == y)[test].mean()),
                                "agree": float((got.argmax(1) == ref.argmax(1)).mean()),
                                "max_dlogit": float(np.abs(got - ref).max()), "bytes": Path(path).stat().st_size}
    return {"images": len(paths), "test_images": int(test.sum()), "rows": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--demo-n", type=int, default=500, help="demo images for the parity check (0 = skip it)")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--json", metavar="OUT.json")
    args = ap.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # onnxruntime's quantizer warns on the root logger per tensor

    with tempfile.TemporaryDirectory(prefix="inspector-export-bench-") as tmp:
        folder = Path(tmp)
        calib = np.random.default_rng(1).standard_normal((16, CHANS, SIZE, SIZE)).astype(np.float32)
        t0 = time.perf_counter()
        files = {m: prepare(m, folder, calib) for m in args.models}
        print(f"exported and quantized {len(files)} models in {time.perf_counter() - t0:.0f} s; "
              f"{args.threads} threads, {args.repeats} batch-1 runs each, load {os.getloadavg()[0]:.1f}", flush=True)
        speed = latency_table(files, args.threads, args.repeats)
        image = folder / "part.png"
        from PIL import Image

        Image.fromarray(np.random.default_rng(2).integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(image)
        memory = {(m, r): peak_memory_mb(m, r, files[m][r], image, args.threads, folder) for m in files for r in RUNTIMES}
        print(f"\n{'model':<20}{'runtime':<12}{'b1 median ms':>13}{'b1 p95 ms':>11}{'b32 img/s':>11}"
              f"{'peak MB':>9}{'file MB':>9}")
        for m in files:
            for r in RUNTIMES:
                s = speed[(m, r)]
                print(f"{m:<20}{r:<12}{s['median_ms']:>13.2f}{s['p95_ms']:>11.2f}{s['batch32_img_s']:>11.0f}"
                      f"{memory[(m, r)]:>9.0f}{files[m][r].stat().st_size / 1e6:>9.1f}")
        if "aan_s" in files:
            a8, a32 = speed[("aan_s", "ort int8")]["median_ms"], speed[("aan_s", "torch fp32")]["median_ms"]
            print(f"\naan_s int8 batch-1 latency / aan_s PyTorch eager fp32: {a8 / a32:.2f} (target <= 0.5)")
            if "efficientnet_b0" in files:
                e8 = speed[("efficientnet_b0", "ort int8")]["median_ms"]
                print(f"aan_s int8 batch-1 latency / EfficientNet-B0 int8:    {a8 / e8:.2f} (target <= 0.5)")
            mem = memory[("aan_s", "ort int8")]
            print(f"peak memory of the edge example with aan_s int8: {mem:.0f} MB (target <= {SEED_MB} MB); "
                  f"file {files['aan_s']['ort int8'].stat().st_size / 1e6:.1f} MB (target <= 5 MB)")
        result = {"threads": args.threads, "speed": {f"{m} | {r}": v for (m, r), v in speed.items()},
                  "peak_mb": {f"{m} | {r}": v for (m, r), v in memory.items()}}
        if args.demo_n:
            p = parity(args.demo_n, folder)
            print(f"\nparity on the demo ({p['images']} images, {p['test_images']} in the test split; shipped demo model)")
            print(f"{'runtime':<32}{'top-1 agrees':>13}{'max |Δlogit|':>14}{'acc (all)':>11}{'acc (test)':>11}{'file MB':>9}")
            for r, v in p["rows"].items():
                print(f"{r:<32}{v['agree']:>13.2%}{v['max_dlogit']:>14.3g}{v['acc_all']:>11.2%}{v['acc_test']:>11.2%}"
                      f"{v['bytes'] / 1e6:>9.1f}")
            result["parity"] = p
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
