"""Training-step memory with and without set_grad_checkpointing(), measured side by side.

Each (genotype, mode) runs a batch-1 warm-up step, then one forward + backward in a fresh process; the
figure is the process's peak resident memory above its resident memory just before that step (what
the activations kept for backward and their gradients take; parameter gradients exist already). On CUDA (--device cuda) it is torch.cuda.max_memory_allocated.

    python benchmarks/grad_checkpointing.py [--names u_swin_tiny transcnn_small] [--batch 8] [--img-size 224]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

STEP = r"""
import json, resource, sys, torch, archspace
from archspace.zoo import zoo_genotype
name, checkpointing, batch, size, device = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
torch.set_num_threads(1)
model = archspace.build(zoo_genotype(name), img_size=size).to(device).train()
model.set_grad_checkpointing(checkpointing)
model(torch.randn(1, 3, size, size, device=device)).float().logsumexp(-1).mean().backward()  # warm-up: kernels, gradient buffers
model.zero_grad(set_to_none=False)
x = torch.randn(batch, 3, size, size, device=device)
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
before = rss()
if device == "cuda":
    torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
model(x).float().logsumexp(-1).mean().backward()
if device == "cuda":
    used = torch.cuda.max_memory_allocated() - base
else:
    used = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
print(json.dumps({"bytes": used}))
"""


def step(name: str, checkpointing: bool, batch: int, size: int, device: str) -> int:
    out = subprocess.run([sys.executable, "-c", STEP, name, "1" if checkpointing else "0", str(batch), str(size), device],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        raise SystemExit(out.stderr.strip().splitlines()[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])["bytes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", nargs="+", default=["u_swin_tiny", "transcnn_small", "resnet50"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--img-size", type=int, default=224)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    print(f"one training step, batch {args.batch}, {args.img_size}x{args.img_size}, {args.device}; memory above the pre-step level")
    print(f"{'genotype':18s} {'plain MiB':>10s} {'checkpointed MiB':>17s} {'ratio':>6s} {'saved':>6s}")
    for name in args.names:
        plain = step(name, False, args.batch, args.img_size, args.device)
        ckpt = step(name, True, args.batch, args.img_size, args.device)
        print(f"{name:18s} {plain / 2**20:10.0f} {ckpt / 2**20:17.0f} {ckpt / plain:6.2f} {1 - ckpt / plain:6.0%}")


if __name__ == "__main__":
    main()
