"""CDT v1 baselines: what the enhancer-gene pairs give without the transformer.

Same pairs, split and embeddings as a CDT v1 run (`cdt.train.data.PairData`): the mean training beta of the pair's
target gene (the trainer's baseline), and ridge regressions (scikit-learn, alpha by leave-one-out CV on the
training pairs) on the target gene's fixed embeddings, on a DNA summary of the enhancer window (per-bin L2 norm of
the embedding, and its mean over bins), and on both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.stats
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cdt.train.data import PairData

ALPHAS = np.logspace(-2, 4, 13)


def pair_features(data: PairData) -> dict[str, np.ndarray]:
    """Feature blocks per pair: {"gene": [N, r + p] target embeddings, "dna": [N, n_bins + dim] window summary}."""
    target = data.target_index.numpy()
    gene = np.hstack([data.rna_emb.numpy()[target], data.prot_emb.numpy()[target]])
    windows = data.dna.numpy()  # [E, n_bins, dim], one per enhancer
    summary = np.hstack([np.linalg.norm(windows, axis=2), windows.mean(1)])  # [E, n_bins + dim]
    return {"gene": gene, "dna": summary[data.enhancer.numpy()]}


def v1_baselines(
    data: PairData, train: tuple[str, ...] = ("train",), report: tuple[str, ...] = ("val", "test")
) -> pd.DataFrame:
    """Pearson r, Spearman rho and n of each baseline on each reported split (splits without pairs are skipped)."""
    fit = data.indices(train)
    if fit.size == 0:
        raise ValueError(f"{data.path}: no pairs in training splits {list(train)}")
    y = data.beta.numpy().astype(np.float64)
    blocks = pair_features(data)
    per_gene = data.mean_beta_per_gene(fit).numpy()  # [G], the trainer's baseline
    predictions = {"mean training beta of the target gene": per_gene[data.target_index.numpy()]}
    for name, x in (
        ("ridge: gene embeddings", blocks["gene"]),
        ("ridge: DNA window summary", blocks["dna"]),
        ("ridge: gene embeddings + DNA", np.hstack([blocks["gene"], blocks["dna"]])),
    ):
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS)).fit(x[fit], y[fit])
        predictions[name] = model.predict(x)
    rows = []
    for split in report:
        idx = data.indices((split,))
        if idx.size < 3:
            continue
        for name, pred in predictions.items():
            rows.append(
                {
                    "baseline": name,
                    "split": split,
                    "n": int(idx.size),
                    "r": float(scipy.stats.pearsonr(pred[idx], y[idx]).statistic),
                    "rho": float(scipy.stats.spearmanr(pred[idx], y[idx]).statistic),
                }
            )
    return pd.DataFrame(rows)
