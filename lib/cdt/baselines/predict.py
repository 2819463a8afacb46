"""Prediction baselines: what a model-free or linear predictor gets on the same cells, splits and metrics.

Four predictors of each cell's log2FC profile (or, for CDT-III, its change in the expressed proteins):

- `zero`           predict no change;
- `mean`           the mean training effect (mean target over the training cells), the trainer's own baseline;
- `ridge`          one multi-output sklearn Ridge on [ln(CPM+1) input (+ protein input) ; DNA summary of the locus];
- `nearest_locus`  the mean training profile of the training locus whose mean-pooled DNA embedding is most similar
                   (cosine) to the cell's locus.

The locus enters through its DNA, never through a one-hot: the reported loci are held out, so a one-hot column
would be all-zero for them and the comparison with a model that reads the DNA would be unfair. The DNA summary is
the locus embedding mean-pooled over bins, PCA-reduced with a PCA fitted on the training loci only.

Note that in the screen contract the target is an affine function of the input, gene by gene
(log2FC = (ln(CPM+1) - ln(NTC mean CPM + 1)) / ln 2), and the protein target is the protein input minus its NTC
mean: a linear model that reads the cell's own expression can therefore reach r close to 1. That is a property of
the task (the models see the answer in their input), and the ridge baseline is there to make it visible.

Splits follow the trainer (`cdt.train.split_roles`): `paper` fits on train + val and selects (ridge alpha) on the
reported test genes, as the authors selected their checkpoint; `clean` fits on train, selects on val, reports test.
Metrics are the trainer's: flattened Pearson r over cells x features and the per-perturbation pseudo-bulk r.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.linear_model import Ridge
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cdt.data.dnastore import DNAStore
from cdt.data.errors import ContractError
from cdt.data.screen import dense
from cdt.evaluate import pearson, pseudobulk_r
from cdt.train.data import split_roles

TARGETS = ("rna", "protein")
METHODS = ("zero", "mean", "ridge", "nearest_locus")
DEFAULT_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0)


@dataclass
class ScreenArrays:
    """The cells of some kinds as dense arrays, with the target chosen (RNA log2FC or expressed-protein change)."""

    expr: np.ndarray  # [N, G] ln(CPM+1) input
    target: np.ndarray  # [N, F] what is predicted
    protein: np.ndarray | None  # [N, P] protein input (DSB), target == "protein" only
    perturbation: np.ndarray  # [N] str
    locus: np.ndarray  # [N] str
    split: np.ndarray  # [N] str
    features: np.ndarray  # [F] names of the target columns (genes or expressed proteins)

    def rows(self, splits: Sequence[str]) -> np.ndarray:
        """Row indices of the cells in any of `splits`."""
        return np.flatnonzero(np.isin(self.split, list(splits)))


def screen_arrays(adata: ad.AnnData, kinds: Sequence[str] = ("TSS", "SNP"), target: str = "rna") -> ScreenArrays:
    """Extract the cells of `kinds` (the trainer's default: TSS and SNP; CDT-III: TSS) from a contract screen."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}; got {target!r}")
    src = adata.uns.get("cdt", {}).get("source", "<screen>")
    keep = adata.obs["kind"].astype(str).isin(list(kinds)).to_numpy()
    if not keep.any():
        raise ContractError(src, "obs['kind']", f"no cells of kinds {list(kinds)}")
    a = adata[keep]
    expr = dense(a.X, dtype=np.float32)
    protein = None
    if target == "rna":
        y, names = dense(a.layers["log2fc"], dtype=np.float32), a.var_names.to_numpy(dtype=str)
    else:
        for key in ("protein", "protein_target"):
            if key not in a.obsm:
                raise ContractError(src, f"obsm[{key!r}]", "missing (needed for protein baselines)")
        expressed = np.asarray(a.uns["protein_expressed"], dtype=bool)
        if not expressed.any():
            raise ContractError(src, "uns['protein_expressed']", "no protein is marked expressed")
        protein = np.asarray(a.obsm["protein"], dtype=np.float32)
        y = np.asarray(a.obsm["protein_target"], dtype=np.float32)[:, expressed]
        names = np.asarray(a.uns["protein_names"], dtype=str)[expressed]
    obs = a.obs
    return ScreenArrays(
        expr=expr,
        target=y,
        protein=protein,
        perturbation=obs["perturbation"].astype(str).to_numpy(),
        locus=obs["locus"].astype(str).to_numpy(),
        split=obs["split"].astype(str).to_numpy(),
        features=names,
    )


def locus_summaries(store: DNAStore | str | os.PathLike, loci: Sequence[str]) -> dict[str, np.ndarray]:
    """Mean-pooled DNA embedding of each locus: {locus: [dim]}."""
    if not isinstance(store, DNAStore):
        with DNAStore(store) as s:
            return locus_summaries(s, loci)
    return {k: store[k].mean(0) for k in dict.fromkeys(loci)}


# ---------------------------------------------------------------------------------------------------------- predictors


class ZeroBaseline:
    """No change predicted."""

    def fit(self, data: ScreenArrays, train: np.ndarray) -> ZeroBaseline:
        self.n_out = data.target.shape[1]
        return self

    def predict(self, data: ScreenArrays, rows: np.ndarray) -> np.ndarray:
        return np.zeros((len(rows), self.n_out), dtype=np.float32)


class MeanBaseline:
    """The mean training effect: every cell gets the mean target profile of the training cells."""

    def fit(self, data: ScreenArrays, train: np.ndarray) -> MeanBaseline:
        self.profile = data.target[train].astype(np.float64).mean(0)  # [F]
        return self

    def predict(self, data: ScreenArrays, rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.profile, (len(rows), self.profile.size)).astype(np.float32)


class NearestLocusBaseline:
    """Mean training profile of the training locus with the most cosine-similar mean-pooled DNA embedding."""

    def __init__(self, summaries: Mapping[str, np.ndarray]):
        self.summaries = summaries

    def fit(self, data: ScreenArrays, train: np.ndarray) -> NearestLocusBaseline:
        codes, self.loci = pd.factorize(data.locus[train], sort=True)
        sums = np.zeros((len(self.loci), data.target.shape[1]))
        np.add.at(sums, codes, data.target[train].astype(np.float64))
        self.profiles = sums / np.bincount(codes)[:, None]  # [U, F]
        self.train_emb = _summary_matrix(self.summaries, self.loci)  # [U, dim]
        return self

    def nearest(self, loci: Sequence[str]) -> np.ndarray:
        """The nearest training locus of each given locus: [n] str."""
        sim = cosine_similarity(_summary_matrix(self.summaries, loci), self.train_emb)  # [n, U]
        return np.asarray(self.loci)[sim.argmax(1)]

    def predict(self, data: ScreenArrays, rows: np.ndarray) -> np.ndarray:
        loci, inverse = np.unique(data.locus[rows], return_inverse=True)
        best = pd.Index(self.loci).get_indexer(self.nearest(loci))
        return self.profiles[best][inverse].astype(np.float32)


class RidgeBaseline:
    """One multi-output Ridge on [ln(CPM+1) input (+ protein input) ; PCA of the locus DNA summary], standardised.

    `use_expression=False` keeps only the DNA summary: a linear map from the locus to its mean profile.
    """

    def __init__(
        self,
        summaries: Mapping[str, np.ndarray],
        alpha: float = 1.0,
        n_components: int = 8,
        use_expression: bool = True,
    ):
        self.summaries, self.alpha = summaries, alpha
        self.n_components, self.use_expression = n_components, use_expression

    def fit(self, data: ScreenArrays, train: np.ndarray) -> RidgeBaseline:
        loci = list(dict.fromkeys(data.locus[train]))
        emb = _summary_matrix(self.summaries, loci)  # [U, dim]
        k = min(self.n_components, len(loci) - 1, emb.shape[1])
        self.pca = PCA(n_components=k, random_state=0).fit(emb) if k > 0 else None
        self.model = make_pipeline(StandardScaler(), Ridge(alpha=self.alpha))
        self.model.fit(self.features(data, train), data.target[train])
        return self

    def features(self, data: ScreenArrays, rows: np.ndarray) -> np.ndarray:
        parts = []
        if self.use_expression:
            parts.append(data.expr[rows])  # [n, G]
            if data.protein is not None:
                parts.append(data.protein[rows])  # [n, P]
        if self.pca is not None:
            loci, inverse = np.unique(data.locus[rows], return_inverse=True)
            parts.append(self.pca.transform(_summary_matrix(self.summaries, loci))[inverse])  # [n, k]
        if not parts:
            raise ValueError("ridge without expression needs >= 2 training loci for a DNA summary")
        return np.concatenate(parts, axis=1)

    def predict(self, data: ScreenArrays, rows: np.ndarray) -> np.ndarray:
        return self.model.predict(self.features(data, rows)).reshape(len(rows), -1).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------- metrics


def prediction_metrics(pred: np.ndarray, target: np.ndarray, groups: Sequence[str]) -> tuple[float, float, dict]:
    """(flattened r, mean pseudo-bulk r, {group: (pseudo-bulk r, n_cells)}) with `cdt.evaluate`'s metrics.

    pred, target: [n, F]; groups: [n] perturbation of each cell. Pseudo-bulk r of a group = Pearson r across
    features between its cell-mean predicted and cell-mean observed profiles (NaN when either is constant); the
    mean skips NaN, as the trainer's does.
    """
    per = pseudobulk_r(pred, target, groups)  # [K] by sorted group name
    counts = pd.Series(np.asarray(groups, dtype=str)).value_counts()
    finite = per[np.isfinite(per)]
    return (
        pearson(pred, target),
        float(finite.mean()) if len(finite) else math.nan,
        {str(g): (float(v), int(counts[g])) for g, v in per.items()},
    )


# ---------------------------------------------------------------------------------------------------------- protocol


@dataclass
class BaselineResult:
    summary: pd.DataFrame  # method, target, role, r, pb_r, mse, n_cells, n_perturbations, alpha
    per_perturbation: pd.DataFrame  # method, target, role, perturbation, pb_r, n_cells
    alpha: float  # ridge alpha chosen on the selection split


def prediction_baselines(
    adata: ad.AnnData,
    dna_store: DNAStore | str | os.PathLike,
    protocol: str = "clean",
    kinds: Sequence[str] = ("TSS", "SNP"),
    target: str = "rna",
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    n_components: int = 8,
) -> BaselineResult:
    """Fit every baseline under the trainer's `protocol` and score it on the selection and test splits.

    Methods: zero, mean, ridge (expression + DNA summary), ridge_dna (DNA summary only), nearest_locus. Each ridge
    variant takes the alpha of `alphas` with the best flattened r on the selection split (the first alpha when that
    split has no cells; under `paper` the selection split is the reported test split). Metrics: flattened r,
    mean pseudo-bulk r and MSE (the only one defined for the constant `zero` prediction).
    """
    roles = split_roles("cdt2", protocol)
    data = screen_arrays(adata, kinds, target)
    rows = {role: data.rows(roles[role]) for role in ("train", "select", "test")}
    if len(rows["train"]) == 0:
        raise ValueError(f"no cells of kinds {list(kinds)} in the training split(s) {list(roles['train'])}")
    summaries = locus_summaries(dna_store, np.unique(data.locus))
    train = rows["train"]
    fitted = {
        "zero": ZeroBaseline().fit(data, train),
        "mean": MeanBaseline().fit(data, train),
        "nearest_locus": NearestLocusBaseline(summaries).fit(data, train),
    }
    alpha = float(alphas[0])
    for name, use_expr in (("ridge", True), ("ridge_dna", False)):
        models = [RidgeBaseline(summaries, a, n_components, use_expr).fit(data, train) for a in alphas]
        if len(rows["select"]):
            scores = [
                prediction_metrics(
                    m.predict(data, rows["select"]), data.target[rows["select"]], data.perturbation[rows["select"]]
                )[0]
                for m in models
            ]
            best = int(np.nanargmax(scores)) if np.isfinite(scores).any() else 0
        else:
            best = 0
        fitted[name] = models[best]
        if name == "ridge":
            alpha = float(alphas[best])

    summary, per_pert = [], []
    for role in ("select", "test"):
        idx = rows[role]
        if len(idx) == 0:
            continue
        for name, model in fitted.items():
            pred = model.predict(data, idx)
            r, pb_r, per = prediction_metrics(pred, data.target[idx], data.perturbation[idx])
            mse = float(np.mean((pred.astype(np.float64) - data.target[idx]) ** 2))
            summary.append(
                {
                    "method": name,
                    "target": target,
                    "role": role,
                    "r": r,
                    "pb_r": pb_r,
                    "mse": mse,
                    "n_cells": len(idx),
                    "n_perturbations": len(per),
                    "alpha": getattr(model, "alpha", math.nan),
                }
            )
            per_pert += [
                {"method": name, "target": target, "role": role, "perturbation": g, "pb_r": v, "n_cells": n}
                for g, (v, n) in per.items()
            ]
    return BaselineResult(pd.DataFrame(summary), pd.DataFrame(per_pert), alpha)


def _summary_matrix(summaries: Mapping[str, np.ndarray], loci: Sequence[str]) -> np.ndarray:
    missing = [k for k in loci if k not in summaries]
    if missing:
        raise KeyError(f"no DNA summary for loci {missing[:5]} (not in the DNA store?)")
    return np.stack([np.asarray(summaries[k], dtype=np.float64) for k in loci])  # [n, dim]
