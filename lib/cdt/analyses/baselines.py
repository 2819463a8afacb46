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

from cdt.attention import AttentionMap
from cdt.baselines import (
    cross_attention_bins,
    dna_bin_baselines,
    element_bins,
    gene_level_features,
    module_pairs,
    prediction_baselines,
    prediction_metrics,
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
