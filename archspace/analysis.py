"""Design-space analysis of a search run: error EDFs per gene, complexity normalisation, gene importance, findings.

EDFs and their complexity normalisation follow Radosavovic et al., "On Network Design Spaces for Visual
Recognition" (ICCV 2019, Sec. 4) and "Designing Network Design Spaces" (RegNet, CVPR 2020, Sec. 3.1):
F(e) = sum_i w_i 1[e_i < e] / sum_i w_i, where the weights give every compared set of models the same
FLOPs distribution, so a gene value does not look good merely because it adds FLOPs.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from archspace.errors import ArchspaceError

GENE_PREFIX = "gene:"
MAX_BINS = 8
MODELS_PER_BIN = 5
NUMERIC_GROUPS = 4
BOOTSTRAP = 200
MIN_GROUP = 3


def edf(errors: Sequence[float], weights: Sequence[float] | None = None, grid: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted empirical distribution of errors: (grid, F) with F(e) = share of weight on errors <= e."""
    e = np.asarray(errors, dtype=float)
    w = np.ones_like(e) if weights is None else np.asarray(weights, dtype=float)
    g = np.unique(e) if grid is None else np.asarray(grid, dtype=float)
    total = w.sum()
    if total <= 0:
        return g, np.full(len(g), np.nan)
    order = np.argsort(e, kind="stable")
    cum = np.cumsum(w[order]) / total
    idx = np.searchsorted(e[order], g, side="right")
    return g, np.where(idx > 0, cum[np.maximum(idx - 1, 0)], 0.0)


def complexity_bins(flops: Sequence[float], n_bins: int) -> np.ndarray:
    """Bin index of each model: `n_bins` equal-width bins of log FLOPs over the pooled models' range."""
    f = np.log(np.maximum(np.asarray(flops, dtype=float), 1.0))
    if n_bins <= 1 or len(f) == 0 or f.max() == f.min():
        return np.zeros(len(f), dtype=int)
    edges = np.linspace(f.min(), f.max(), n_bins + 1)[1:-1]
    return np.searchsorted(edges, f, side="right")


