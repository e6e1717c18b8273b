"""A small run directory with a known design space, written as `archspace search` writes one (SEARCH_CONTRACT.md).

The study is a real Optuna journal; the score is a known function of FLOPs and genes, so analysis results can be
checked: a wider stage 0 only adds FLOPs (its score gain is a pure complexity effect), kind `scsc` adds 5 points
at equal FLOPs, a kernel set containing 13 adds 3 points at equal FLOPs, and the ratio does nothing.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import yaml
from optuna.storages.journal import JournalFileBackend

from archspace.zoo import zoo_genotype

BUDGET = 3.0e9
SPACE = Path(__file__).resolve().parent.parent / "search_spaces" / "transxnet.yaml"
KINDS = ["dmixer", "scsc"]
KERNELS = ["[3, 5]", "[3, 9, 13]", "[3, 13]", "[5, 9]"]


def synthetic_score(flops: float, kind: str, kernels: str) -> float:
    """Accuracy: +8 points per doubling of FLOPs, +5 for scsc, +3 for a kernel set containing 13."""
    return 0.45 + 0.08 * np.log2(flops / 0.6e9) + 0.05 * (kind == "scsc") + 0.03 * ("13" in kernels)


def make_run(root: Path, n: int = 80, seed: int = 0, evaluator: str = "train") -> Path:
    """Write a run with `n` trials (about a tenth infeasible, a few pruned and failed) under `root`."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    root.mkdir(parents=True, exist_ok=True)
    (root / "genotypes").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(root / "study.journal")))
    study = optuna.create_study(study_name="synthetic", storage=storage, directions=["maximize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    genotype = zoo_genotype("transxnet_t")
    (root / "genotypes" / f"{genotype.id}.json").write_text(genotype.model_dump_json())
    rows = []
    for i in range(n):
        t = study.ask()
        kind = t.suggest_categorical("stages[0].mixer.kind", KINDS)
        width = t.suggest_categorical("stages[0].channels", [32, 64])
        kernels = t.suggest_categorical("stages[0].mixer.kernels", KERNELS)
        ratio = t.suggest_float("stages[0].mixer.ratio", 0.0, 1.0)
        flops = (0.6e9 if width == 32 else 1.2e9) * 3.0 ** rng.random()
        score = synthetic_score(flops, kind, kernels) + 0.003 * rng.standard_normal()
        row = {"number": t.number, "genotype_id": genotype.id, "score": score, "flops": flops, "params": flops / 300.0,
               "violation": max(0.0, (flops - BUDGET) / BUDGET), "duration_s": 1.0, "error": "", "step": np.nan,
               "gene:stages[0].mixer.kind": kind, "gene:stages[0].channels": width, "gene:stages[0].mixer.kernels": kernels,
               "gene:stages[0].mixer.ratio": ratio}
        if row["violation"] > 0:
            row.update(state="INFEASIBLE", score=np.nan)
            study.tell(t, state=optuna.trial.TrialState.FAIL)
        elif i % 17 == 5:
            row.update(state="FAIL", score=np.nan, error="ArchspaceError: NaN loss at epoch 2")
            study.tell(t, state=optuna.trial.TrialState.FAIL)
        elif i % 13 == 7:
            row.update(state="PRUNED", score=score - 0.2, step=1)
            study.tell(t, state=optuna.trial.TrialState.PRUNED)
        else:
            row.update(state="COMPLETE")
            study.tell(t, [score, flops])
        rows.append(row)
    pd.DataFrame(rows).to_csv(root / "trials.csv", index=False)
    ev = {"kind": "train", "epochs": 1} if evaluator == "train" else {"kind": "proxy", "proxy": "synflow"}
    config = {"name": "synthetic", "space": str(SPACE), "budgets": {"flops": BUDGET},
              "objectives": [{"name": "score", "direction": "maximize"}, {"name": "flops", "direction": "minimize"}],
              "evaluator": ev, "data": {"name": "digits", "image_size": 32}, "sampler": {"kind": "random", "options": {}},
              "trials": n, "seed": seed}
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    meta = {"seed": seed, "study_name": "synthetic", "storage": "study.journal",
            "objectives": config["objectives"], "budgets": {"flops": BUDGET},
            "target": {"image_size": 224, "num_classes": 1000},
            "eval": {"image_size": 32, "in_chans": 3, "num_classes": 10, "dataset": "digits"},
            "versions": {}, "device": {}, "created": "2026-12-01T00:00:00Z",
            "space": {"name": "transxnet", "path": str(SPACE), "anchors": ["transxnet_t", "transxnet_s"]}}
    (root / "run.json").write_text(json.dumps(meta))
    return root
