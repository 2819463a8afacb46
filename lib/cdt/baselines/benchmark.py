"""Perturbation-first benchmark: for each perturbed gene, every edge score against its observed and true targets.

For a perturbation of gene g: labels are the genes differentially expressed in g's cells vs NTC cells
(`edges.differential_expression`) and, given the simulator's network, the true targets of g (direct, and all
downstream genes). Scores are the model-free ones (Spearman correlation with g in NTC cells and in training cells of
other perturbations — never g's own cells, whose knockdown is the outcome being predicted; gene-level features) plus
any model-derived ones passed in (attention, cross-attention, Jacobian). g itself is never scored. The result holds
the per-perturbation AUROC/AUPRC table and the (perturbation, gene) pair table for `incremental_value`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from cdt.baselines.edges import (
    GENE_FEATURES,
    de_labels,
    differential_expression,
    edge_scores,
    gene_level_features,
    recovery_table,
    truth_targets,
)
from cdt.baselines.incremental import pair_table

ModelInputs = Mapping[str, ArrayLike] | Callable[[str], Mapping[str, ArrayLike]]


@dataclass
class PerturbationBenchmark:
    table: pd.DataFrame  # perturbation, method, target, auroc, auprc, n_pos, n_neg
    pairs: pd.DataFrame  # perturbation, gene, label (DE), one column per score -> incremental_value
    labels: pd.DataFrame  # [K, G] bool DE labels, index = perturbations, columns = genes


def perturbation_benchmark(
    adata: ad.AnnData,
    perturbations: Sequence[str],
    model_inputs: ModelInputs | None = None,
    network: pd.DataFrame | None = None,
    kinds: Sequence[str] = ("TSS", "SNP"),
    test: str = "welch",
    q: float = 0.05,
    min_abs_lfc: float = 0.0,
) -> PerturbationBenchmark:
    """Score every edge method for each perturbation (a gene of the screen) against DE and true targets.

    model_inputs: keyword arrays of `edges.edge_scores` (rna_attention [G, G], cross_attention [G, L],
    jacobian [G, G]) shared by all perturbations, or a function perturbation -> such a dict (e.g. attention averaged
    over that perturbation's cells). network: truth/network_edges.csv, adds targets truth_direct and truth_downstream.
    """
    genes = adata.var_names.astype(str).tolist()
    missing = [p for p in perturbations if p not in genes]
    if missing:
        raise KeyError(f"perturbations {missing[:5]} are not genes of the screen (TSS targets only)")
    x = np.asarray(adata.X.toarray() if hasattr(adata.X, "toarray") else adata.X, dtype=np.float64)
    obs = adata.obs
    kind, pert = obs["kind"].astype(str).to_numpy(), obs["perturbation"].astype(str).to_numpy()
    trained = np.isin(kind, list(kinds)) & (obs["split"].astype(str).to_numpy() == "train")
    ntc = x[kind == "NTC"]
    features = gene_level_features(ntc)
    tables, labels, per_scores = [], [], []
    for p in perturbations:
        g = genes.index(p)
        own = pert == p
        if own.sum() < 2:
            raise ValueError(f"perturbation {p!r} has {int(own.sum())} cells; need >= 2 for the DE test")
        lab = de_labels(differential_expression(x[own], ntc, test), q, min_abs_lfc)
        lab[g] = False
        inputs = model_inputs(p) if callable(model_inputs) else (model_inputs or {})
        scores = edge_scores(g, expr_ntc=ntc, expr_perturbed=x[trained & ~own], **inputs)
        truths = {"DE": lab}
        if network is not None:
            truths["truth_direct"] = truth_targets(network, genes, p)
            truths["truth_downstream"] = truth_targets(network, genes, p, indirect=True)
        tab = recovery_table(scores, truths, mask=np.arange(len(genes)) != g)
        tables.append(tab.assign(perturbation=p))
        labels.append(lab)
        per_scores.append(scores)
    stacked = {m: np.stack([s[m] for s in per_scores]) for m in per_scores[0] if m not in GENE_FEATURES}
    pairs = pair_table(list(perturbations), genes, np.array(labels), {**features, **stacked})
    table = pd.concat(tables, ignore_index=True)
    table = table[["perturbation", *[c for c in table.columns if c != "perturbation"]]]
    return PerturbationBenchmark(
        table=table, pairs=pairs, labels=pd.DataFrame(np.array(labels), index=list(perturbations), columns=genes)
    )
