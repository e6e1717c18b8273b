"""Evaluators: config validation, proxy and training evaluators on the digits data, reports, failures."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from archspace.errors import ArchspaceError
from archspace.evaluate.data import DataBundle, load_data
from archspace.evaluate.evaluator import make_evaluator
from archspace.evaluate.registry import evaluator_kinds
from archspace.evaluate.metrics import METRICS, MetricContext, register_metric

from evalutils import one_torch_thread, tiny_hybrid  # noqa: F401  (autouse fixture)


@pytest.fixture(scope="module")
def digits() -> DataBundle:
    return load_data({"image_size": 16, "max_train": 128, "max_val": 64})


def small(width: int = 8):
    return tiny_hybrid(width=width, image_size=16)


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"proxy": "jacob_cov"}, r"^evaluator.proxy: unknown proxy 'jacob_cov'; known proxies: grad_norm, naswot, snip, synflow, zico$"),
        ({"kind": "nas"}, rf"^evaluator.kind: unknown kind 'nas'; known kinds: {', '.join(evaluator_kinds())}$"),
        ({"kind": "train", "opt": "adamx"}, r"^evaluator.opt: unknown optimizer 'adamx'"),
        ({"kind": "train", "epochs": 0}, r"^evaluator.epochs: "),
        ({"metrics": ["erf"]}, r"^evaluator.metrics: unknown metric 'erf'; known metrics: .*synflow"),
        ({"batches": 2, "batch": 3}, r"^evaluator.batch: unknown field"),
    ],
)
def test_bad_evaluator_config_is_one_line(cfg, message):
    with pytest.raises(ArchspaceError, match=message):
        make_evaluator(cfg)


def test_proxy_and_train_are_registered_kinds():
    kinds = evaluator_kinds()
    assert {"proxy", "train"} <= set(kinds) and list(kinds) == sorted(kinds)


def test_default_is_the_synflow_proxy():
    ev = make_evaluator(None)
    assert ev.kind == "proxy" and ev.cfg.proxy == "synflow"


def test_proxy_evaluator_is_deterministic_with_metrics(digits):
    ev = make_evaluator({"proxy": "naswot", "batch_size": 16, "metrics": ["synflow", "zico"]})
    first = ev.evaluate(small(), digits, seed=0)
    assert first["score"] == first["naswot"] and math.isfinite(first["score"])
    assert {"synflow", "zico", "eval_seconds"} <= set(first)
    again = ev.evaluate(small(), digits, seed=0)
    assert all(first[k] == again[k] for k in ("score", "synflow", "zico"))
    assert ev.evaluate(small(), digits, seed=1)["score"] != first["score"]
    # metrics run on copies: the score does not depend on which metrics are asked for
    assert make_evaluator({"proxy": "naswot", "batch_size": 16}).evaluate(small(), digits, seed=0)["score"] == first["score"]


def test_genotype_must_be_adapted(digits):
    with pytest.raises(ArchspaceError, match=r"is 32 px, 1 channels, 10 classes but digits is 16 px.*adapt it first"):
        make_evaluator().evaluate(tiny_hybrid(width=8), digits)


def test_training_reports_every_epoch_and_is_deterministic(digits):
    ev = make_evaluator({"kind": "train", "epochs": 2, "batch_size": 32, "max_steps_per_epoch": 2})
    reports: list[tuple[int, float]] = []
    first = ev.evaluate(small(), digits, seed=0, report=lambda step, value: reports.append((step, value)))
    assert [s for s, _ in reports] == [1, 2]
    assert first["score"] == first["val_acc"] == reports[-1][1]
    assert 0 <= first["score"] <= 1 and first["epochs"] == 2 and math.isfinite(first["train_loss"])
    again = ev.evaluate(small(), digits, seed=0)
    assert (again["score"], again["train_loss"]) == (first["score"], first["train_loss"])


def test_report_can_stop_training(digits):
    class Pruned(Exception):
        pass

    def prune(step: int, value: float) -> None:
        raise Pruned(step)

    ev = make_evaluator({"kind": "train", "epochs": 3, "batch_size": 32, "max_steps_per_epoch": 1})
    with pytest.raises(Pruned, match="1"):
        ev.evaluate(small(), digits, report=prune)


def test_nan_loss_is_one_line(digits):
    images = torch.full((8, 1, 16, 16), float("nan"))
    nan = DataBundle(TensorDataset(images, torch.zeros(8, dtype=torch.long)), digits.val, 16, 1, 10, "nan")
    with pytest.raises(ArchspaceError, match=r"^training: NaN loss at epoch 1 step 1"):
        make_evaluator({"kind": "train", "epochs": 1, "batch_size": 4}).evaluate(small(), nan)


def test_mixup_and_other_timm_options_train(digits):
    ev = make_evaluator(
        {"kind": "train", "epochs": 1, "batch_size": 32, "max_steps_per_epoch": 2, "mixup": 0.8, "cutmix": 1.0,
         "opt": "sgd", "sched": "step", "clip_grad": 1.0}
    )
    assert math.isfinite(ev.evaluate(small(), digits)["train_loss"])


def test_registered_metric_runs_on_the_trained_model(digits):
    @register_metric("val_images")
    def val_images(ctx: MetricContext) -> float:
        return float(len(ctx.bundle.val))

    try:
        ev = make_evaluator({"kind": "train", "epochs": 1, "batch_size": 32, "max_steps_per_epoch": 1, "metrics": ["val_images"]})
        assert ev.evaluate(small(), digits)["val_images"] == 64.0
    finally:
        METRICS.pop("val_images")


def test_amp_and_channels_last_paths_run_on_cpu(digits):
    ev = make_evaluator({"kind": "train", "epochs": 1, "batch_size": 32, "max_steps_per_epoch": 1, "amp": True, "channels_last": True})
    result = ev.evaluate(small(), digits)
    assert math.isfinite(result["train_loss"]) and 0 <= result["score"] <= 1


def test_proxy_on_augmented_images_is_deterministic(tmp_path):
    from test_evaluate_data import write_folder

    write_folder(tmp_path / "train")
    bundle = load_data({"name": "imagefolder", "root": str(tmp_path), "image_size": 16, "val_fraction": 0.25})
    genotype = tiny_hybrid(width=8, image_size=16, in_chans=3, num_classes=3)
    ev = make_evaluator({"proxy": "grad_norm", "batch_size": 4})
    assert ev.evaluate(genotype, bundle, seed=5)["score"] == ev.evaluate(genotype, bundle, seed=5)["score"]


@pytest.mark.slow
def test_short_training_on_digits_learns():
    bundle = load_data({"image_size": 16})
    result = make_evaluator({"kind": "train", "epochs": 4, "batch_size": 64, "lr": 3e-3}).evaluate(tiny_hybrid(width=16, image_size=16), bundle)
    assert result["score"] > 0.6  # chance is 0.1


def test_width_divisor_scores_the_narrowed_network(digits):
    """width_divisor d scores exactly what the same evaluator scores on narrow(genotype, d), and not the full width."""
    from archspace.errors import GenotypeError
    from archspace.genotype.scale import narrow

    wide = small(width=16)
    synflow = {"proxy": "synflow", "batch_size": 16}
    for block in (synflow, {"kind": "train", "epochs": 1, "batch_size": 32, "max_steps_per_epoch": 2}):
        narrowed = make_evaluator({**block, "width_divisor": 2}).evaluate(wide, digits, seed=0)["score"]
        assert narrowed == make_evaluator(block).evaluate(narrow(wide, 2), digits, seed=0)["score"]
    full = make_evaluator(synflow).evaluate(wide, digits, seed=0)["score"]
    assert full != make_evaluator({**synflow, "width_divisor": 2}).evaluate(wide, digits, seed=0)["score"]
    with pytest.raises(GenotypeError, match=r"is not divisible by the width divisor 3$"):
        make_evaluator({"proxy": "synflow", "width_divisor": 3}).evaluate(wide, digits)


@pytest.mark.parametrize("name", ["contnet_ti", "contnet_s", "resnet50_scsc_v1", "transxnet_t"])
def test_narrow_divides_a_single_width_stem_so_the_published_models_build(name):
    """ConTNet's ResNet-style stem has one width: left undivided, 48 channels met a 12-channel first stage."""
    from archspace.genotype.adapt import adapt
    from archspace.genotype.io import load_genotype
    from archspace.genotype.scale import narrow

    root = Path(__file__).resolve().parent.parent
    g = adapt(load_genotype(root / "genotypes" / f"{name}.json"), 32, 3, 10)
    narrowed = narrow(g, 4)
    if getattr(g.stem, "channels", None):
        assert narrowed.stem.channels * 4 == g.stem.channels
    assert [s.channels * 4 for s in narrowed.stages] == [s.channels for s in g.stages]
