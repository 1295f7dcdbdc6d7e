"""The GPU speed and correctness checks of gpu_check.sh, one line of summary per check.

* conv2: training steps (forward, cross-entropy, backward, Adam) under fp32, bf16 and fp16 autocast (fp16 with a
  gradient scaler; CUDA only), batch 60 of CIFAR-shaped random data: ms per step and speed-up over fp32;
* resnet18: a few hundred SGD steps at batch 128, fp32 and bf16 autocast: steps per second;
* determinism: the same small ``lottery run`` twice (``--precision bf16``), every saved tensor compared exactly;
* ray: a task asking for one GPU sees it (skipped when Ray is not installed).

    python benchmarks/gpu_check.py                      # on CUDA, about 1-2 minutes
    python benchmarks/gpu_check.py --device cpu --tiny  # checks that every part runs (batch 4)
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lottery  # noqa: F401  (first: sets the speed environment before torch loads)
import torch
import torch.nn.functional as F

from lottery.models import get_model_spec

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_steps(model_name: str, precision: str, steps: int, batch: int, device: str, sgd: bool = False) -> float:
    """Seconds per training step of ``model_name`` under autocast to ``precision`` (after 3 warm-up steps)."""
    torch.manual_seed(0)
    model = get_model_spec(model_name).build((3, 32, 32), 10).to(device)
    opt = (
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        if sgd
        else torch.optim.Adam(model.parameters(), lr=2e-4)
    )
    dtype = DTYPES[precision]
    scaler = torch.amp.GradScaler(device.split(":")[0], enabled=precision == "fp16" and device.startswith("cuda"))
    x, y = torch.randn(batch, 3, 32, 32, device=device), torch.randint(0, 10, (batch,), device=device)

    def step():
        with torch.autocast(device.split(":")[0], dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(3):
        step()
    _sync(device)
    began = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return (time.perf_counter() - began) / steps


def check_conv2(args) -> str:
    precisions = ["fp32", "bf16"] + (["fp16"] if args.device.startswith("cuda") else [])
    ms = {p: 1000 * time_steps("conv2", p, args.steps, args.batch, args.device) for p in precisions}
    return f"conv2 step (batch {args.batch}): " + ", ".join(
        f"{p} {t:.2f} ms ({ms['fp32'] / t:.2f}x)" for p, t in ms.items()
    )


def check_resnet18(args) -> str:
    rates = {
        p: 1 / time_steps("resnet18", p, args.resnet_steps, 2 * args.batch, args.device, sgd=True)
        for p in ("fp32", "bf16")
    }
    return f"resnet18 {args.resnet_steps} steps (batch {2 * args.batch}, SGD): " + ", ".join(
        f"{p} {r:.1f} steps/s" for p, r in rates.items()
    )


def _tensors(folder: Path) -> dict[str, object]:
    return {
        p.relative_to(folder).as_posix(): torch.load(p, map_location="cpu", weights_only=True)
        for p in sorted(folder.rglob("*.pt"))
    }


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    return a == b


def check_determinism(args) -> str:
    """Two identical runs (needs ``lottery run --precision``) must save bit-identical tensors."""
    with tempfile.TemporaryDirectory() as tmp:
        outs = [Path(tmp) / f"run{i}" for i in range(2)]
        for out in outs:
            cmd = [
                sys.executable,
                "-m",
                "lottery",
                "run",
                "--preset",
                "lenet-digits",
                "--iterations",
                str(args.det_iterations),
                "--levels",
                "1",
                "--device",
                args.device,
                "--precision",
                "bf16",
                "--no-progress",
                "--out",
                str(out),
            ]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
                raise RuntimeError(f"'{' '.join(cmd[2:])}' failed: {last}")
        a, b = (_tensors(out) for out in outs)
        if not a or a.keys() != b.keys():
            raise RuntimeError(f"the two runs saved different files ({len(a)} vs {len(b)} tensor files)")
        differ = [name for name in a if not _same(a[name], b[name])]
        if differ:
            raise RuntimeError(f"{len(differ)} of {len(a)} tensor files differ, first {differ[0]}")
        return f"determinism: two identical bf16 runs saved {len(a)} identical tensor files"


def check_ray(args) -> str:
    try:
        import ray
    except ImportError:
        return "ray: SKIP (not installed)"
    gpus = 1 if args.device.startswith("cuda") else 0
    ray.init(num_cpus=2, num_gpus=gpus, include_dashboard=False, log_to_driver=False)
    try:

        @ray.remote(num_gpus=gpus)
        def where():
            import torch

            return torch.cuda.is_available(), os.environ.get("CUDA_VISIBLE_DEVICES", "")

        cuda, visible = ray.get(where.remote())
    finally:
        ray.shutdown()
    if gpus and not cuda:
        raise RuntimeError(f"a task given 1 GPU does not see CUDA (CUDA_VISIBLE_DEVICES={visible!r})")
    return (
        f"ray: a task asking for {gpus} GPU ran with CUDA {'visible' if cuda else 'not visible'} "
        f"(CUDA_VISIBLE_DEVICES={visible!r})"
    )


CHECKS = {"conv2": check_conv2, "resnet18": check_resnet18, "determinism": check_determinism, "ray": check_ray}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a few steps of each check (a CPU smoke test)")
    parser.add_argument("--checks", nargs="+", choices=list(CHECKS), default=list(CHECKS))
    args = parser.parse_args()
    args.steps, args.resnet_steps, args.det_iterations, args.batch = (1, 1, 20, 4) if args.tiny else (200, 300, 500, 60)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: torch sees no CUDA device (torch.cuda.is_available() is False)", file=sys.stderr)
        return 2
    failed = 0
    for name in args.checks:
        try:
            print(f"PASS {CHECKS[name](args)}", flush=True)
        except Exception as e:  # one failed check must not hide the others' figures
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
