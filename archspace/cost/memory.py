"""Peak memory: an analytic estimate from the genotype's plan, and measurements.

Analytic estimate (bytes, at batch B and `dtype_bytes` per element); assumptions:

- weights: params x dtype bytes; training adds their gradients and `optimizer_states` copies
  (2 for AdamW's moments), so training holds (2 + optimizer_states) x the weights;
- inference keeps one unit's input and output alive plus its widest intermediate, so the activation
  peak is the largest over units (stem, downsample, block, head) of input + output + widest
  intermediate, the intermediate being the FFN hidden map (ratio x C x H x W) or three maps of the
  block's width (Q, K, V or a conv's input/output), whichever is larger;
- training keeps what backward needs: per block two copies of its input and output maps (norm and
  residual-scale inputs), `SAVED_MAPS_PER_MIXER` copies of the mixer's input and output maps
  (projections, internal norms and activations) and three FFN hidden maps (the first layer's output,
  the activation's output, a norm or depthwise conv between them), and the output of every stem and
  downsample layer;
- attention score maps (heads x N x M) and the branches of multi-branch mixers are not modelled:
  on random, preset and zoo networks the training estimate is 0.2x to 1.7x of the saved tensors
  (docs/cost.md). `saved_activation_bytes` measures the real figure on any device.

Measured: `measure_peak_memory` reads `torch.cuda.max_memory_allocated` around a forward (and a
backward when training) on CUDA; `saved_activation_bytes` sums the tensors autograd saves for
backward (each storage once), on any device.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from archspace.cost.analytic import analytic_cost
from archspace.genotype.plan import plan

SAVED_MAPS_PER_MIXER = 4


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes at batch `batch`: weights, inference peak, training peak, and the activation parts."""

    batch: int
    weight_bytes: int
    inference_activation_bytes: int
    training_activation_bytes: int
    inference_bytes: int
    training_bytes: int

    def to_dict(self) -> dict:
        return asdict(self)


def _elements(shape) -> int:
    return shape.channels * shape.height * shape.width


def _ffn_hidden(stage, site) -> int:
    ratio = getattr(stage.ffn, "ratio", None) if stage.ffn is not None else None
    if site is None or ratio is None:
        return 0
    return int(site.channels * ratio) * site.shape.height * site.shape.width


def analytic_memory(genotype, batch: int = 1, dtype_bytes: int = 4, optimizer_states: int = 2, params: int | None = None) -> MemoryEstimate:
    """Estimated inference and training peak memory of `genotype` at `batch` (see the module docstring).

    `params`: the network's parameter count when the caller has it already (else computed analytically).
    """
    p = plan(genotype)
    params = analytic_cost(genotype).total.params if params is None else params
    peak = _elements(p.image) + _elements(p.stem) * 2  # the stem: image in, a map out, one intermediate
    saved = _elements(p.stem)
    for stage, sp in zip(genotype.stages, p.stages):
        peak = max(peak, _elements(sp.input) + 2 * _elements(sp.downsampled))
        if sp.downsampled != sp.input:
            saved += _elements(sp.downsampled)
        for b in sp.blocks:
            x, hidden = _elements(b.input), _ffn_hidden(stage, b.ffn)
            peak = max(peak, x + _elements(b.output) + max(hidden, 3 * max(x, _elements(b.output))))
            site = _elements(b.mixer.shape) + _elements(b.mixer.out_shape)
            saved += 2 * (x + _elements(b.output)) + SAVED_MAPS_PER_MIXER * site + 3 * hidden
    weights = params * dtype_bytes
    inference_act = peak * batch * dtype_bytes
    training_act = saved * batch * dtype_bytes
    return MemoryEstimate(
        batch, weights, inference_act, training_act,
        weights + inference_act, (2 + optimizer_states) * weights + training_act,
    )


def saved_activation_bytes(model, x) -> int:
    """Bytes of the tensors autograd saves for backward during `model(x)` (each storage counted once)."""
    import torch

    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return sum(n for ptr, n in seen.items() if ptr not in params and ptr != x.untyped_storage().data_ptr())


def measure_peak_memory(genotype, batch: int = 1, train: bool = False, device: str = "cuda") -> int:
    """Peak bytes allocated on CUDA for a forward (and backward when `train`) of `genotype`, weights included."""
    import torch

    from archspace.builder import build
    from archspace.errors import ArchspaceError

    if device != "cuda" or not torch.cuda.is_available():
        raise ArchspaceError("measured peak memory needs a CUDA device")
    model = build(genotype).to(device).train(train)
    x = torch.zeros(batch, genotype.in_chans, genotype.image_size, genotype.image_size, device=device)
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    if train:
        model(x).sum().backward()
    else:
        with torch.inference_mode():
            model(x)
    torch.cuda.synchronize()
    return int(torch.cuda.max_memory_allocated())


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory_bytes(device: str = "cpu") -> int | None:
    """Memory a new allocation can use now: free CUDA memory, or on the CPU the smaller of the system's
    MemAvailable and the room left under this process's cgroup limit; None when it cannot be told."""
    if device == "cuda":
        import torch

        return int(torch.cuda.mem_get_info()[0]) if torch.cuda.is_available() else None
    candidates = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    candidates.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    limit, used = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        candidates.append(max(limit - used, 0))
    return min(candidates) if candidates else None


def _gib(n: int) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def check_fits(genotype, batch: int = 1, train: bool = False, device: str = "cpu") -> MemoryEstimate:
    """Refuse (ArchspaceError) to build `genotype` when its analytic memory estimate exceeds the memory available.

    Callers skip this with a `--force` flag; the estimate is returned when it fits (or cannot be checked).
    """
    from archspace.errors import ArchspaceError

    estimate = analytic_memory(genotype, batch)
    need = estimate.training_bytes if train else estimate.inference_bytes
    available = available_memory_bytes(device)
    if available is not None and need > available:
        activations = estimate.training_activation_bytes if train else estimate.inference_activation_bytes
        raise ArchspaceError(
            f"{genotype.name}: needs about {_gib(need)} on {device} (analytic estimate: {_gib(need - activations)} weights"
            f"{' with gradients and optimizer state' if train else ''} + {_gib(activations)} activations at batch {batch}),"
            f" more than the {_gib(available)} available; pass --force to try anyway"
        )
    return estimate
