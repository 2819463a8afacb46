"""Incremental value of an edge score over gene-level features (the attention-evaluation framework's test).

Observations are (perturbation, gene) pairs labelled by whether the gene responds to the perturbation. Logistic
regressions (standardised features) are fitted under GroupKFold grouped by perturbation, so a perturbation's
genes are never predicted by a model that saw that perturbation; their out-of-fold probabilities give the AUROC
of: gene-level features alone, the edge score alone, and both. The gain (both - features alone) gets a percentile
bootstrap CI that resamples perturbations (whole groups) with replacement, with a fixed seed, reusing the
out-of-fold predictions (the models are not refitted per resample).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.stats
from numpy.typing import ArrayLike
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cdt.baselines.edges import GENE_FEATURES


def pair_table(
    perturbations: Sequence[str],
    genes: Sequence[str],
    labels: ArrayLike,
    scores: Mapping[str, ArrayLike],
    drop_self: bool = True,
) -> pd.DataFrame:
    """Long table of (perturbation, gene) observations: perturbation, gene, label, one column per score.

    labels: [K, G] bool (K perturbations); each score is [G] (the same for every perturbation, e.g. gene-level
    features) or [K, G] (per perturbation, e.g. the attention row of its target). `drop_self` removes the row of
    a perturbation's own target gene (a perturbation named like a gene targets that gene).
    """
    y = np.asarray(labels, dtype=bool)
    k, g = len(perturbations), len(genes)
    if y.shape != (k, g):
        raise ValueError(f"labels have shape {y.shape}, expected ({k}, {g}) = (perturbations, genes)")
    table = {
        "perturbation": np.repeat(np.asarray(perturbations, dtype=str), g),
        "gene": np.tile(np.asarray(genes, dtype=str), k),
        "label": y.ravel(),
    }
    for name, s in scores.items():
        s = np.asarray(s, dtype=float)
        if s.shape == (g,):
            s = np.broadcast_to(s, (k, g))
        if s.shape != (k, g):
            raise ValueError(f"score {name!r} has shape {s.shape}, expected ({g},) or ({k}, {g})")
        table[name] = s.ravel()
    out = pd.DataFrame(table)
    if drop_self:
        out = out[out["perturbation"] != out["gene"]].reset_index(drop=True)
    return out


def out_of_fold_probabilities(
    table: pd.DataFrame, columns: Sequence[str], group: str = "perturbation", n_splits: int = 5
) -> np.ndarray:
    """[n] P(label) of each row from a logistic regression that did not see the row's group (GroupKFold)."""
    missing = [c for c in (*columns, group, "label") if c not in table]
    if missing:
        raise KeyError(f"pair table has no columns {missing}")
    groups = table[group].to_numpy()
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError(f"need >= 2 {group} groups for grouped cross-validation; got {n_groups}")
    x, y = table[list(columns)].to_numpy(dtype=float), table["label"].to_numpy(dtype=bool)
    prob = np.empty(len(table))
    for train, test in GroupKFold(n_splits=min(n_splits, n_groups)).split(x, y, groups):
        if y[train].all() or not y[train].any():
            raise ValueError(f"a training fold has one class only; use fewer splits or more {group} groups")
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        prob[test] = model.fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    return prob


def auroc(scores: ArrayLike, labels: ArrayLike) -> float:
    """AUROC from average ranks (Mann-Whitney U / (n_pos n_neg)), equal to sklearn's; NaN with one class."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = scipy.stats.rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def incremental_value(
    table: pd.DataFrame,
    added: Sequence[str],
    base: Sequence[str] = GENE_FEATURES,
    group: str = "perturbation",
    n_splits: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    metric: str = "pooled",
) -> pd.DataFrame:
    """AUROC of base features alone, each added score alone, and both; the gain with a group-bootstrap CI.

    metric: "pooled" = one AUROC over all (perturbation, gene) pairs, the framework's; "within" = the mean over
    perturbations of the AUROC among that perturbation's genes. Pooled AUROC also ranks whole perturbations
    against each other, and so depends on the fold-to-fold calibration of the cross-validated models: a fold whose
    held-out perturbations have many responders was trained on fewer, gets a lower intercept, and pushes its
    positives down, so pooled out-of-fold AUROC can fall below that of a raw feature. "within" only asks which
    genes respond to a given perturbation and is immune to this.
    One row per added score: added, metric, auroc_base, auroc_added, auroc_combined, delta (= combined - base),
    ci_low, ci_high (percentile CI of delta at `level`), p_le_0 (fraction of resamples with delta <= 0), n_pos,
    n_neg, n_groups, n_boot (usable resamples).
    """
    if metric not in ("pooled", "within"):
        raise ValueError(f"metric must be 'pooled' or 'within'; got {metric!r}")
    y = table["label"].to_numpy(dtype=bool)
    codes, names = pd.factorize(table[group])
    members = [np.flatnonzero(codes == i) for i in range(len(names))]
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(names), len(names)) for _ in range(n_boot)]  # resampled groups

    def statistic(prob: np.ndarray) -> tuple[float, np.ndarray]:
        """The metric on all groups, and on each resample."""
        if metric == "within":
            per = np.array([auroc(prob[m], y[m]) for m in members])  # [K], NaN for one-class groups
            with np.errstate(all="ignore"):
                return float(np.nanmean(per)), np.array([np.nanmean(per[d]) for d in draws])
        rows = [np.concatenate([members[i] for i in d]) for d in draws]
        return auroc(prob, y), np.array([auroc(prob[r], y[r]) for r in rows])

    a_base, boot_base = statistic(out_of_fold_probabilities(table, base, group, n_splits))
    tail = (1 - level) / 2
    out = []
    for name in added:
        a_both, boot_both = statistic(out_of_fold_probabilities(table, [*base, name], group, n_splits))
        a_alone, _ = statistic(out_of_fold_probabilities(table, [name], group, n_splits))
        deltas = boot_both - boot_base
        deltas = deltas[np.isfinite(deltas)]  # resamples without both classes
        out.append(
            {
                "added": name,
                "metric": metric,
                "auroc_base": a_base,
                "auroc_added": a_alone,
                "auroc_combined": a_both,
                "delta": a_both - a_base,
                "ci_low": float(np.quantile(deltas, tail)) if deltas.size else np.nan,
                "ci_high": float(np.quantile(deltas, 1 - tail)) if deltas.size else np.nan,
                "p_le_0": float((deltas <= 0).mean()) if deltas.size else np.nan,
                "n_pos": int(y.sum()),
                "n_neg": int((~y).sum()),
                "n_groups": len(names),
                "n_boot": deltas.size,
            }
        )
    return pd.DataFrame(out)
