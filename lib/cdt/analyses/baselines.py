"""Baselines and controls behind notebook 07: each CDT claim beside a simpler method on the same data.

- prediction: the `cdt.baselines` predictors under both training protocols beside each run's own scores
  (metrics.json), and the affine identity of the screen contract that lets a linear readout of the input reach r = 1;
- edges: the perturbation benchmark's model inputs (attention per perturbation, a Jacobian at the NTC-mean input of
  the held-out loci) and summaries of its AUROC table;
- ground truth (simulated data): gene x gene score matrices of every method and the planted network / module pairs,
  DNA-bin scores and the planted elements;
- head ablation: the truth heads are ranked against (planted network, or the observed DE of the perturbed genes when
  there is no truth), the batches and targets `cdt.baselines.head_ablation` needs, and a per-condition summary.

Statistics live in `cdt.baselines`; this module only combines its calls for the notebook.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import scipy.stats
from torch import nn

from cdt.analyses import Findings
from cdt.attention import AttentionMap, mean_attention_maps
from cdt.baselines import (
    PerturbationBenchmark,
    cross_attention_bins,
    dna_bin_baselines,
    element_bins,
    gene_level_features,
    head_ablation,
    incremental_value,
    module_pairs,
    perturbation_benchmark,
    prediction_baselines,
    prediction_metrics,
    rank_heads,
    recovery_table,
    truth_adjacency,
    v1_baselines,
)
from cdt.baselines.predict import DEFAULT_ALPHAS
from cdt.data.dnastore import DNAStore
from cdt.data.screen import dense
from cdt.evaluate import open_store, predict, screen_batches
from cdt.gradients import Jacobian, gene_jacobian, ntc_mean_gene_columns
from cdt.models import CDT3
from cdt.networks import cosine_similarity
from cdt.train.data import split_roles

__all__ = [
    "BASELINE_LABELS",
    "METHOD_FAMILY",
    "ELEMENT_CLASSES",
    "N_CELLS_TARGET",
    "N_CELLS_SNP",
    "N_JACOBIAN_LOCI",
    "N_CELLS_ABLATION",
    "N_BOOT",
    "N_RANDOM",
    "ALPHAS",
    "EDGE_SCORES_ADDED",
    "affine_identity",
    "run_scores",
    "predicted_scores",
    "PredictionComparison",
    "prediction_comparison",
    "v1_comparison",
    "has_ntc_cells",
    "perturbed_genes",
    "first_cells",
    "tested_perturbations",
    "mean_jacobian",
    "edge_inputs",
    "edge_summary",
    "best_of",
    "pooled_map",
    "spearman_matrix",
    "gene_pair_scores",
    "gene_truths",
    "element_scores",
    "element_truths",
    "head_truth",
    "AblationInputs",
    "ablation_inputs",
    "ablation_summary",
    "ablation_verdict",
    "versus",
    "compare_methods",
    "BP",
    "PREDICTION_METHODS",
    "NO_NTC_CELLS",
    "opening_text",
    "stack_tables",
    "reported_per_perturbation",
    "comparison_findings",
    "v1_findings",
    "EdgeModelInputs",
    "edge_model_inputs",
    "EdgeRecovery",
    "edge_recovery",
    "edge_findings",
    "incremental_tables",
    "incremental_findings",
    "ground_truth_recovery",
    "ground_truth_findings",
    "HeadAblation",
    "head_ablation_tables",
    "head_ablation_findings",
    "key_comparisons",
]

BASELINE_LABELS = {
    "zero": "zero (no change)",
    "mean": "mean training effect",
    "ridge": "ridge: input expression + DNA",
    "ridge_dna": "ridge: DNA only",
    "nearest_locus": "nearest locus (DNA)",
}
"""Readable names of the `cdt.baselines.prediction_baselines` methods."""

METHOD_FAMILY = {
    "attention_row": "attention",
    "attention_column": "attention",
    "cross_attention_similarity": "attention",
    "jacobian_column": "gradient",
    "jacobian_row": "gradient",
    "spearman_ntc": "correlation",
    "spearman_perturbed": "correlation",
    "mean": "gene-level",
    "variance": "gene-level",
    "dropout": "gene-level",
}
"""Family of each edge score of `cdt.baselines.edge_scores` (model-derived vs model-free)."""

ELEMENT_CLASSES = ("promoter", "CTCF", "enhancer", "open")

# Cost limits of notebook 07: attention is averaged over the first cells of each perturbation (cell means of attention
# are stable across cells), the Jacobian is taken at the NTC-mean input of a few held-out loci, ridge alphas are chosen
# from three values, head ablation runs on the first cells of each held-out gene.
N_CELLS_TARGET = 4  # cells per perturbed gene for its attention maps
N_CELLS_SNP = 2  # cells per SNP locus for the DNA-element maps
N_JACOBIAN_LOCI = 2  # held-out loci (GFI1B first) the Jacobian is averaged over
N_CELLS_ABLATION = 10  # held-out cells per gene rescored by the head ablation
N_BOOT = 200  # bootstrap draws of the incremental-value CIs
N_RANDOM = 4  # random head sets of the head ablation
ALPHAS = (0.1, 10.0, 1000.0)  # ridge alphas of the prediction baselines
EDGE_SCORES_ADDED = (
    "attention_row",
    "attention_column",
    "cross_attention_similarity",
    "jacobian_column",
    "spearman_ntc",
    "spearman_perturbed",
)
"""Edge scores whose incremental value over the gene-level features is tested (those the benchmark computed)."""


# --- prediction --------------------------------------------------------------------------------------------------------


def affine_identity(screen: ad.AnnData) -> dict[str, float]:
    """How exactly the target is an affine function of the input, gene by gene (screen contract, CDT-II eq. 1).

    log2FC = (ln(CPM+1) - ln(NTC mean CPM + 1)) / ln 2 is recomputed from X and var["ntc_mean_cpm"] and compared
    with layers["log2fc"]: max |difference|, Pearson r over all cells x genes, number of values.
    """
    x = dense(screen.X, dtype=np.float32).astype(np.float64)
    y = dense(screen.layers["log2fc"], dtype=np.float32).astype(np.float64)
    implied = (x - np.log1p(screen.var["ntc_mean_cpm"].to_numpy(np.float64))) / math.log(2)
    return {
        "max_abs_difference": float(np.abs(implied - y).max()),
        "r": float(np.corrcoef(implied.ravel(), y.ravel())[0, 1]),
        "n_values": int(y.size),
    }


def run_scores(metrics: Mapping[str, Any], label: str, target: str = "rna") -> tuple[pd.DataFrame, pd.DataFrame]:
    """A run's own scores from its metrics.json, in the layout of `prediction_baselines`: (summary, per perturbation).

    Adds the trainer's mean-training-effect baseline as method "mean (trainer)", a check on the library's `mean`.
    """
    p = "" if target == "rna" else "protein_"
    loss = "protein_loss" if target == "protein" else "rna_loss" if "test_rna_loss" in metrics else "loss"  # MSE
    rows, per = [], []
    for role in ("select", "test"):
        if f"{role}_{p}r" not in metrics:
            continue
        groups = metrics.get(f"{role}_per_perturbation", {})
        n_cells = int(metrics.get("n_samples", {}).get(role, sum(g["n_cells"] for g in groups.values())))
        for method, prefix in ((label, ""), ("mean (trainer)", "baseline_")):
            rows.append(
                {
                    "method": method,
                    "target": target,
                    "role": role,
                    "r": metrics[f"{prefix}{role}_{p}r"],
                    "pb_r": metrics[f"{prefix}{role}_{p}pb_r"],
                    "mse": metrics.get(f"{prefix}{role}_{loss}"),
                    "n_cells": n_cells,
                    "n_perturbations": len(groups),
                    "alpha": math.nan,
                }
            )
            per += [
                {
                    "method": method,
                    "target": target,
                    "role": role,
                    "perturbation": g,
                    "pb_r": v.get(f"{prefix}{p}pb_r"),
                    "n_cells": v["n_cells"],
                }
                for g, v in groups.items()
            ]
    return pd.DataFrame(rows), pd.DataFrame(per)


def predicted_scores(
    model: nn.Module | Any,
    screen: ad.AnnData,
    dna: DNAStore | str | os.PathLike,
    label: str,
    target: str = "rna",
    kinds: Sequence[str] = ("TSS", "SNP"),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A model's scores on the reported test cells computed here (for a checkpoint without metrics.json)."""
    test = screen.obs["split"].astype(str).eq("test") & screen.obs["kind"].astype(str).isin(list(kinds))
    pred = predict(model, screen, dna, test.to_numpy())
    groups = screen.obs["perturbation"].astype(str).to_numpy()[pred.rows]
    if target == "rna":
        y, yhat = dense(screen.layers["log2fc"][pred.rows], dtype=np.float32), pred.rna
    else:
        expressed = np.asarray(screen.uns["protein_expressed"], dtype=bool)
        y = np.asarray(screen.obsm["protein_target"], np.float32)[pred.rows][:, expressed]
        yhat = pred.protein[:, expressed]
    r, pb_r, per = prediction_metrics(yhat, y, groups)
    row = {
        "method": label,
        "target": target,
        "role": "test",
        "r": r,
        "pb_r": pb_r,
        "mse": float(np.mean((yhat.astype(np.float64) - y) ** 2)),
        "n_cells": len(groups),
        "n_perturbations": len(per),
        "alpha": math.nan,
    }
    return pd.DataFrame([row]), pd.DataFrame(
        [
            {"method": label, "target": target, "role": "test", "perturbation": g, "pb_r": v, "n_cells": n}
            for g, (v, n) in per.items()
        ]
    )