def default_bins(n_models: int, n_groups: int) -> int:
    """About MODELS_PER_BIN models per group per bin, between 2 and MAX_BINS bins; 1 bin (no normalisation)
    only when there are fewer than 2 models per group per bin."""
    groups = max(1, n_groups)
    if n_models < 4 * groups:
        return 1
    return int(max(2, min(MAX_BINS, n_models // (MODELS_PER_BIN * groups))))


def complexity_weights(flops: Sequence[float], groups: Sequence[Any], n_bins: int | None = None) -> np.ndarray:
    """Weights that give every group the same (uniform) distribution over the FLOPs bins all groups share.

    Within a group, each shared bin gets total weight 1 / (number of shared bins), split equally among the
    group's models in it; models in a bin some group lacks get weight 0 (no like-for-like comparison there).
    """
    groups = np.asarray(groups, dtype=object)
    labels = list(dict.fromkeys(groups.tolist()))
    bins = complexity_bins(flops, default_bins(len(groups), len(labels)) if n_bins is None else n_bins)
    shared = set.intersection(*(set(bins[groups == g].tolist()) for g in labels)) if labels else set()
    weights = np.zeros(len(groups))
    for g in labels:
        in_group = groups == g
        for b in shared:
            members = in_group & (bins == b)
            weights[members] = 1.0 / (len(shared) * members.sum())
    return weights


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    return float(np.sum(values * weights) / np.sum(weights)) if np.sum(weights) > 0 else float("nan")


@dataclass
class GeneGroup:
    """One value (or range) of a gene: its models and their raw and FLOPs-normalised mean error."""

    label: str
    n: int
    mean_error: float
    normalized_mean_error: float


@dataclass
class Finding:
    """A checkable statement: a gene value against the rest, raw and FLOPs-normalised, with a bootstrap interval."""

    gene: str
    value: str
    n_value: int
    n_rest: int
    raw_delta: float
    normalized_delta: float
    ci_low: float
    ci_high: float
    text: str


@dataclass
class GeneAnalysis:
    """EDF groups of one gene."""

    gene: str
    kind: str
    groups: list[GeneGroup] = field(default_factory=list)


def _is_list_text(v: Any) -> bool:
    return isinstance(v, str) and v.startswith("[") and v.endswith("]")


def gene_groups(values: pd.Series) -> tuple[str, pd.Series]:
    """Group labels of a gene column: each value for a categorical or small-domain gene, quartile ranges for a
    numeric gene with more than NUMERIC_GROUPS values. Rows where the gene is absent (conditional) are NaN."""
    present = values.dropna()
    numeric = pd.to_numeric(present, errors="coerce")
    if len(present) and numeric.notna().all() and numeric.nunique() > NUMERIC_GROUPS:
        q = pd.qcut(numeric, NUMERIC_GROUPS, duplicates="drop")
        low = numeric.min()  # qcut moves the first edge 0.1% below the minimum
        labels = q.map(lambda iv: f"{max(iv.left, low):.4g}..{iv.right:.4g}").astype(str)
        return "numeric", labels.reindex(values.index)
    kind = "numeric" if len(present) and numeric.notna().all() else "categorical"
    return kind, values.map(lambda v: None if pd.isna(v) else _value_text(v))


def _value_text(value) -> str:
    """A gene value as written in the space: 3, not the 3.0 a column with missing values holds."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def membership_columns(values: pd.Series) -> dict[str, pd.Series]:
    """For a set-valued gene ("[3, 9, 13]"), one yes/no column per element: "contains 13"."""
    present = values.dropna()
    if not len(present) or not all(_is_list_text(v) for v in present):
        return {}
    parsed = present.map(json.loads)
    elements = sorted({x for lst in parsed for x in lst}, key=str)
    out = {}
    for x in elements:
        col = parsed.map(lambda lst, x=x: f"contains {x}" if x in lst else f"lacks {x}")
        if col.nunique() == 2:
            out[str(x)] = col.reindex(values.index)
    return out


def _label_order(label: str) -> tuple:
    """Numbers and numeric ranges ("8.5..11") in numeric order, then everything else alphabetically."""
    try:
        return (0, float(str(label).split("..")[0]), "")
    except ValueError:
        return (1, 0.0, str(label))


def gene_columns(feasible: pd.DataFrame) -> list[tuple[str, str, pd.Series, pd.Series]]:
    """(gene, kind, group labels, raw values) for every gene column, plus "<gene> contains x" for set genes."""
    columns = []
    for col in (c for c in feasible.columns if c.startswith(GENE_PREFIX)):
        gene = col[len(GENE_PREFIX):]
        kind, labels = gene_groups(feasible[col])
        columns.append((gene, kind, labels, feasible[col]))
        for element, member in membership_columns(feasible[col]).items():
            columns.append((f"{gene} contains {element}", "membership", member, feasible[col]))
    return columns


def group_labels(feasible: pd.DataFrame, gene: str) -> pd.Series:
    """The group label of every trial for one analysed gene (as named in GeneAnalysis.gene)."""
    for name, _, labels, _ in gene_columns(feasible):
        if name == gene:
            return labels
    raise ArchspaceError(f"analysis: no gene {gene!r} in the trials table")


def _delta_stats(err: np.ndarray, flops: np.ndarray, is_value: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float, float]:
    """Raw and normalised mean-error difference (value - rest), and a 95% bootstrap interval of the latter."""
    def deltas(idx: np.ndarray) -> tuple[float, float]:
        e, f, v = err[idx], flops[idx], is_value[idx]
        w = complexity_weights(f, v)
        raw = e[v].mean() - e[~v].mean()
        norm = weighted_mean(e[v], w[v]) - weighted_mean(e[~v], w[~v])
        return float(raw), float(norm)

    everything = np.arange(len(err))
    raw, norm = deltas(everything)
    boots = []
    for _ in range(BOOTSTRAP):
        idx = rng.choice(everything, size=len(everything), replace=True)
        if is_value[idx].sum() >= 2 and (~is_value[idx]).sum() >= 2:
            boots.append(deltas(idx)[1])
    boots = np.asarray(boots)
    boots = boots[np.isfinite(boots)]
    lo, hi = (np.percentile(boots, [2.5, 97.5]) if len(boots) else (np.nan, np.nan))
    return raw, norm, float(lo), float(hi)


def _finding_text(gene: str, relation: str, err_name: str, scale: float, unit: str, raw: float, norm: float, lo: float, hi: float, n_v: int, n_r: int,
                  bins: int) -> str:
    def num(x: float) -> str:
        return f"{round(x * scale, 10):+.3g}{unit}"

    verb = "lowers" if norm < 0 else "raises"
    sure = "" if (np.isfinite(lo) and (hi < 0 or lo > 0)) else "; the interval includes 0: no reliable effect"
    how = f", FLOPs-normalised over {bins} bins," if bins > 1 else " (one FLOPs bin: too few trials to normalise)"
    return (f"{gene} {relation} {verb} the mean {err_name}{how} by {num(abs(norm)).lstrip('+')} against the "
            f"others (95% bootstrap interval {num(lo)} to {num(hi)}; n={n_v} vs {n_r}; raw difference {num(raw)}{sure}).")


@dataclass
class Analysis:
    """What `archspace analyze` computes on a run."""

    error_name: str
    error_unit: str
    n_models: int
    genes: list[GeneAnalysis]
    findings: list[Finding]
    importance: dict[str, dict[str, dict[str, float]]]
    importance_note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def error_of(scores: pd.Series, accuracy: bool) -> tuple[np.ndarray, str, str, float]:
    """Lower-is-better error from the higher-is-better score: 1 - accuracy, or the gap to the best trial's score
    for a proxy (whose scale has no fixed top). Returns (errors, name, unit, display scale)."""
    s = pd.to_numeric(scores, errors="coerce").to_numpy(dtype=float)
    if accuracy:
        return 1.0 - s, "top-1 error", " points", 100.0
    return np.nanmax(s) - s, "score gap to the best trial", "", 1.0


def _comparisons(gene: str, kind: str, keep: list, labels: np.ndarray, values: pd.Series) -> list[tuple[str, str, np.ndarray]]:
    """(gene, relation text, mask) pairs to test against the rest: each value of a categorical gene, "contains x"
    of a set gene, and the upper half of a numeric gene."""
    if kind == "membership":
        base = gene.split(" contains ")[0]
        return [(base, f"containing {v.removeprefix('contains ')}", labels == v) for v in keep if v.startswith("contains")]
    if kind == "numeric" and len(keep) > 2:
        numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        median = float(np.median(numeric))
        upper = numeric > median
        return [(gene, f"above {median:.4g}", upper)] if MIN_GROUP <= upper.sum() <= len(upper) - MIN_GROUP else []
    return [(gene, f"= {v}", labels == v) for v in keep]


def analyze_table(feasible: pd.DataFrame, accuracy: bool, seed: int = 0) -> tuple[list[GeneAnalysis], list[Finding], str, str, float]:
    """EDF groups and findings from the COMPLETE feasible trials (columns score, flops, gene:*)."""
    rng = np.random.default_rng(seed)
    err, err_name, unit, scale = error_of(feasible["score"], accuracy)
    flops = pd.to_numeric(feasible["flops"], errors="coerce").to_numpy(dtype=float)
    genes: list[GeneAnalysis] = []
    findings: list[Finding] = []
    for gene, kind, labels, values in gene_columns(feasible):
        lab = labels.to_numpy(dtype=object)
        present = labels.notna().to_numpy()
        counts = pd.Series(lab[present]).value_counts()
        keep = sorted(counts[counts >= MIN_GROUP].index.tolist(), key=_label_order)
        if len(keep) < 2:
            continue
        use = present & np.isin(lab, keep)
        e, f, lu = err[use], flops[use], lab[use]
        w = complexity_weights(f, lu)
        ga = GeneAnalysis(gene, kind)
        for value in keep:
            m = lu == value
            ga.groups.append(GeneGroup(str(value), int(m.sum()), float(e[m].mean()), weighted_mean(e[m], w[m])))
        genes.append(ga)
        for name, text_value, is_value in _comparisons(gene, kind, keep, lu, values[use]):
            raw, norm, lo, hi = _delta_stats(e, f, is_value, rng)
            if len(keep) == 2 and kind != "membership" and not norm < 0:
                continue  # of two values, state the better one (the other is its mirror image)
            n_v, n_r = int(is_value.sum()), int((~is_value).sum())
            bins = default_bins(len(is_value), 2)
            findings.append(Finding(name, text_value, n_v, n_r, raw, norm, lo, hi,
                                    _finding_text(name, text_value, err_name, scale, unit, raw, norm, lo, hi, n_v, n_r, bins)))
    findings.sort(key=lambda f: -abs(f.normalized_delta) if np.isfinite(f.normalized_delta) else 0.0)
    return genes, findings, err_name, unit, scale