@dataclass
class PredictionComparison:
    """Every run beside every prediction baseline on the same cells (`prediction_comparison`), with lookups."""

    summary: (
        pd.DataFrame
    )  # model, protocol, target, role, method, family, r, pb_r, mse, n_cells, n_perturbations, alpha
    per_perturbation: pd.DataFrame  # model, protocol, target, role, perturbation, method, family, pb_r, n_cells
    ridge_alpha: dict[tuple[str, str, str], float]  # (model, protocol, target) -> alpha chosen for `ridge`

    def reported(self, protocol: str) -> pd.DataFrame:
        """Summary rows on the reported test cells of one protocol."""
        s = self.summary
        return s[(s["protocol"] == protocol) & (s["role"] == "test")].reset_index(drop=True)

    def value(self, model: str, protocol: str, target: str, method: str, metric: str = "r") -> float:
        """One number of the reported (test) summary; NaN when that row does not exist."""
        s = self.reported(protocol)
        hit = s[(s["model"] == model) & (s["target"] == target) & (s["method"] == method)]
        return float(hit[metric].iloc[0]) if len(hit) else math.nan


def prediction_comparison(
    screen: ad.AnnData,
    dna: DNAStore | str | os.PathLike,
    runs: Mapping[str, Any],
    protocols: Sequence[str] | Mapping[str, Sequence[str]] = ("paper", "clean"),
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> PredictionComparison:
    """Every prediction baseline under each protocol beside each run (label -> `cdt.train.load_run` result).

    A run's cell kinds (CDT-II: TSS + SNP, CDT-III: TSS) and targets (RNA; CDT-III also the expressed proteins) decide
    the baselines it is set beside. protocols: for every run, or per run label (e.g. both for CDT-II, the run's own
    for CDT-III). The run's own numbers come from its metrics.json, under its own protocol only (the other protocol
    has no trained model here); a published checkpoint without metrics is scored on the test cells, beside the first
    protocol. Under `paper` the selection cells are the test cells, so only the test rows are kept.
    """
    cache: dict[tuple, Any] = {}
    summary, per, alpha = [], [], {}
    for label, run in runs.items():
        cfg = getattr(run, "config", None)
        kinds = tuple(cfg.kinds) if cfg is not None else ("TSS", "SNP")
        run_protocol = cfg.protocol if cfg is not None else None
        targets = ["rna", "protein"] if isinstance(run.model, CDT3) else ["rna"]
        mine = protocols[label] if isinstance(protocols, Mapping) else protocols
        for target in targets:
            for protocol in mine:
                key = (protocol, kinds, target)
                if key not in cache:
                    cache[key] = prediction_baselines(
                        screen, dna, protocol=protocol, kinds=kinds, target=target, alphas=alphas
                    )
                res = cache[key]
                alpha[(label, protocol, target)] = res.alpha
                s, p = res.summary, res.per_perturbation
                if protocol == run_protocol or (run_protocol is None and protocol == mine[0]):
                    if run.metrics:
                        own_s, own_p = run_scores(run.metrics, label, target)
                    else:
                        own_s, own_p = predicted_scores(run, screen, dna, label, target, kinds)
                    s, p = pd.concat([own_s, s], ignore_index=True), pd.concat([own_p, p], ignore_index=True)
                keep = (
                    ["test"]
                    if split_roles("cdt2", protocol)["select"] == split_roles("cdt2", protocol)["test"]
                    else ["select", "test"]
                )
                summary.append(s[s["role"].isin(keep)].assign(model=label, protocol=protocol))
                per.append(p[p["role"].isin(keep)].assign(model=label, protocol=protocol))
    labels = set(runs)
    out = []
    for df in (pd.concat(summary, ignore_index=True), pd.concat(per, ignore_index=True)):
        df["family"] = np.where(df["method"].isin(labels), "CDT", "baseline")
        front = ["model", "protocol", "target", "role", "method", "family"]
        out.append(df[front + [c for c in df.columns if c not in front]])
    return PredictionComparison(out[0], out[1], alpha)


def v1_comparison(run: Any) -> pd.DataFrame:
    """A CDT v1 run's r and rho on its validation and test pairs beside the pair baselines fitted on its training pairs.

    The pairs, split (enhancer- or pair-level) and embeddings are the run's own (`cdt.baselines.v1_baselines`).
    """
    from cdt.analyses.prediction import v1_predictions, v1_scores
    from cdt.train.runs import DataFiles, load_data

    data = load_data(run.config, DataFiles(**run.files))
    roles = split_roles("cdt1", run.config.protocol)
    splits = [s for s in ("val", "test") if data.indices((s,)).size >= 3]
    predicted = v1_predictions(run, splits=tuple(splits))  # one pass over the reported pairs
    rows = []
    for split in splits:
        score = v1_scores(predicted[predicted["split"] == split])
        rows.append({"baseline": "CDT v1", "split": split, "n": score["n"], "r": score["r"], "rho": score["rho"]})
    table = pd.concat(
        [pd.DataFrame(rows), v1_baselines(data, train=roles["train"], report=tuple(splits))], ignore_index=True
    )
    table.insert(2, "role", ["reported" if s in roles["report"] else "other" for s in table["split"]])
    return table.rename(columns={"baseline": "method"})


# --- cells and perturbations --------------------------------------------------------------------------------------------


def has_ntc_cells(screen: ad.AnnData) -> bool:
    """Whether the screen holds the NTC cells (two or more) that DE labels and gene-level features are computed from.

    The authors' published files carry only NTC mean profiles, so the edge benchmarks cannot be scored on them.
    """
    return int((screen.obs["kind"].astype(str) == "NTC").sum()) >= 2


def perturbed_genes(screen: ad.AnnData, kinds: Sequence[str] = ("TSS",), min_cells: int = 2) -> list[str]:
    """Perturbations of `kinds` whose target is a gene of the screen, with at least `min_cells` cells (sorted)."""
    obs = screen.obs
    counts = obs.loc[obs["kind"].astype(str).isin(list(kinds)), "perturbation"].astype(str).value_counts()
    genes = set(screen.var_names.astype(str))
    return sorted(p for p, n in counts.items() if p in genes and n >= min_cells)


def first_cells(screen: ad.AnnData, groups: Sequence[str], n: int, column: str = "perturbation") -> np.ndarray:
    """[cells] bool: the first `n` cells (file order) of each of `groups` in obs[column]."""
    values = screen.obs[column].astype(str).to_numpy()
    mask = np.zeros(screen.n_obs, dtype=bool)
    for g in groups:
        mask[np.flatnonzero(values == g)[:n]] = True
    return mask


def tested_perturbations(screen: ad.AnnData, column: str = "perturbation") -> list[str]:
    """Perturbations (or, with column="locus", their loci) with cells in the reported 'test' split (sorted)."""
    obs = screen.obs
    return sorted(obs.loc[obs["split"].astype(str) == "test", column].astype(str).unique())


# --- edge benchmark inputs ------------------------------------------------------------------------------------------------


def mean_jacobian(
    model: nn.Module | Any,
    screen: ad.AnnData,
    dna: DNAStore | str | os.PathLike,
    loci: Sequence[str],
    chunk_size: int | None = None,
    genes: Sequence[str] | None = None,
) -> Jacobian:
    """Gene x gene Jacobian at the NTC-mean input, averaged over the DNA of `loci` (one forward per locus).

    The NTC-mean input is the unperturbed state, so d output / d input there reads what the model would do to every
    gene if one gene's expression moved, at each locus's DNA; a few loci keep it affordable. The full matrix costs one
    backward pass per output gene (2,361 per locus at the paper's size); with `genes`, only their rows (backward) and
    columns (forward mode) are computed and the rest is 0 — all that the per-perturbation edge scores read.
    """
    if genes is not None:
        return _rows_and_columns_jacobian(model, screen, dna, loci, genes, chunk_size)
    jacs = [gene_jacobian(model, screen, dna, at="ntc_mean", locus=k, chunk_size=chunk_size) for k in loci]
    first = jacs[0]
    return Jacobian(
        mean_abs=np.mean([j.mean_abs for j in jacs], 0),
        mean=np.mean([j.mean for j in jacs], 0),
        outputs=first.outputs,
        inputs=first.inputs,
        cells=np.array(["ntc_mean"]),
        meta={**first.meta, "locus": list(loci), "n_loci": len(jacs)},
    )


def _rows_and_columns_jacobian(
    model: nn.Module | Any,
    screen: ad.AnnData,
    dna: DNAStore | str | os.PathLike,
    loci: Sequence[str],
    genes: Sequence[str],
    chunk_size: int | None,
) -> Jacobian:
    names = screen.var_names.to_numpy(dtype=str)
    genes = [g for g in genes if g in set(names)]
    idx = pd.Index(names).get_indexer(genes)
    parts = []
    for k in loci:
        full = np.zeros((len(names), len(names)), np.float64)  # [out, in]
        full[:, idx] = ntc_mean_gene_columns(model, screen, dna, k, genes)
        if genes:
            rows = gene_jacobian(model, screen, dna, at="ntc_mean", locus=k, outputs=genes, chunk_size=chunk_size)
            full[idx, :] = rows.mean
        parts.append(full)
    return Jacobian(
        mean_abs=np.mean([np.abs(p) for p in parts], 0),
        mean=np.mean(parts, 0),
        outputs=names,
        inputs=names,
        cells=np.array(["ntc_mean"]),
        meta={"at": "ntc_mean", "locus": list(loci), "n_loci": len(loci), "rows_and_columns_of": genes},
    )


def edge_inputs(
    maps: Mapping[str, Mapping[str, AttentionMap]],
    jacobian: np.ndarray | None = None,
) -> Callable[[str], dict[str, np.ndarray]]:
    """model_inputs of `perturbation_benchmark`: each perturbation's own cell-mean attention maps (head-averaged),
    and one Jacobian [out, in] shared by all perturbations."""

    def inputs(p: str) -> dict[str, np.ndarray]:
        if p not in maps:
            raise KeyError(f"no attention maps for perturbation {p!r} (maps cover {len(maps)} perturbations)")
        out = {"rna_attention": maps[p]["rna_self_0"].head_mean(), "cross_attention": maps[p]["dna_to_rna"].head_mean()}
        if jacobian is not None:
            out["jacobian"] = jacobian
        return out

    return inputs


def edge_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (target, method) over perturbations: n, mean / median / SD of AUROC, mean AUPRC, mean positive rate,
    and the fraction of perturbations with AUROC > 0.5; best mean AUROC first within each target."""
    t = table.dropna(subset=["auroc"]).assign(pos_rate=lambda d: d["n_pos"] / (d["n_pos"] + d["n_neg"]))
    g = t.groupby(["target", "method"])
    out = pd.DataFrame(
        {
            "n_perturbations": g.size(),
            "auroc_mean": g["auroc"].mean(),
            "auroc_median": g["auroc"].median(),
            "auroc_sd": g["auroc"].std(),
            "auprc_mean": g["auprc"].mean(),
            "positive_rate": g["pos_rate"].mean(),
            "frac_auroc_above_0.5": g["auroc"].apply(lambda a: float((a > 0.5).mean())),
        }
    ).reset_index()
    out.insert(2, "family", out["method"].map(METHOD_FAMILY).fillna("other"))
    return out.sort_values(["target", "auroc_mean"], ascending=[True, False], ignore_index=True)


def best_of(summary: pd.DataFrame, target: str, family: str, column: str = "auroc_mean") -> tuple[str, float]:
    """(method, value) of the family's best method for one target of `edge_summary`; ("none", NaN) if absent."""
    s = summary[(summary["target"] == target) & (summary["family"] == family)].dropna(subset=[column])
    if s.empty:
        return "none", math.nan
    row = s.loc[s[column].idxmax()]
    return str(row["method"]), float(row[column])


# --- ground truth: genes --------------------------------------------------------------------------------------------------


def pooled_map(
    maps: Mapping[str, Mapping[str, AttentionMap]], name: str, groups: Sequence[str] | None = None, heads: bool = False
) -> np.ndarray:
    """Cell-weighted mean of map `name` over groups (all, or `groups`): head-averaged [Q, K], or [H, Q, K] when
    `heads` (the maps must then be head-resolved)."""
    keys = list(maps) if groups is None else list(groups)
    w = np.array([maps[g][name].n_cells for g in keys], dtype=np.float64)
    if heads and not all(maps[g][name].heads for g in keys):
        raise ValueError(f"pooled_map(heads=True) needs head-resolved {name!r} maps")
    parts = [maps[g][name].values if heads else maps[g][name].head_mean() for g in keys]
    return np.tensordot(w / w.sum(), np.stack(parts), axes=1)


def spearman_matrix(expr: np.ndarray) -> np.ndarray:
    """|Spearman rho| between all genes over cells: expr [N, G] -> [G, G] (constant genes get 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = scipy.stats.spearmanr(np.asarray(expr, dtype=np.float64)).statistic
    return np.abs(np.nan_to_num(np.atleast_2d(rho), nan=0.0))


def gene_pair_scores(
    screen: ad.AnnData,
    maps: Mapping[str, Mapping[str, AttentionMap]],
    jacobian: np.ndarray | None = None,
    kinds: Sequence[str] = ("TSS", "SNP"),
) -> dict[str, np.ndarray]:
    """Score matrices [G, G] for the planted network, oriented like truth_adjacency (row = source, column = target).

    Model: head- and cell-averaged RNA self-attention as is (query attends to key) and transposed; cosine similarity
    of genes' DNA->RNA profiles (mean over the loci); |Jacobian| transposed from [out, in] to [in, out].
    Model-free: |Spearman| over NTC cells and over the training cells of `kinds`; gene-level features of both genes
    (sum of their percentile ranks of the NTC mean, variance and dropout), which say nothing about the pair.
    """
    x = dense(screen.X, dtype=np.float32).astype(np.float64)
    obs = screen.obs
    ntc = x[(obs["kind"].astype(str) == "NTC").to_numpy()]
    trained = x[(obs["kind"].astype(str).isin(list(kinds)) & (obs["split"].astype(str) == "train")).to_numpy()]
    attn = pooled_map(maps, "rna_self_0")
    cross = np.mean([cosine_similarity(m["dna_to_rna"].head_mean()) for m in maps.values()], 0)
    out = {"attention (query->key)": attn, "attention (key->query)": attn.T, "cross_attention_similarity": cross}
    if jacobian is not None:
        out["jacobian |d out / d in|"] = np.asarray(jacobian).T
    out["spearman_ntc"] = spearman_matrix(ntc)
    out["spearman_perturbed"] = spearman_matrix(trained)
    for name, f in gene_level_features(ntc).items():
        r = scipy.stats.rankdata(f if name != "dropout" else -f) / len(f)
        out[f"{name} (both genes)"] = np.add.outer(r, r)
    return out


def gene_truths(truth_dir: str | os.PathLike, genes: Sequence[str]) -> dict[str, np.ndarray]:
    """[G, G] bool truths: planted network (directed, undirected, downstream), regulatory and state module pairs."""
    d = Path(truth_dir)
    edges = pd.read_csv(d / "network_edges.csv")
    modules = pd.read_csv(d / "modules.csv")
    a = truth_adjacency(edges, genes)
    out = {"network": a, "network_undirected": a | a.T, "network_downstream": truth_adjacency(edges, genes, True)}
    kind = modules["kind"].astype(str) if "kind" in modules else pd.Series("regulatory", index=modules.index)
    out["module"] = module_pairs(modules[kind == "regulatory"], genes)
    if (kind == "state").any():
        out["state_module"] = module_pairs(modules[kind == "state"], genes)
    return out


# --- ground truth: DNA elements -----------------------------------------------------------------------------------------


def element_scores(
    maps: Mapping[str, Mapping[str, AttentionMap]],
    store: DNAStore,
    loci: Sequence[str],
) -> dict[str, np.ndarray]:
    """Per-bin scores of each locus, flattened to [U * L]: the DNA->RNA cross-attention profile (mean over genes and
    heads, CDT-II Fig 4B) and the model-free `dna_bin_baselines` (embedding norm, closeness to the window centre)."""
    cross = np.stack([cross_attention_bins(maps[k]["dna_to_rna"].values) for k in loci])  # [U, L]
    out = {"cross_attention": cross}
    out.update(dna_bin_baselines(store.stack(list(loci))))
    return {k: v.ravel() for k, v in out.items()}


def element_truths(
    elements: pd.DataFrame, loci: Sequence[str], n_bins: int, classes: Sequence[str] = ELEMENT_CLASSES
) -> dict[str, np.ndarray]:
    """[U * L] bool: bins covered by each planted element class, and by any element."""
    out = {e: element_bins(elements, loci, n_bins, e).ravel() for e in classes}
    out["any element"] = element_bins(elements, loci, n_bins).ravel()
    return out


# --- head ablation --------------------------------------------------------------------------------------------------------


def head_truth(
    genes: Sequence[str], truth_dir: str | os.PathLike | None, de: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """What heads are ranked against: (truth [G, G], mask or None, description).

    With a simulator truth: the undirected planted network. Without: the observed DE genes of each perturbed gene
    (rows of `de`, the benchmark's labels), scored on those rows only.
    """
    genes = list(genes)
    if truth_dir is not None:
        edges = pd.read_csv(Path(truth_dir) / "network_edges.csv")
        a = truth_adjacency(edges, genes)
        return a | a.T, None, "planted network (undirected)"
    rows = [genes.index(p) for p in de.index]
    truth = np.zeros((len(genes), len(genes)), dtype=bool)
    truth[rows] = de.reindex(columns=genes).to_numpy(dtype=bool)
    mask = np.zeros_like(truth)
    mask[rows] = True
    return truth, mask, "observed DE genes of each perturbed gene (rows of the perturbed genes)"


@dataclass
class AblationInputs:
    """What `cdt.baselines.head_ablation` rescores: batches of the chosen cells and their observed values."""

    batches: list  # cdt.evaluate.Batch, grouped by locus
    target: np.ndarray  # [N, F] observed values in batch-independent cell order
    groups: np.ndarray  # [N] perturbation
    columns: np.ndarray | None  # scored output columns (expressed proteins) or None


def ablation_inputs(
    model: nn.Module,
    screen: ad.AnnData,
    dna: DNAStore | str | os.PathLike,
    cells: np.ndarray,
    output: str = "rna",
    batch_size: int = 64,
) -> AblationInputs:
    """Batches of `cells` (bool mask or positions) and their observed RNA log2FC or expressed-protein change."""
    rows = np.flatnonzero(cells) if np.asarray(cells).dtype == bool else np.asarray(cells)
    with open_store(dna) as store:
        batches = list(screen_batches(model, screen, store, rows, batch_size))
    groups = screen.obs["perturbation"].astype(str).to_numpy()[rows]
    if output == "rna":
        return AblationInputs(batches, dense(screen.layers["log2fc"][rows], dtype=np.float32), groups, None)
    expressed = np.flatnonzero(np.asarray(screen.uns["protein_expressed"], dtype=bool))
    target = np.asarray(screen.obsm["protein_target"], np.float32)[rows][:, expressed]
    return AblationInputs(batches, target, groups, expressed)


def ablation_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per condition (intact, top, bottom, random) of `head_ablation`: mean and range of delta r and delta pseudo-bulk
    r over repeats, and the mean fidelity (cosine distance of embeddings and outputs from the intact model)."""
    g = table.groupby("condition", sort=False)
    return pd.DataFrame(
        {
            "repeats": g.size(),
            "k": g["k"].first(),
            "delta_r": g["delta_r"].mean(),
            "delta_r_min": g["delta_r"].min(),
            "delta_r_max": g["delta_r"].max(),
            "delta_pb_r": g["delta_pb_r"].mean(),
            "embedding_cos_mean": g["embedding_cos_mean"].mean(),
            "output_cos_mean": g["output_cos_mean"].mean(),
        }
    ).reset_index()


def ablation_verdict(summary: pd.DataFrame) -> str:
    """Where the top-k heads' delta r falls relative to the random draws of `ablation_summary` (indexed by condition)."""
    top, rnd = float(summary.loc["top", "delta_r"]), summary.loc["random"]
    if top < rnd["delta_r_min"]:
        return "below every random draw (a larger loss than any random set of heads)"
    if top > rnd["delta_r_max"]:
        return "above every random draw (a smaller loss than any random set of heads)"
    return "within the range of the random draws (no more harmful than random heads)"


# --- narrative --------------------------------------------------------------------------------------------------------


def versus(a: float, b: float, name_a: str, name_b: str, metric: str = "AUROC", tol: float = 0.01) -> str:
    """A comparison sentence that stays true whichever way it comes out, e.g. 'attention AUROC 0.612 vs
    correlation 0.700 (correlation higher)'."""
    if not (np.isfinite(a) and np.isfinite(b)):
        return f"{name_a} {metric} {a:.3f} vs {name_b} {b:.3f} (not comparable)"
    verdict = "about equal" if abs(a - b) < tol else f"{name_a if a > b else name_b} higher"
    return f"{name_a} {metric} {a:.3f} vs {name_b} {b:.3f} ({verdict})"


def compare_methods(
    table: pd.DataFrame,
    a: str,
    b: str,
    target: str,
    name_a: str | None = None,
    name_b: str | None = None,
    value: str = "auroc",
) -> str:
    """`versus` for two methods of a `recovery_table` on one truth (NaN, hence 'not comparable', when absent)."""
    v = table.set_index(["method", "target"])[value]
    return versus(
        float(v.get((a, target), math.nan)),
        float(v.get((b, target), math.nan)),
        name_a or a,
        name_b or b,
        value.upper(),
    )


# --- notebook 07: one call per section --------------------------------------------------------------------------------

BP = "Beyond the papers"
PREDICTION_METHODS = ("mean", "ridge", "ridge_dna", "nearest_locus")


NO_NTC_CELLS = (
    "**Skipped (sections 3, 4, 6 and the summary):** these data have no NTC cells (the authors' files carry only NTC "
    "mean profiles), and the DE labels and NTC correlations these sections score need them."
)
"""What notebook 07 says where `has_ntc_cells` is False."""


def opening_text(runs: Mapping[str, Any], *, source_label: str, protocol: str, truth: bool) -> str:
    """The first line of notebook 07: data, protocol, the models (label -> run) and whether a simulator truth exists."""
    models = ", ".join(f"`{k}` ({type(r.model).__name__})" for k, r in runs.items())
    tail = "" if truth else ". **Real data: no simulator truth, so the ground-truth parts are skipped.**"
    return f"Data: **{source_label}**, protocol **{protocol}**; models: {models}{tail}"


def stack_tables(tables: Mapping[str, pd.DataFrame], column: str | None = None) -> pd.DataFrame:
    """One long table from named tables, with the name in a last column `column` (e.g. model, truth_set) if given."""
    parts = [t if column is None else t.assign(**{column: k}) for k, t in tables.items()]
    return pd.concat(parts, ignore_index=True)


def reported_per_perturbation(comparison: PredictionComparison, protocol: str) -> pd.DataFrame:
    """Per-perturbation pseudo-bulk r rows of `comparison` on the reported test cells of one protocol."""
    per = comparison.per_perturbation
    return per[(per["protocol"] == protocol) & (per["role"] == "test")]


def comparison_findings(comparison: PredictionComparison, identity: Mapping[str, float], *, protocol: str) -> Findings:
    """Section 1 of notebook 07: the screen-contract identity (`affine_identity`), then for each (model, target) the
    run's and every baseline's overall and pseudo-bulk r, each with a sentence that stays true whichever way it
    comes out."""
    f = Findings()
    f.add(
        (BP, "screen contract", "max abs. difference of log2FC and (X - ln(NTC mean CPM + 1)) / ln 2"),
        identity["max_abs_difference"],
        note=f"over {identity['n_values']:,} cell x gene values",
    )
    f.add((BP, "screen contract", "r between log2FC and the affine map of the input"), identity["r"])
    reported = comparison.reported(protocol)
    panels = list(reported[["model", "target"]].drop_duplicates().itertuples(index=False))
    for model, target in panels:
        for method in (model, *PREDICTION_METHODS):
            name = "" if method == model else f" — {BASELINE_LABELS[method]}"
            for metric, what in (("r", "overall r"), ("pb_r", "mean pseudo-bulk r")):
                f.add(
                    (BP, f"prediction, {model} {target}", f"{what}{name}"),
                    comparison.value(model, protocol, target, method, metric),
                    "controls_prediction_baselines.png",
                    "CDT run (metrics.json)" if method == model else "same test cells and metric",
                )
    lines = []
    for model, target in panels:
        methods = (model, *PREDICTION_METHODS, "mean (trainer)")
        v = {m: comparison.value(model, protocol, target, m) for m in methods}  # NaN where a row is absent
        w = {m: comparison.value(model, protocol, target, m, "pb_r") for m in methods}
        lines.append(
            f"- **{model}, {target}**: {versus(v[model], v['mean'], model, 'mean training effect', 'r')}; "
            f"{versus(v[model], v['ridge'], model, 'ridge (input + DNA)', 'r')}; "
            f"{versus(v[model], v['ridge_dna'], model, 'ridge (DNA only)', 'r')}; "
            f"{versus(v[model], v['nearest_locus'], model, 'nearest locus', 'r')}. Pseudo-bulk: "
            f"{versus(w[model], w['mean'], model, 'mean training effect', 'r')}, ridge {w['ridge']:.3f}. "
            f"Library mean r {v['mean']:.4f} vs the trainer's own {v['mean (trainer)']:.4f}."
        )
    f.text = f"""
**The per-cell task is an affine map of the model's own input.** In the screen contract (CDT-II eq. 1) each
cell's target is log2FC = (ln(CPM+1) − ln(NTC mean CPM+1)) / ln 2, gene by gene, and ln(CPM+1) is the RNA input.
Recomputing the target from the input gives max |difference| = {identity["max_abs_difference"]:.2g} and
r = {identity["r"]:.6f} over {identity["n_values"]:,} values. A per-gene linear readout of the input is therefore
enough to reach r = 1, and the ridge model (input expression + DNA summary, alpha chosen on the selection split)
gets overall r = {comparison.value("CDT-II", protocol, "rna", "ridge"):.4f} on the held-out cells. The same holds for the
proteins (target = protein input − NTC mean). This is a property of the task, not of this simulation: it holds for the
authors' real files by construction, so per-cell r and per-gene pseudo-bulk r measure how well a model passes its
input through, not how well it predicts an unseen perturbation from its DNA. Predictors that cannot copy the input
are the fair reference for "prediction from the locus": the mean training effect, the ridge on the DNA summary only,
and the nearest training locus.

{chr(10).join(lines)}
"""
    return f


def v1_findings(table: pd.DataFrame) -> Findings:
    """Section 1b of notebook 07: every row of `v1_comparison` as a headline number, and per split CDT v1 beside the
    per-gene mean training beta and the ridge on gene embeddings + DNA."""
    f = Findings()
    for row in table.itertuples(index=False):
        f.add(
            (BP, "prediction, CDT v1", f"{row.split} r — {row.method}"),
            row.r,
            "controls_v1_pair_baselines.csv",
            f"n = {row.n} pairs",
        )
    r = table.set_index(["method", "split"])["r"]
    lines = []
    for split in table["split"].unique():
        model, mean = r[("CDT v1", split)], r[("mean training beta of the target gene", split)]
        lines.append(
            f"- **{split} pairs**: {versus(model, mean, 'CDT v1', 'the per-gene mean training beta', 'r')}"
            f"; ridge on gene embeddings + DNA r = {r[('ridge: gene embeddings + DNA', split)]:.3f}."
        )
    f.text = "\n".join(lines)
    return f


@dataclass
class EdgeModelInputs:
    """What the edge benchmarks read from CDT-II: per-perturbation attention maps and the mean Jacobian."""

    targets: list[str]  # perturbed genes of the screen
    maps: dict[str, dict[str, AttentionMap]]  # perturbation -> {rna_self_0, dna_to_rna}, head-averaged cell means
    jacobian: Jacobian  # at the NTC-mean input, mean over `loci`
    loci: list[str]
    text: str


def edge_model_inputs(
    run: Any,
    screen: ad.AnnData,
    dna: DNAStore | str | os.PathLike,
    *,
    full_jacobian: bool,
    n_cells: int = N_CELLS_TARGET,
    n_loci: int = N_JACOBIAN_LOCI,
) -> EdgeModelInputs:
    """Section 2 of notebook 07: CDT-II's RNA self- and DNA->RNA attention averaged over the first `n_cells` cells of
    each perturbed gene (head-averaged: head-resolved maps of every perturbation do not fit in memory), and the
    Jacobian at the NTC-mean input averaged over the DNA of `n_loci` held-out loci (GFI1B first).

    full_jacobian: the whole gene x gene matrix (one backward pass per gene, needed against a planted network);
    otherwise only the perturbed genes' rows and columns, all that the per-perturbation edge scores read.
    """
    targets = perturbed_genes(screen)
    held, held_loci = tested_perturbations(screen), tested_perturbations(screen, "locus")
    maps = mean_attention_maps(
        run,
        screen,
        dna,
        cells=first_cells(screen, targets, n_cells),
        maps=["rna_self_0", "dna_to_rna"],
        heads=False,
        by="perturbation",
        splits=None,
    )
    loci = sorted(held_loci, key=lambda k: (k != "GFI1B", k))[:n_loci]
    jac = mean_jacobian(run, screen, dna, loci, genes=None if full_jacobian else targets)
    text = (
        f"{len(targets)} perturbed genes of the screen ({len(set(held) & set(targets))} of them held out); attention "
        f"from {sum(m['rna_self_0'].n_cells for m in maps.values())} cells, Jacobian at the NTC-mean input of "
        f"{len(loci)} held-out loci ({', '.join(loci)})."
    )
    return EdgeModelInputs(targets, maps, jac, loci, text)


@dataclass
class EdgeRecovery:
    """Section 3 of notebook 07: the perturbation benchmark and its summaries over all and held-out perturbations."""

    benchmark: PerturbationBenchmark
    summary: pd.DataFrame  # `edge_summary` over all perturbed genes
    summary_held: pd.DataFrame  # over the held-out genes only

    @property
    def table(self) -> pd.DataFrame:
        """Both summaries in one table, column `perturbations` = all | held-out."""
        return stack_tables({"all": self.summary, "held-out": self.summary_held}, "perturbations")

    def one(self, perturbation: str) -> pd.DataFrame:
        """AUROC of one perturbation, method x label set."""
        t = self.benchmark.table
        return t[t["perturbation"] == perturbation].pivot(index="method", columns="target", values="auroc")


def edge_recovery(
    screen: ad.AnnData, inputs: EdgeModelInputs, *, truth_dir: str | os.PathLike | None = None
) -> EdgeRecovery:
    """Score every edge method of every perturbed gene (`cdt.baselines.perturbation_benchmark`) against its DE genes
    and, with a simulator truth, its planted targets; summarised over all and over the held-out perturbations."""
    network = pd.read_csv(Path(truth_dir) / "network_edges.csv") if truth_dir else None
    bench = perturbation_benchmark(
        screen, inputs.targets, edge_inputs(inputs.maps, inputs.jacobian.mean_abs), network=network
    )
    held = bench.table[bench.table["perturbation"].isin(tested_perturbations(screen))]
    return EdgeRecovery(bench, edge_summary(bench.table), edge_summary(held))


def edge_findings(recovery: EdgeRecovery, *, highlight: str | None = "GFI1B") -> Findings:
    """Section 3 headline rows (best score of each family per label set; `highlight`'s AUROC by method) and one
    sentence per label set comparing attention with correlation, gradient with gene-level and gene-level with
    attention."""
    f = Findings()
    file = "controls_edge_recovery.png"
    families = ("attention", "gradient", "correlation", "gene-level")
    lines = []
    for which, summary in (("all perturbed genes", recovery.summary), ("held-out genes only", recovery.summary_held)):
        for target in summary["target"].unique():
            best = {fam: best_of(summary, target, fam) for fam in families}
            n = int(summary[summary["target"] == target]["n_perturbations"].max())
            if which == "all perturbed genes":
                for fam, (m, v) in best.items():
                    f.add(
                        (BP, f"edges vs {target}", f"mean AUROC over perturbations, best {fam} score ({m})"),
                        v,
                        file,
                        f"{n} perturbations",
                    )
            (ma, a), (mg, g), (mc, c), (mf, f_) = best.values()
            lines.append(
                f"- **{target}**, {which} ({n}): {versus(a, c, f'attention ({ma})', f'correlation ({mc})')}; "
                f"{versus(g, f_, f'gradient ({mg})', f'gene-level ({mf})')}; best gene-level vs best "
                f"attention: {versus(f_, a, mf, ma)}."
            )
    t = recovery.benchmark.table
    if highlight is not None and highlight in set(t["perturbation"]):
        g = t[t["perturbation"] == highlight].set_index(["target", "method"])["auroc"]
        for target in g.index.get_level_values(0).unique():
            for m in ("attention_row", "attention_column", "jacobian_column", "spearman_ntc"):
                if (target, m) in g.index:
                    f.add((BP, f"{highlight} edges vs {target}", f"AUROC, {m}"), float(g[(target, m)]), file)
    f.text = (
        "Mean AUROC over perturbations (0.5 = chance), best score of each family:\n\n"
        + "\n".join(lines)
        + "\n\nScores are used in one fixed direction (higher = edge); gene-level features have no natural direction, "
        "so an AUROC well below 0.5 means the opposite direction predicts (the incremental-value models below learn it)."
    )
    return f


def incremental_tables(
    benchmark: PerturbationBenchmark, *, n_boot: int = N_BOOT, seed: int = 0
) -> dict[str, pd.DataFrame]:
    """Section 4 of notebook 07: `cdt.baselines.incremental_value` of each edge score of `EDGE_SCORES_ADDED` the
    benchmark computed, by pooled and by within-perturbation AUROC (metric -> table)."""
    added = [m for m in EDGE_SCORES_ADDED if m in benchmark.pairs]
    return {
        m: incremental_value(benchmark.pairs, added, metric=m, n_boot=n_boot, seed=seed) for m in ("pooled", "within")
    }


def incremental_findings(tables: Mapping[str, pd.DataFrame]) -> Findings:
    """Section 4 headline rows (the AUROC gain of each edge score with its CI) and, per metric, which scores' CIs lie
    above or below 0 (with a warning when the base model scores below chance out of fold)."""
    f = Findings()
    lines = []
    for metric, t in tables.items():
        for _, row in t.iterrows():
            f.add(
                (BP, f"incremental value ({metric} AUROC)", f"gain from adding {row['added']}"),
                float(row["delta"]),
                "controls_incremental_value.png",
                f"95% CI [{row['ci_low']:.3f}, {row['ci_high']:.3f}]; base {row['auroc_base']:.3f}",
            )
        up = t[t["ci_low"] > 0]["added"].tolist()
        down = t[t["ci_high"] < 0]["added"].tolist()
        lines.append(
            f"- **{metric}** (base AUROC {t['auroc_base'].iloc[0]:.3f}, {t['n_groups'].iloc[0]} perturbations, "
            f"{t['n_pos'].iloc[0]} DE pairs): CI of the gain above 0 for "
            f"{', '.join(up) if up else 'no score'}; below 0 for {', '.join(down) if down else 'no score'}; "
            f"the rest include 0."
            + (
                " The base model scores below chance out of fold: fitted on the other perturbations, the "
                "gene-level features rank the held-out perturbations' genes in the wrong direction (their "
                "association with DE is not the same across perturbations, or pooled vs within), so gains here "
                "are measured from a below-chance reference."
                if t["auroc_base"].iloc[0] < 0.5
                else ""
            )
        )
    f.text = "\n".join(lines)
    return f


def ground_truth_recovery(
    run: Any,
    screen: ad.AnnData,
    dna: DNAStore | str | os.PathLike,
    inputs: EdgeModelInputs,
    truth_dir: str | os.PathLike,
    *,
    n_cells_snp: int = N_CELLS_SNP,
) -> dict[str, pd.DataFrame]:
    """Section 5 of notebook 07: `recovery_table`s of the gene-pair scores against the planted network and modules
    ("gene pairs"), and of the DNA-bin scores of TSS and SNP loci against the planted elements
    ("DNA bins, <kind> loci (<n>)"); SNP loci get their own cross-attention maps (first `n_cells_snp` cells)."""
    genes = screen.var_names.astype(str).tolist()
    out = {
        "gene pairs": recovery_table(
            gene_pair_scores(screen, inputs.maps, inputs.jacobian.mean_abs), gene_truths(truth_dir, genes)
        )
    }
    snp = sorted(screen.obs.loc[screen.obs["kind"].astype(str) == "SNP", "locus"].astype(str).unique())
    snp_maps = (
        mean_attention_maps(
            run,
            screen,
            dna,
            cells=first_cells(screen, snp, n_cells_snp, "locus"),
            maps=["dna_to_rna"],
            heads=False,
            by="locus",
            splits=None,
        )
        if snp
        else {}
    )
    elements = pd.read_csv(Path(truth_dir) / "elements.csv")
    with DNAStore(dna) as store:
        for kind, group in (("TSS", inputs.maps), ("SNP", snp_maps)):
            loci = [k for k in group if k in store and k in set(elements["locus_id"])]
            if loci:
                out[f"DNA bins, {kind} loci ({len(loci)})"] = recovery_table(
                    element_scores(group, store, loci), element_truths(elements, loci, store.n_bins)
                )
    return out


def ground_truth_findings(tables: Mapping[str, pd.DataFrame]) -> Findings:
    """Section 5 headline rows (AUROC of each model score and of the best gene-level pair baseline per planted truth;
    per DNA-bin table, each bin score per element class) and the comparisons of attention with its baselines."""
    f = Findings()
    file = "controls_truth_recovery.png"
    gene_tab = tables["gene pairs"]
    el_tabs = {k: t for k, t in tables.items() if k != "gene pairs"}
    au = gene_tab.set_index(["method", "target"])["auroc"]
    gene_level = [m for m in au.index.get_level_values(0).unique() if "both genes" in m]
    for target in ("network", "network_undirected", "module", "state_module"):
        best_fl = max(gene_level, key=lambda m: au.get((m, target), np.nan))
        for m in (
            "attention (query->key)",
            "attention (key->query)",
            "cross_attention_similarity",
            "jacobian |d out / d in|",
            "spearman_ntc",
            "spearman_perturbed",
            best_fl,
        ):
            if (m, target) in au.index:
                f.add(
                    (BP, f"truth recovery: {target}", f"AUROC, {m}"),
                    float(au[(m, target)]),
                    file,
                    "best gene-level pair baseline" if m == best_fl else "",
                )
    for k, t in el_tabs.items():
        ae = t.set_index(["method", "target"])["auroc"]
        for target in ("promoter", "enhancer", "CTCF", "any element"):
            for m in ("cross_attention", "embedding_norm", "near_centre"):
                if (m, target) in ae.index:
                    f.add((BP, f"truth recovery: {k}", f"AUROC for {target} bins, {m}"), float(ae[(m, target)]), file)
    best_fl = max(gene_level, key=lambda m: au[(m, "network_undirected")])
    attn, jacm = "attention (query->key)", "jacobian |d out / d in|"
    lines = [
        f"- Planted network (undirected): {compare_methods(gene_tab, attn, 'spearman_ntc', 'network_undirected')}; "
        f"{compare_methods(gene_tab, jacm, best_fl, 'network_undirected', 'Jacobian')}.",
        f"- Directed network: {compare_methods(gene_tab, attn, 'attention (key->query)', 'network')}.",
        f"- Regulatory modules: {compare_methods(gene_tab, attn, 'spearman_ntc', 'module')}; cell-state modules (a "
        f"confounder, not regulation): {compare_methods(gene_tab, attn, 'spearman_ntc', 'state_module')}.",
    ]
    for k, t in el_tabs.items():
        lines.append(
            f"- {k}: promoters — {compare_methods(t, 'cross_attention', 'near_centre', 'promoter')}; enhancers — "
            f"{compare_methods(t, 'cross_attention', 'embedding_norm', 'enhancer')}; CTCF — "
            f"{compare_methods(t, 'cross_attention', 'embedding_norm', 'CTCF')}."
        )
    f.text = (
        "\n".join(lines) + "\n\nAt TSS loci the window is centred on the perturbed TSS, so the trivial centre baseline "
        "finds the promoter by construction; SNP windows are centred on the SNP instead. Gene-level pair baselines "
        "score a pair by the two genes' own NTC statistics and carry no information about the pair itself."
    )
    return f


@dataclass
class HeadAblation:
    """Section 6 of notebook 07: per model the ablation table, the head ranking and what heads were ranked against."""

    tables: dict[str, pd.DataFrame]  # "<model> (<output>)" -> `cdt.baselines.head_ablation` table
    ranking: pd.DataFrame  # `rank_heads` of every model, column model
    truth: str  # what the heads were ranked against
    n_cells: int  # held-out cells rescored

    @property
    def summary(self) -> pd.DataFrame:
        """`ablation_summary` of every model, column model."""
        return stack_tables({k: ablation_summary(t) for k, t in self.tables.items()}, "model")


def head_ablation_tables(
    runs: Mapping[str, Any],
    screen: ad.AnnData,
    dna: DNAStore | str | os.PathLike,
    de: pd.DataFrame,
    *,
    truth_dir: str | os.PathLike | None = None,
    n_cells_target: int = N_CELLS_TARGET,
    n_cells: int = N_CELLS_ABLATION,
    n_random: int = N_RANDOM,
    seed: int = 0,
) -> HeadAblation:
    """Rank the RNA self-attention heads of each run (label -> run) against the planted undirected network, or the
    observed DE genes `de` (the benchmark's labels) without a truth, then silence the best half, the worst half and
    `n_random` random halves and rescore the first `n_cells` held-out cells of each gene (CDT-II on RNA log2FC,
    CDT-III on the expressed proteins), with intervention fidelity (`cdt.baselines.head_ablation`).

    CDT-II's head maps pool the first `n_cells_target` cells of every perturbed gene, head by head; CDT-III's the
    first cell of each (head-resolved maps of its larger model are costlier).
    """
    genes = screen.var_names.astype(str).tolist()
    targets = perturbed_genes(screen)
    truth, mask, truth_what = head_truth(genes, truth_dir, de)
    cells = first_cells(screen, tested_perturbations(screen), n_cells)
    tables, ranks = {}, []
    for label, run in runs.items():
        if label == "CDT-II":
            head_map = mean_attention_maps(
                run, screen, dna, cells=first_cells(screen, targets, n_cells_target), maps=["rna_self_0"], splits=None
            )["rna_self_0"].values
        else:
            head_map = mean_attention_maps(
                run, screen, dna, cells=first_cells(screen, targets, 1), maps=["rna_self_0"], heads=True, splits=None
            )["rna_self_0"].values
        ranked = rank_heads({"rna_self_0": head_map}, truth, mask)
        ranks.append(ranked.assign(model=label))
        output = "protein" if label == "CDT-III" else "rna"
        inputs = ablation_inputs(run.model, screen, dna, cells, output)
        tables[f"{label} ({output})"] = head_ablation(
            run.model,
            inputs.batches,
            inputs.target,
            inputs.groups,
            ranked,
            max(1, len(ranked) // 2),
            n_random=n_random,
            seed=seed,
            output=output,
            columns=inputs.columns,
        )
    return HeadAblation(tables, pd.concat(ranks, ignore_index=True), truth_what, int(cells.sum()))


def head_ablation_findings(result: HeadAblation) -> Findings:
    """Section 6 headline rows (delta r of the top, bottom and random heads) and, per model, where the top heads'
    change falls against the random draws (`ablation_verdict`)."""
    f = Findings()
    lines = []
    for label, t in result.tables.items():
        s = ablation_summary(t).set_index("condition")
        for c in ("top", "bottom", "random"):
            f.add(
                (BP, f"head ablation, {label}", f"delta r, {c} {int(s.loc[c, 'k'])} heads"),
                float(s.loc[c, "delta_r"]),
                "controls_head_ablation.png",
                f"intact r {t['r'].iloc[0]:.3f}; embedding cosine distance {s.loc[c, 'embedding_cos_mean']:.2e}"
                + ("; mean over random draws" if c == "random" else ""),
            )
        lines.append(
            f"- **{label}** (intact r {t['r'].iloc[0]:.3f} on {result.n_cells} held-out cells; heads ranked against "
            f"{result.truth}): top-{int(s.loc['top', 'k'])} heads delta r {s.loc['top', 'delta_r']:+.4f} (embedding "
            f"moved {s.loc['top', 'embedding_cos_mean']:.2e}), bottom {s.loc['bottom', 'delta_r']:+.4f}, random mean "
            f"{s.loc['random', 'delta_r']:+.4f} over {int(s.loc['random', 'repeats'])} draws (range "
            f"{s.loc['random', 'delta_r_min']:+.4f} to {s.loc['random', 'delta_r_max']:+.4f}): the top heads' change "
            f"is {ablation_verdict(s)}."
        )
    f.text = "\n".join(lines)
    return f


def key_comparisons(
    comparison: PredictionComparison,
    edges: EdgeRecovery,
    incremental: Mapping[str, pd.DataFrame],
    ablation: HeadAblation,
    *,
    protocol: str,
    truth: Mapping[str, pd.DataFrame] | None = None,
) -> str:
    """The summary of notebook 07: CDT-II vs the mean training effect and the ridge readout, best attention vs best
    gene-level edge score against DE, edge scores with a within-perturbation gain, the planted network (with a
    truth) and each model's head-ablation verdict."""
    de_attn, de_fl = best_of(edges.summary, "DE", "attention"), best_of(edges.summary, "DE", "gene-level")
    r_cdt, r_mean, r_ridge = (comparison.value("CDT-II", protocol, "rna", m) for m in ("CDT-II", "mean", "ridge"))
    within = incremental["within"]
    gains = within.loc[within["ci_low"] > 0, "added"].tolist()
    n_targets = edges.benchmark.table["perturbation"].nunique()
    lines = [
        f"- Prediction: {versus(r_cdt, r_mean, 'CDT-II', 'the mean training effect', 'r')}; a ridge readout of the "
        f"input reaches r = {r_ridge:.3f}, because the target is an affine function of the input.",
        f"- Edges vs observed DE (mean over {n_targets} perturbations): "
        f"{versus(de_attn[1], de_fl[1], f'best attention score ({de_attn[0]})', f'best gene-level ({de_fl[0]})')}.",
        f"- Incremental value (within-perturbation AUROC): CI of the gain above 0 for "
        f"{', '.join(gains) or 'no edge score'}.",
    ]
    if truth is not None:
        net = compare_methods(
            truth["gene pairs"],
            "attention (query->key)",
            "spearman_ntc",
            "network_undirected",
            "attention",
            "NTC correlation",
        )
        lines.append(f"- Planted network: {net}.")
    for label, t in ablation.tables.items():
        lines.append(
            f"- Head ablation, {label}: the top heads' change in r is "
            f"{ablation_verdict(ablation_summary(t).set_index('condition'))}."
        )
    return "**Key comparisons on this run** (generated from the numbers above):\n\n" + "\n".join(lines)
