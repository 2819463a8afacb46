"""Network analyses behind notebooks 03_gfi1b_network and 04_rna_module.

03: the GFI1B attention maps (CDT-II Figs 4A, 4C, 4D), cell-to-cell variation of the GFI1B row (Fig 4E), the
    top-N overlap of attention with the observed knockdown effect, hub roles (Fig 5A), gradient importance vs effect,
    in-silico knockdown, the CDT-III attention-map inventory (Table 5) and CDT v1 head diversity (Fig 7).
04: Louvain communities of the RNA self-attention network and of the cross-attention similarity network, their
    gene-set enrichment (Fig 5B) and overlap (Fig 5C); on simulated data, recovery of the planted modules.

Everything shown as "regulation found by attention" is set beside expression correlation over unperturbed cells
(`cdt.baselines.edges`), and on simulated data beside the true network (truth/network_edges.csv, modules.csv).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anndata as ad
import networkx as nx
import numpy as np
import pandas as pd
import scipy.stats
import torch
from torch import nn

from cdt.analyses import Findings
from cdt.analyses.prediction import attention_shapes
from cdt.attention import (
    AttentionMap,
    attention_entropy,
    attention_rows,
    cross_attention_similarity,
    mean_attention_maps,
    row_correlation,
)
from cdt.baselines.edges import spearman_with, truth_adjacency
from cdt.config import get_preset
from cdt.data.dnastore import DNAStore
from cdt.data.errors import ContractError
from cdt.data.screen import dense
from cdt.enrichment import COLUMNS, ENRICHR_LIBRARIES, enrich_communities
from cdt.evaluate import eval_mode, observed_profile, resolve_model
from cdt.gradients import Knockdown, gene_jacobian, importance_vs_effect, in_silico_knockdown
from cdt.models import CDT1, CDT3
from cdt.models.cdt3 import CDT3Config
from cdt.networks import HubRoles, hub_roles, louvain_communities, partition_table, top_edge_graph
from cdt.published import (
    ATTENTION_GRADIENT_R,
    CDT2_GENES,
    CDT3_TABLE5,
    CELL_CORRELATION_MEAN,
    COMMUNITY_COUNTS,
    GFI1B_TOP100,
    GRADIENT_R,
    GRADIENT_R_PER_GENE,
    HUB_COUNTS,
    KNOCKDOWN_R,
    MODULE_VENN,
)
from cdt.stats import Overlap, set_overlap, top_n

__all__ = [
    "PUBLISHED_GENES",
    "MODULE_TERM",
    "RNA_MAPS",
    "scaled_n",
    "gene_maps",
    "dna_layers",
    "per_head_top",
    "neighbourhood",
    "CellVariation",
    "cell_variation",
    "reference_cells",
    "gene_scores",
    "SCORE_LABELS",
    "overlap_table",
    "score_correlations",
    "hub_table",
    "role_summary",
    "perturbations_with_cells",
    "gradient_vs_effect",
    "knockdown_table",
    "attention_inventory",
    "v1_dna_self_heads",
    "pick_heads",
    "KNOCKDOWN_GENES",
    "read_edges",
    "data_line",
    "map_shapes",
    "head_top_line",
    "cell_variation_numbers",
    "overlap_numbers",
    "overlap_finding",
    "variation_finding",
    "hub_numbers",
    "hub_finding",
    "with_gradient_importance",
    "gene_r",
    "gradient_numbers",
    "gradient_finding",
    "knockdown_numbers",
    "knockdown_finding",
    "pair_title",
    "head_spread_numbers",
    "GeneNetwork",
    "gene_network",
    "attention_networks",
    "correlation_network",
    "gmt_libraries",
    "enrich_network",
    "enrich_networks",
    "term_hits",
    "pick_module_communities",
    "clean_term",
    "top_terms",
    "module_overlap",
    "module_recovery",
    "planted_term_ranks",
    "MODULE_CELLS",
    "MODULE_TOP_FRACTION",
    "PLANTED_MODULE",
    "module_data_line",
    "module_networks",
    "community_table",
    "partitions",
    "community_findings",
    "enrichment_table",
    "module_choice_line",
    "module_terms",
    "rna_binding_findings",
    "module_venn",
    "venn_findings",
    "read_module_truth",
    "chosen_term_ranks",
    "recovery_findings",
    "module_findings",
]

PUBLISHED_GENES = CDT2_GENES
"""The CDT-II gene universe: top-N sizes of the papers are scaled from it to the preset's gene count."""

MODULE_TERM = "RNA Binding"
"""The term that names the RNA-processing module (GO molecular function); C1/C3 are the communities enriched for it."""

RNA_MAPS = ("rna_self_0", "dna_to_rna")


def scaled_n(n_genes: int, n: int = 100, of: int = PUBLISHED_GENES, minimum: int = 3) -> int:
    """The papers' top-n scaled to a smaller gene universe (top 100 of 2,361 -> 11 of 256), at least `minimum`."""
    if n_genes < 1:
        raise ValueError(f"need at least one gene, got {n_genes}")
    return int(min(n_genes, max(minimum, round(n * n_genes / of))))


def _index(names: np.ndarray, name: str, what: str) -> int:
    hits = np.flatnonzero(np.asarray(names).astype(str) == name)
    if hits.size != 1:
        raise ValueError(f"{name!r} is not on the {what} axis (e.g. {np.asarray(names)[:3].tolist()})")
    return int(hits[0])


def _gene_map(amap: AttentionMap) -> np.ndarray:
    """Head- and cell-mean [G, G] of a gene x gene map (query = row)."""
    if amap.per_cell:
        raise ValueError(f"{amap.name}: need a cell-mean map, got per-cell rows")
    a = amap.head_mean()
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"{amap.name}: need a square gene x gene map, got shape {a.shape}")
    return a


# =====================================================================================================================
# 03 — the GFI1B attention maps


def gene_maps(
    model: nn.Module | Any,
    screen: ad.AnnData | str | os.PathLike,
    dna: DNAStore | str | os.PathLike,
    gene: str = "GFI1B",
    first_n: int = 50,
    maps: Sequence[str] | None = None,
    batch_size: int | None = None,
) -> dict[str, AttentionMap]:
    """Head-resolved cell means of every attention map over the first `first_n` cells of `gene` (file order, any
    split): one streamed pass feeds Figs 4A, 4C, 4D, the top-N overlap and the hub roles."""
    return mean_attention_maps(
        model, screen, dna, gene, maps, heads=True, splits=None, first_n=first_n, batch_size=batch_size
    )


def dna_layers(maps: Mapping[str, AttentionMap]) -> dict[str, np.ndarray]:
    """Fig 4A: the head-averaged DNA self-attention [L, L] of every layer, in layer order."""
    names = sorted((n for n in maps if re.fullmatch(r"dna_self_\d+", n)), key=lambda n: int(n.rsplit("_", 1)[1]))
    if not names:
        raise ValueError(f"no DNA self-attention map among {sorted(maps)}")
    return {n: maps[n].head_mean() for n in names}


def per_head_top(amap: AttentionMap, query: str, n: int = 10) -> pd.DataFrame:
    """Fig 4C: per head, the `n` keys the query attends to most (self included, as the authors did).

    Columns head, rank (1 = largest), gene, attention.
    """
    if amap.per_cell or not amap.heads:
        raise ValueError(f"{amap.name}: per-head tops need a head-resolved cell-mean map")
    q = _index(amap.query_names, query, "query")
    keys = np.asarray(amap.key_names).astype(str)
    rows = []
    for h, row in enumerate(amap.values[:, q, :]):  # [H, K]
        rows += [(h, rank, keys[k], float(row[k])) for rank, k in enumerate(top_n(row, min(n, row.size)), 1)]
    return pd.DataFrame(rows, columns=["head", "rank", "gene", "attention"])


def neighbourhood(amap: AttentionMap, query: str, n: int = 30) -> pd.DataFrame:
    """Fig 4D: the head-mean submatrix over the `n` genes (at most all other genes) with the largest row + column
    attention of `query` (plus the query), in gene order; rows = query genes ("source"), columns = keys ("target")."""
    a = _gene_map(amap)
    q = _index(amap.query_names, query, "query")
    pick = np.union1d(top_n(a[q] + a[:, q], min(n, a.shape[0] - 1)), [q])  # sorted = gene order
    names = np.asarray(amap.query_names).astype(str)[pick]
    return pd.DataFrame(
        a[np.ix_(pick, pick)], index=pd.Index(names, name="source"), columns=pd.Index(names, name="target")
    )


@dataclass
class CellVariation:
    """Fig 4E: per-cell attention rows of one query gene, their cell-to-cell correlation and most variable keys."""

    corr: pd.DataFrame  # [N, N] Pearson r between cells' head-mean rows
    summary: dict[str, float]  # mean, sd, min, n_pairs over the upper triangle
    variable: pd.Series  # the keys with the largest across-cell variance of attention, largest first


def cell_variation(
    model: nn.Module | Any,
    screen: ad.AnnData | str | os.PathLike,
    dna: DNAStore | str | os.PathLike,
    gene: str = "GFI1B",
    first_n: int = 20,
    n_variable: int = 20,
) -> CellVariation:
    """The head-mean RNA self-attention row of `gene` in each of its first `first_n` cells (paper/METHODS.md, 'CDT-II:
    attention maps')."""
    rows = attention_rows(model, screen, dna, gene, gene, "rna_self_0", splits=None, first_n=first_n)
    corr, summary = row_correlation(rows)
    var = pd.Series(
        rows.head_mean().var(0), index=pd.Index(np.asarray(rows.key_names).astype(str), name="gene"), name="variance"
    )
    return CellVariation(corr=corr, summary=summary, variable=var.nlargest(min(n_variable, var.size), keep="first"))


# --- attention vs the observed effect, beside expression correlation and truth -------------------------------------


def reference_cells(screen: ad.AnnData) -> tuple[np.ndarray, str]:
    """Cells for expression correlation: NTC cells (unperturbed), else the training-split cells (authors' files
    carry no NTC cells). Returns row positions and a label."""
    obs = screen.obs
    ntc = np.flatnonzero((obs["kind"].astype(str) == "NTC").to_numpy())
    if ntc.size >= 3:
        return ntc, f"{ntc.size} NTC cells"
    train = np.flatnonzero((obs["split"].astype(str) == "train").to_numpy())
    if train.size < 3:
        raise ValueError(
            f"{screen.uns.get('cdt', {}).get('source', 'screen')}: neither NTC nor training cells "
            "(>= 3) to correlate expression over"
        )
    return train, f"{train.size} training-split cells (no NTC cells in this screen)"


def gene_scores(amap: AttentionMap, screen: ad.AnnData, gene: str, edges: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per gene, every way of ranking `gene`'s regulatory partners, in the screen's gene order.

    effect: |mean log2FC| over all `gene` cells (the experimental ranking, paper/METHODS.md, 'CDT-II: GFI1B network');
    attention_down / _up: the head- and cell-mean RNA self-attention row / column of `gene` with the self entry 0;
    correlation: |Spearman rho| of `gene` with every gene over reference cells (`reference_cells`). With the
    simulator's `edges`: true_target (direct edge gene -> x), true_downstream (any path) and true_regulator
    (edge x -> gene).
    """
    a = _gene_map(amap).copy()
    genes = np.asarray(amap.query_names).astype(str)
    if list(genes) != list(screen.var_names):
        raise ValueError(f"{amap.name}: the map's genes are not the screen's genes (in order)")
    g = _index(genes, gene, "gene")
    np.fill_diagonal(a, 0.0)
    rows, _ = reference_cells(screen)
    out = pd.DataFrame(
        {
            "effect": observed_profile(screen, gene).abs().to_numpy(),
            "attention_down": a[g],
            "attention_up": a[:, g],
            "correlation": spearman_with(dense(screen.X[rows], dtype=np.float64), g),
        },
        index=pd.Index(genes, name="gene"),
    )
    out.loc[gene, "correlation"] = 0.0  # a gene's correlation with itself is no edge
    if edges is not None:
        direct, anyhow = truth_adjacency(edges, genes), truth_adjacency(edges, genes, indirect=True)
        out["true_target"], out["true_downstream"], out["true_regulator"] = direct[g], anyhow[g], direct[:, g]
    return out


SCORE_LABELS = {
    "attention_down": "attention row (what GFI1B attends to)",
    "attention_up": "attention column (who attends to GFI1B)",
    "correlation": "|Spearman| with GFI1B, unperturbed cells",
    "gradient_importance": "gradient importance",
}


def overlap_table(
    scores: pd.DataFrame, n: int, methods: Sequence[str] = ("attention_down", "attention_up", "correlation")
) -> pd.DataFrame:
    """Top-n of each method vs top-n of |effect| (hypergeometric, M = genes), and, with truth columns, the share of
    each top-n that are true targets (direct / downstream) against the share among all other genes."""
    M = len(scores)
    exp_top = set(scores.index[top_n(scores["effect"].to_numpy(), n)])
    rows = []
    for m in methods:
        if m not in scores:
            continue
        top = set(scores.index[top_n(scores[m].to_numpy(), n)])
        o = set_overlap(top, exp_top, M)
        row = {
            "method": m,
            "label": SCORE_LABELS.get(m, m),
            "n": n,
            "M": M,
            "overlap": o.k,
            "expected": o.expected,
            "fold": o.fold,
            "p_value": o.p_value,
        }
        for t in ("true_target", "true_downstream"):
            if t in scores:
                row[f"{t}_share"] = float(scores.loc[sorted(top), t].mean())
                row[f"{t}_base"] = float(scores[t].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def score_correlations(
    scores: pd.DataFrame,
    columns: Sequence[str] = ("effect", "attention_down", "gradient_importance", "correlation"),
) -> pd.DataFrame:
    """Pearson r between every pair of rankings across genes (the paper's "r = 0.27 between methods")."""
    cols = [c for c in columns if c in scores]
    rows = []
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            rows.append(
                {
                    "a": a,
                    "b": b,
                    "pearson_r": float(scipy.stats.pearsonr(scores[a], scores[b]).statistic),
                    "spearman_rho": float(scipy.stats.spearmanr(scores[a], scores[b]).statistic),
                }
            )
    return pd.DataFrame(rows)


def hub_table(
    amap: AttentionMap, gene: str, scores: pd.DataFrame | None = None, percentile: float = 95.0
) -> tuple[HubRoles, pd.DataFrame]:
    """Fig 5A: hub roles of `gene` in the head-mean RNA self-attention (`cdt.networks.hub_roles`), each role with
    its truth columns from `gene_scores` when given."""
    roles = hub_roles(_gene_map(amap), list(np.asarray(amap.query_names).astype(str)), gene, percentile)
    table = roles.table
    if scores is not None:
        truth = [c for c in ("effect", "true_target", "true_downstream", "true_regulator") if c in scores]
        table = table.join(scores[truth], on="gene")
    return roles, table


def role_summary(table: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Per hub role: gene count and, where truth exists, the share that are true targets / regulators, beside the
    share among all genes."""
    rows = []
    for role, part in table.groupby("role", sort=False):
        row = {"role": role, "genes": len(part)}
        for t in ("true_target", "true_downstream", "true_regulator"):
            if t in part:
                row[f"{t}_share"] = float(part[t].mean())
                row[f"{t}_base"] = float(scores[t].mean())
        rows.append(row)
    order = {r: i for i, r in enumerate(("downstream", "upstream", "bidirectional"))}
    return pd.DataFrame(rows).sort_values("role", key=lambda s: s.map(order)).reset_index(drop=True)


# --- gradients and in-silico knockdown -------------------------------------------------------------------------------


def perturbations_with_cells(screen: ad.AnnData, genes: Sequence[str]) -> list[str]:
    """The genes (in the order given) that have perturbed cells in the screen."""
    have = set(screen.obs["perturbation"].astype(str))
    return [g for g in genes if g in have]


def gradient_vs_effect(
    model: nn.Module | Any, screen: ad.AnnData, dna: DNAStore | str | os.PathLike, genes: Sequence[str], n_outputs: int
) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Per gene: Jacobian of the top-`n_outputs` outputs by |effect| at the NTC-mean input and the gene's DNA
    (paper/METHODS.md, 'CDT-II: GFI1B network'); Pearson/Spearman of gradient importance with |effect| over all genes.

    Returns the per-gene table and each gene's gradient importance [G].
    """
    rows, importance = [], {}
    for gene in perturbations_with_cells(screen, genes):
        effect = observed_profile(screen, gene)
        outputs = effect.index[top_n(effect.abs().to_numpy(), min(n_outputs, len(effect)))].tolist()
        jac = gene_jacobian(model, screen, dna, gene, at="ntc_mean", outputs=outputs)
        stats = importance_vs_effect(jac, effect)
        n_cells = int((screen.obs["perturbation"].astype(str) == gene).sum())
        rows.append(
            {
                "perturbation": gene,
                "cells": n_cells,
                "outputs": len(outputs),
                "r": stats["r"],
                "rho": stats["rho"],
                "published_r": GRADIENT_R_PER_GENE.get(gene, np.nan),
            }
        )
        importance[gene] = jac.importance()
    return pd.DataFrame(rows), importance


def knockdown_table(
    model: nn.Module | Any, screen: ad.AnnData, dna: DNAStore | str | os.PathLike, genes: Sequence[str]
) -> tuple[pd.DataFrame, dict[str, Knockdown]]:
    """In-silico knockdown (input set to 0 at the mean TSS-cell input) of every gene that is both an
    input gene and a perturbation with cells; r of the predicted change with the observed mean log2FC."""
    genes = [g for g in perturbations_with_cells(screen, genes) if g in set(screen.var_names)]
    kds = {g: in_silico_knockdown(model, screen, dna, g, baseline="tss_mean", fraction=0.0) for g in genes}
    table = pd.DataFrame(
        [
            {
                "perturbation": g,
                "r": k.r,
                "rho": k.rho,
                "self_change": float(k.delta[g]),
                "observed_self": float(k.observed[g]),
            }
            for g, k in kds.items()
        ]
    )
    return table, kds


# --- CDT-III Table 5 and CDT v1 Fig 7 --------------------------------------------------------------------------------


def attention_inventory(model: nn.Module | Any | None = None, preset: str = "paper") -> pd.DataFrame:
    """CDT-III Table 5: the six attention maps with the published shape beside this model's [heads x Q x K]
    (from a forward pass of its meta-device twin); without a model, a CDT-III built at `preset`."""
    if model is None:
        with torch.device("meta"):
            model = CDT3(CDT3Config.from_preset(get_preset(preset)))
    model, _ = resolve_model(model)
    shapes = attention_shapes(model)
    table = CDT3_TABLE5.copy()
    table["this_model_shape"] = [" x ".join(f"{n:,}" for n in shapes[m]) if m in shapes else "—" for m in table["map"]]
    extra = [m for m in shapes if m not in set(table["map"])]  # the VCE pooling queries (not counted by the paper)
    more = pd.DataFrame(
        {
            "map": extra,
            "attention map": [f"VCE pooling ({m.split('_', 1)[1]})" for m in extra],
            "published_shape": "—",
            "biological meaning": "cell-embedding pooling",
            "source": "not in Table 5",
            "this_model_shape": [" x ".join(f"{n:,}" for n in shapes[m]) for m in extra],
        }
    )
    return pd.concat([table, more], ignore_index=True)


def v1_dna_self_heads(run: Any, split: str = "val", index: int = 0, layer: int = 0) -> AttentionMap:
    """CDT v1 Fig 7: head-resolved DNA self-attention [H, L, L] of one enhancer-gene pair (the `index`-th pair of
    `split` in file order; the paper does not name its sample)."""
    from cdt.train.runs import DataFiles, load_data

    model = run.model
    if not isinstance(model, CDT1):
        raise TypeError(f"{run.run_dir}: expected a CDT v1 run, got {type(model).__name__}")
    data = load_data(run.config, DataFiles(**run.files))
    idx = data.indices((split,))
    if idx.size <= index:
        raise ValueError(f"{run.files.get('pairs')}: split {split!r} has {idx.size} pairs, no pair #{index}")
    b = data.collate([int(idx[index])])
    device = next(model.parameters()).device
    with eval_mode(model), torch.no_grad():
        attn = model(
            b.dna.to(device),
            data.rna_emb.to(device),
            data.prot_emb.to(device),
            b.target_index.to(device),
            return_attention=True,
        ).attention
    name = f"dna_self_{layer}"
    if name not in attn:
        raise ValueError(f"the model has no {name!r} map (maps: {sorted(attn)})")
    bins = np.arange(model.cfg.n_bins)
    pair = str(data.pair_ids[idx[index]])
    return AttentionMap(
        name=name,
        values=attn[name][0].double().cpu().numpy(),
        heads=True,
        cells=np.array([pair]),
        query_names=bins,
        key_names=bins,
        meta={
            "model": "CDT1",
            "run_dir": str(run.run_dir),
            "map": name,
            "pair": pair,
            "target_gene": str(data.genes[int(b.target_index[0])]),
            "split": split,
        },
    )


def pick_heads(amap: AttentionMap, k: int = 4) -> pd.DataFrame:
    """`k` heads from most concentrated to most diffuse, evenly spaced in the order of the mean per-query entropy.

    Columns: head, row_entropy (nats, mean over queries), effective positions per query exp(row_entropy), and the
    authors' entropy of the query-averaged key distribution with its effective positions (`attention_entropy`;
    a diagonal head is "diffuse" by that measure although every query looks at one bin).
    """
    if amap.per_cell or not amap.heads:
        raise ValueError(f"{amap.name}: need a head-resolved cell-mean map")
    p = np.clip(amap.values, 1e-12, None)  # [H, Q, K]
    rows = -(amap.values * np.log(p)).sum(-1).mean(-1)  # [H]
    table = attention_entropy(amap).rename(
        columns={"entropy": "key_entropy", "effective_positions": "key_effective_positions"}
    )
    table.insert(0, "row_effective_positions", np.exp(rows))
    table.insert(0, "row_entropy", rows)
    table = table.sort_values("row_entropy", kind="stable")
    take = np.unique(np.round(np.linspace(0, len(table) - 1, min(k, len(table)))).astype(int))
    return table.iloc[take].reset_index()


# --- notebook 03: inputs, headline rows and findings ----------------------------------------------------------------
# Each `*_numbers` function returns the headline rows of one figure or table as a `cdt.analyses.Findings`, recorded
# with ``nums.report`` (key = (paper, item, quantity) of `cdt.published.HEADLINE`); each `*_finding` returns one
# Markdown list item for the notebook's closing summary.

KNOCKDOWN_GENES = ("GFI1B", "CD52")
"""Held-out genes that are also input genes: their input can be set to zero (in-silico knockdown)."""


def read_edges(truth_dir: str | os.PathLike | None) -> pd.DataFrame | None:
    """The simulator's true network (``truth/network_edges.csv``); None on data without a truth directory."""
    return pd.read_csv(Path(truth_dir) / "network_edges.csv") if truth_dir else None


def data_line(screen: ad.AnnData, gene: str, n: int, *, source_label: str, protocol: str, run_name: str) -> str:
    """The notebook's opening line: data, protocol, run, genes and `gene` cells, and the top-`n` scaled from the
    paper's top 100 of 2,361 (`scaled_n`)."""
    n_cells = int((screen.obs["perturbation"].astype(str) == gene).sum())
    return (
        f"Data: **{source_label}**, protocol **{protocol}**; CDT-II run `{run_name}`; "
        f"{screen.n_vars:,} genes, {n_cells} {gene} cells. The paper's top 100 of {PUBLISHED_GENES:,} genes becomes "
        f"**top {n} of {screen.n_vars:,}** here (same share of the gene universe)."
    )


def map_shapes(maps: Mapping[str, AttentionMap]) -> pd.DataFrame:
    """One row per attention map with its [heads x queries x keys] shape."""
    return pd.DataFrame(
        {
            "map": list(maps),
            "shape [heads x queries x keys]": [" x ".join(map(str, m.values.shape)) for m in maps.values()],
        }
    )


def head_top_line(table: pd.DataFrame, gene: str) -> str:
    """Fig 4C in words: the gene each head attends to most (`per_head_top`) and how many heads differ."""
    first = table.groupby("head")["gene"].apply(lambda g: g.iloc[0])
    return (
        f"Top gene per head: {', '.join(f'head {h}: **{g}**' for h, g in first.items())} "
        f"({first.nunique()} distinct of {len(first)} heads)."
    )


def cell_variation_numbers(
    var: CellVariation, gene: str, *, file: str = "cdt2_fig4e_cell_attention_correlation.png"
) -> Findings:
    """Headline row of CDT-II Fig 4E (`cell_variation`): the mean pairwise r of the `gene` attention rows."""
    return Findings(
        numbers=[
            {
                "key": ("CDT-II", "Fig 4E", f"mean pairwise r of {gene} attention rows"),
                "value": var.summary["mean"],
                "file": file,
                "note": f"min {var.summary['min']:.3f}; authors' notebook gave 0.82",
                "detail": f"{var.summary['n_pairs']} cell pairs",
            }
        ]
    )


def overlap_numbers(overlap: pd.DataFrame, *, file: str = "cdt2_text_gfi1b_top_overlap.png") -> Findings:
    """Headline rows of the top-N overlap (`overlap_table`): shared genes, fold and P of the attention row, the fold
    of expression correlation, and with truth columns the share of true targets in each top-N."""
    o = overlap.set_index("method")
    a, c = o.loc["attention_down"], o.loc["correlation"]
    scale = f"top {int(a['n'])} of {int(a['M'])} genes (paper: top 100 of 2,361)"
    item = "text (GFI1B overlap)"
    rows = [
        {
            "key": ("CDT-II", item, "shared genes, attention vs experimental top-N"),
            "value": int(a["overlap"]),
            "file": file,
            "note": scale,
        },
        {"key": ("CDT-II", item, "fold enrichment"), "value": float(a["fold"]), "file": file, "note": scale},
        {
            "key": ("CDT-II", item, "hypergeometric P"),
            "value": float(a["p_value"]),
            "file": file,
            "note": scale + "; P depends on N and M",
        },
        {
            "key": ("CDT-II", item, "fold enrichment, expression correlation (no model)"),
            "value": float(c["fold"]),
            "file": file,
            "note": "baseline: |Spearman| with GFI1B in unperturbed cells",
        },
    ]
    if "true_target_share" in o:
        rows += [
            {
                "key": ("CDT-II", item, "share of attention top-N that are true GFI1B targets"),
                "value": float(a["true_target_share"]),
                "file": file,
                "note": f"simulated truth; base rate {a['true_target_base']:.3f}",
            },
            {
                "key": ("CDT-II", item, "share of correlation top-N that are true GFI1B targets"),
                "value": float(c["true_target_share"]),
                "file": file,
                "note": "simulated truth",
            },
        ]
    return Findings(numbers=rows)


def overlap_finding(overlap: pd.DataFrame) -> str:
    """The top-N overlap in one Markdown list item: attention row vs expression correlation (is attention ahead of
    the model-free baseline?) beside the paper, and with truth columns the share of true targets."""
    o = overlap.set_index("method")
    a, c, n = o.loc["attention_down"], o.loc["correlation"], int(o.loc["attention_down", "n"])
    pub = GFI1B_TOP100
    truth = ""
    if "true_target_share" in o:
        truth = (
            f" Against the simulated truth: {a['true_target_share']:.0%} of the attention top {n} are direct "
            f"GFI1B targets, {c['true_target_share']:.0%} of the correlation top {n} (base rate "
            f"{a['true_target_base']:.0%})."
        )
    return (
        f"- **Overlap with the experiment.** The attention top {n} shares {int(a['overlap'])} genes with the "
        f"experimental top {n} ({a['fold']:.1f}-fold, P = {a['p_value']:.1e}; paper {pub['k']}/{pub['n']}, "
        f"{pub['fold']}-fold, P = {pub['p_value']:.1e}). Expression correlation with GFI1B in unperturbed cells, which "
        f"needs no model, shares {int(c['overlap'])} ({c['fold']:.1f}-fold, P = {c['p_value']:.1e}): attention is "
        f"{'ahead of' if a['fold'] > c['fold'] else 'not ahead of'} this baseline here.{truth}"
    )


def variation_finding(var: CellVariation) -> str:
    """Fig 4E in one Markdown list item, beside the published mean pairwise r."""
    return (
        f"- **Cell-to-cell variation.** Mean pairwise r of the GFI1B row over {len(var.corr)} cells: "
        f"{var.summary['mean']:.2f} (paper {CELL_CORRELATION_MEAN})."
    )


def hub_numbers(
    counts: Mapping[str, int],
    role_stats: pd.DataFrame,
    gene: str,
    n_genes: int,
    *,
    files: tuple[str, str] = ("cdt2_fig5a_gfi1b_network.png", "cdt2_fig5a_gfi1b_hub_roles.csv"),
) -> Findings:
    """Headline rows of CDT-II Fig 5A: partners of `gene` per role (`hub_table`), and with truth columns in
    `role_stats` (`role_summary`) the share of downstream partners that are true targets."""
    rows = [
        {
            "key": ("CDT-II", "Fig 5A", f"{role} partners of {gene}"),
            "value": counts[role],
            "file": files[0],
            "note": f"{n_genes} genes (paper 2,361): ~5% of genes by design",
        }
        for role in HUB_COUNTS
    ]
    rs = role_stats.set_index("role") if len(role_stats) else pd.DataFrame()
    if "true_target_share" in rs and "downstream" in rs.index:
        rows.append(
            {
                "key": ("CDT-II", "Fig 5A", "share of downstream partners that are true GFI1B targets"),
                "value": float(rs.loc["downstream", "true_target_share"]),
                "file": files[1],
                "note": f"simulated truth; base rate {rs.loc['downstream', 'true_target_base']:.3f}",
            }
        )
    return Findings(numbers=rows)


def hub_finding(counts: Mapping[str, int]) -> str:
    """Fig 5A in one Markdown list item, beside the published partner counts."""
    pub = " / ".join(str(HUB_COUNTS[r]) for r in ("downstream", "upstream", "bidirectional"))
    return (
        f"- **Hub roles.** {counts['downstream']} downstream, {counts['upstream']} upstream, {counts['bidirectional']}"
        f" bidirectional partners (paper {pub} of 2,361 genes; the 95th-percentile rule fixes these near 5% of genes)."
    )


def with_gradient_importance(scores: pd.DataFrame, importance: Mapping[str, pd.Series], gene: str) -> pd.DataFrame:
    """`gene_scores` with `gene`'s gradient importance (`gradient_vs_effect`) as column gradient_importance."""
    return scores.assign(gradient_importance=importance[gene].reindex(scores.index))


def gene_r(grad: pd.DataFrame, gene: str) -> float:
    """The r of gradient importance vs |effect| of one gene in `gradient_vs_effect`'s table."""
    return float(grad.set_index("perturbation").loc[gene, "r"])


def gradient_numbers(
    grad: pd.DataFrame,
    method_r: pd.DataFrame,
    gene: str,
    n: int,
    *,
    files: tuple[str, str, str] = (
        "cdt2_text_gradient_vs_effect.png",
        "cdt2_text_gradient_vs_effect_per_gene.csv",
        "cdt2_text_method_correlations.csv",
    ),
) -> Findings:
    """Headline rows of the gradient text claim: r of gradient importance vs |effect| for `gene` (top-`n` outputs)
    and on average (`gradient_vs_effect`), and the correlations between rankings (`score_correlations`)."""
    mr = method_r.set_index(["a", "b"])["pearson_r"]
    item = "text (gradients)"
    return Findings(
        numbers=[
            {
                "key": ("CDT-II", item, f"r gradient importance vs |effect|, {gene}"),
                "value": gene_r(grad, gene),
                "file": files[0],
                "note": f"top {n} outputs; v3 Fig 8A gives 0.86 for GFI1B",
            },
            {
                "key": ("CDT-II", item, "mean r over held-out genes"),
                "value": float(grad["r"].mean()),
                "file": files[1],
                "note": f"{len(grad)} genes with cells",
            },
            {
                "key": ("CDT-II", item, "r attention row vs gradient importance"),
                "value": float(mr.loc[("attention_down", "gradient_importance")]),
                "file": files[2],
            },
            {
                "key": ("CDT-II", item, "r attention row vs |effect|"),
                "value": float(mr.loc[("effect", "attention_down")]),
                "file": files[2],
                "note": "an earlier authors' notebook printed 0.26",
            },
            {
                "key": ("CDT-II", item, "r expression correlation vs |effect| (no model)"),
                "value": float(mr.loc[("effect", "correlation")]),
                "file": files[2],
                "note": "baseline",
            },
        ]
    )


def gradient_finding(grad: pd.DataFrame, method_r: pd.DataFrame, gene: str) -> str:
    """The gradient claim in one Markdown list item: gradients, attention and both against each other."""
    mr = method_r.set_index(["a", "b"])["pearson_r"]
    return (
        f"- **Gradients vs attention.** Gradient importance tracks the observed effect with r = "
        f"{gene_r(grad, gene):.2f} for {gene} (mean {grad['r'].mean():.2f} over {len(grad)} held-out genes; paper "
        f"{GRADIENT_R}), the attention row tracks it with r = {mr.loc[('effect', 'attention_down')]:.2f}, and "
        f"attention vs gradients r = {mr.loc[('attention_down', 'gradient_importance')]:.2f} (paper "
        f"{ATTENTION_GRADIENT_R})."
    )


def knockdown_numbers(table: pd.DataFrame, *, file: str = "cdt2_text_in_silico_knockdown.csv") -> Findings:
    """Headline rows of the in-silico knockdown (`knockdown_table`): r of predicted vs observed change per gene."""
    return Findings(
        numbers=[
            {
                "key": ("CDT-II", "text (in-silico knockdown)", f"r predicted change vs observed, {row.perturbation}"),
                "value": float(row.r),
                "file": file,
            }
            for row in table.itertuples()
        ]
    )


def knockdown_finding(table: pd.DataFrame, gene: str) -> str:
    """The in-silico knockdown of `gene` in one Markdown list item (r NaN when `gene` could not be knocked down)."""
    r = table.set_index("perturbation")["r"].get(gene, float("nan")) if len(table) else float("nan")
    return (
        f"- **In-silico knockdown.** Setting {gene}'s input to 0 gives r = {r:.2f} with the observed profile "
        f"(paper ~{KNOCKDOWN_R})."
    )


def pair_title(amap: AttentionMap) -> str:
    """The CDT v1 Fig 7 subtitle: the enhancer-gene pair of `v1_dna_self_heads` in words (an id
    ``chr:start-end:gene`` as the enhancer's position with thousands separators) and its target gene."""
    pair, target = str(amap.meta["pair"]), amap.meta["target_gene"]
    m = re.fullmatch(r"(\w+):(\d+)-(\d+):.*", pair)
    where = f"{m[1]}:{int(m[2]):,}-{int(m[3]):,}" if m else pair
    split = {"val": "validation", "train": "training"}.get(amap.meta.get("split"), amap.meta.get("split"))
    return f"\nenhancer at {where} and its target gene {target}" + (f" (one {split} pair)" if split else "")


def head_spread_numbers(heads: pd.DataFrame, *, file: str = "cdt1_fig7_dna_self_attention_heads.png") -> Findings:
    """Headline row of CDT v1 Fig 7 (`pick_heads`): bins attended per query, most diffuse over most concentrated."""
    spread = heads["row_effective_positions"]
    return Findings(
        numbers=[
            {
                "key": ("CDT v1", "Fig 7", "bins attended per query, most diffuse / most concentrated head"),
                "value": float(spread.max() / spread.min()),
                "file": file,
                "note": "paper shows the diversity qualitatively",
            }
        ]
    )


# =====================================================================================================================
# 04 — communities and the RNA-processing module


@dataclass
class GeneNetwork:
    """A gene-gene network of the top edges of one matrix, and its Louvain communities (largest first)."""

    name: str
    genes: list[str]
    graph: nx.Graph
    communities: list[list[str]]

    @property
    def n_communities(self) -> int:
        return len(self.communities)

    def sizes(self) -> pd.Series:
        return pd.Series([len(c) for c in self.communities], name="size").rename_axis("community")

    def summary(self) -> dict[str, Any]:
        return {
            "network": self.name,
            "genes": len(self.genes),
            "edges": self.graph.number_of_edges(),
            "threshold": float(self.graph.graph.get("threshold", np.nan)),
            "communities": self.n_communities,
            "singletons": int((self.sizes() == 1).sum()),
            "largest": int(self.sizes().max()),
        }


def gene_network(
    name: str, matrix: np.ndarray, genes: Sequence[str], top_fraction: float = 0.05, seed: int = 0
) -> GeneNetwork:
    """Top-`top_fraction` edge graph (undirected, `cdt.networks.top_edge_graph`) and Louvain at resolution 1."""
    graph = top_edge_graph(matrix, list(genes), top_fraction)
    return GeneNetwork(
        name=name, genes=list(genes), graph=graph, communities=louvain_communities(graph, resolution=1.0, seed=seed)
    )


def attention_networks(
    maps: Mapping[str, AttentionMap], top_fraction: float = 0.05, seed: int = 0
) -> dict[str, GeneNetwork]:
    """The two CDT-II networks (paper/METHODS.md, 'CDT-II: networks and communities'): "self" from the head- and
    cell-mean RNA self-attention, "cross" from the cosine similarity of the genes' head-mean DNA->RNA attention rows."""
    missing = [m for m in RNA_MAPS if m not in maps]
    if missing:
        raise ValueError(f"need maps {list(RNA_MAPS)}; missing {missing}")
    self_map = maps["rna_self_0"]
    genes = list(np.asarray(self_map.query_names).astype(str))
    cross = cross_attention_similarity(maps["dna_to_rna"]).to_numpy()
    return {
        "self": gene_network("RNA self-attention", _gene_map(self_map), genes, top_fraction, seed),
        "cross": gene_network("DNA->RNA cross-attention similarity", cross, genes, top_fraction, seed),
    }


def correlation_network(screen: ad.AnnData, top_fraction: float = 0.05, seed: int = 0) -> tuple[GeneNetwork, str]:
    """Baseline: the same network from the Spearman rho of expression over reference cells (signed, so the top
    edges are co-expression); genes constant there get 0."""
    rows, label = reference_cells(screen)
    with np.errstate(invalid="ignore", divide="ignore"):  # genes constant in these cells: NaN, set to 0 below
        rho = scipy.stats.spearmanr(dense(screen.X[rows], dtype=np.float64)).statistic
    rho = np.nan_to_num(np.atleast_2d(rho), nan=0.0)
    return gene_network("expression correlation", rho, list(screen.var_names.astype(str)), top_fraction, seed), label


def gmt_libraries(genesets_dir: str | os.PathLike | None) -> list[Path]:
    """The GMT files of a gene-set directory (sorted); empty when there is none."""
    if not genesets_dir:
        return []
    d = Path(genesets_dir)
    if not d.is_dir():
        raise ContractError(str(d), "genesets_dir", "not a directory")
    return sorted(d.glob("*.gmt"))


def enrich_network(
    net: GeneNetwork,
    libraries: Mapping[str, Any] | Sequence[str | os.PathLike],
    online: bool = False,
    background: int | Collection[str] | None = None,
) -> pd.DataFrame:
    """Enrichment of every community (>= 5 genes) of a network: `libraries` are GMT paths or {name: gene sets}
    offline, Enrichr library names online. Offline the background defaults to the network's genes (the authors'
    Enrichr run used a genome-wide background of ~20,000)."""
    libs = libraries if isinstance(libraries, Mapping) else list(libraries)
    if online:
        return enrich_communities(net.communities, libs, online=True)
    bg = net.genes if background is None else background
    return enrich_communities(net.communities, libs, background=bg)


def enrich_networks(
    nets: Mapping[str, GeneNetwork], libraries: Mapping[str, Any] | Sequence[str | os.PathLike], online: bool = False
) -> tuple[dict[str, pd.DataFrame], str | None]:
    """`enrich_network` for each network; when Enrichr cannot be reached (online), empty tables and the error, so
    the module overlap can still be shown."""
    if not online:
        return {k: enrich_network(n, libraries) for k, n in nets.items()}, None
    try:
        return {k: enrich_network(n, libraries, online=True) for k, n in nets.items()}, None
    except Exception as exc:  # the web service: any failure (network, HTTP, response) skips enrichment
        empty = pd.DataFrame(columns=["Community_ID", "Community_size", *COLUMNS])
        return {k: empty.copy() for k in nets}, f"Enrichr unreachable ({type(exc).__name__}: {exc})"


def term_hits(enrichment: pd.DataFrame, term: str = MODULE_TERM) -> pd.DataFrame:
    """Rows whose term starts with `term` (case-insensitive; "RNA Binding (GO:0003723)"), most significant first."""
    t = enrichment["Term"].astype(str).str.lower()
    return enrichment[t.str.startswith(term.lower())].sort_values("P_value", kind="stable")


def pick_module_communities(
    nets: Mapping[str, GeneNetwork], enrichments: Mapping[str, pd.DataFrame], term: str = MODULE_TERM
) -> tuple[dict[str, int], str]:
    """C1 (self) and C3 (cross): per network, the community most significantly enriched for `term`; when a network
    has no community carrying the term, the self/cross pair with the most significant overlap instead.

    Returns {network: community id} and how they were chosen."""
    picks: dict[str, int] = {}
    for key in ("self", "cross"):
        hits = term_hits(enrichments[key], term)
        if len(hits):
            picks[key] = int(hits.iloc[0]["Community_ID"])
    if len(picks) == 2:
        return picks, f"the community of each network most enriched for {term!r}"
    best = None
    for i, a in enumerate(nets["self"].communities):
        for j, b in enumerate(nets["cross"].communities):
            p = set_overlap(a, b, len(nets["self"].genes)).p_value
            if best is None or p < best[0]:
                best = (p, i, j)
    return {"self": best[1], "cross": best[2]}, (
        f"no community carries {term!r} in both networks: the self/cross pair with the most significant overlap"
    )


def clean_term(term: str) -> str:
    """Display name of a term: without GO ids, Reactome/WikiPathways ids (as in the authors' Fig 5B)."""
    term = re.split(r" R-HSA-| WP\d", str(term))[0]
    return re.sub(r"\s*\((GO|HP|MP):\d+\)$", "", term).strip()


def top_terms(enrichment: pd.DataFrame, community: int, n: int = 10) -> pd.DataFrame:
    """Fig 5B: a community's `n` most significant terms over all libraries: name, library, overlap, P, adjusted P,
    -log10 adjusted P."""
    rows = enrichment[enrichment["Community_ID"] == community].copy()
    rows["name"] = rows["Term"].map(clean_term)
    rows["minus_log10_adj_p"] = -np.log10(rows["Adjusted_P_value"].astype(float).clip(lower=1e-300))
    rows = rows.sort_values(["Adjusted_P_value", "P_value", "Term"], kind="stable").head(n)
    return rows[["Library", "Term", "name", "Overlap", "P_value", "Adjusted_P_value", "minus_log10_adj_p"]].reset_index(
        drop=True
    )


def module_overlap(a: Collection[str], b: Collection[str], genes: Collection[str]) -> Overlap:
    """Fig 5C: hypergeometric overlap of C1 and C3 in the gene universe (`cdt.stats.set_overlap`)."""
    return set_overlap(a, b, set(genes))


def module_recovery(
    nets: Mapping[str, GeneNetwork], modules: pd.DataFrame, kinds: Sequence[str] = ("regulatory",)
) -> pd.DataFrame:
    """Per network and planted module (truth/modules.csv, of `kinds`): the community with the largest Jaccard
    index, its overlap, recall of the module, and the hypergeometric fold and P."""
    mods = modules[modules["kind"].astype(str).isin(kinds)] if "kind" in modules else modules
    rows = []
    for key, net in nets.items():
        universe = set(net.genes)
        for module, part in mods.groupby("module", sort=True):
            members = set(part["gene"].astype(str)) & universe
            if not members:
                continue
            jac = [len(members & set(c)) / len(members | set(c)) for c in net.communities]
            best = int(np.argmax(jac))
            o = set_overlap(members, net.communities[best], universe)
            rows.append(
                {
                    "network": key,
                    "module": module,
                    "module_genes": len(members),
                    "community": best,
                    "community_size": len(net.communities[best]),
                    "overlap": o.k,
                    "recall": o.k / len(members),
                    "jaccard": jac[best],
                    "fold": o.fold,
                    "p_value": o.p_value,
                }
            )
    return pd.DataFrame(rows)


def planted_term_ranks(
    enrichment: pd.DataFrame, community: int, planted: pd.DataFrame, module: str = "rna_processing"
) -> pd.DataFrame:
    """Per library, the rank (by P, 1 = most significant) of the term planted for `module`
    (truth/planted_terms.csv) among the community's terms in that library and over all libraries."""
    rows_c = enrichment[enrichment["Community_ID"] == community].sort_values("P_value", kind="stable")
    overall = rows_c["Term"].tolist()
    out = []
    for lib, term in planted.loc[planted["module"] == module, ["library", "term"]].itertuples(index=False):
        in_lib = rows_c[rows_c["Library"] == lib].reset_index(drop=True)
        hit = np.flatnonzero(in_lib["Term"].to_numpy() == term)
        out.append(
            {
                "library": lib,
                "term": term,
                "rank_in_library": int(hit[0]) + 1 if hit.size else np.nan,
                "terms_in_library": len(in_lib),
                "rank_overall": overall.index(term) + 1 if hit.size else np.nan,
                "P_value": float(in_lib.loc[hit[0], "P_value"]) if hit.size else np.nan,
            }
        )
    return pd.DataFrame(out)


# --- notebook 04: inputs, tables, headline rows and sentences ---------------------------------------------------------

MODULE_CELLS = 20
"""Cells of the module gene (the first in file order) whose attention maps are averaged, as in the authors' notebook."""

MODULE_TOP_FRACTION = 0.05
"""Share of the strongest edges each module network keeps (the paper's top 5%)."""

PLANTED_MODULE = "rna_processing"
"""The planted module that stands for the paper's RNA-processing module (truth/modules.csv, simulated data)."""


def module_data_line(screen: ad.AnnData, run: Any, libraries: Sequence[str | os.PathLike], *, source_label: str) -> str:
    """Notebook 04's opening line: data, CDT-II run, genes, and where enrichment runs (the GMT `libraries`, or
    Enrichr online when there are none)."""
    where = (
        f"Enrichment offline on {len(libraries)} GMT libraries: " + ", ".join(f"`{Path(p).stem}`" for p in libraries)
        if libraries
        else "No GMT directory: enrichment on Enrichr online (" + ", ".join(ENRICHR_LIBRARIES) + ")."
    )
    return f"Data: **{source_label}**; CDT-II run `{Path(run.run_dir).name}`; {screen.n_vars:,} genes. {where}"


def module_networks(
    run: Any,
    screen: ad.AnnData,
    dna: DNAStore | str | os.PathLike,
    *,
    gene: str = "GFI1B",
    first_n: int = MODULE_CELLS,
    top_fraction: float = MODULE_TOP_FRACTION,
    seed: int = 0,
) -> tuple[dict[str, GeneNetwork], str]:
    """The networks of CDT-II Figs 5B/C and the baseline beside them: "self" and "cross" (`attention_networks` over
    the first `first_n` `gene` cells) and "correlation" (`correlation_network`, no model), each with its top
    `top_fraction` edges and Louvain communities; and which reference cells the correlation used."""
    maps = gene_maps(run, screen, dna, gene, first_n=first_n, maps=list(RNA_MAPS))
    nets = attention_networks(maps, top_fraction=top_fraction, seed=seed)
    corr, cells = correlation_network(screen, top_fraction=top_fraction, seed=seed)
    return {**nets, "correlation": corr}, cells


def community_table(nets: Mapping[str, GeneNetwork]) -> pd.DataFrame:
    """One row per network (`GeneNetwork.summary`): genes, edges, edge threshold, communities, singletons, largest."""
    return pd.DataFrame([n.summary() for n in nets.values()])


def partitions(nets: Mapping[str, GeneNetwork]) -> pd.DataFrame:
    """Every network's communities as one long table (gene, community, community_size, network), the layout of the
    authors' Supplementary Data S1 (`cdt.networks.partition_table`)."""
    return pd.concat([partition_table(n.communities).assign(network=k) for k, n in nets.items()])


def community_findings(nets: Mapping[str, GeneNetwork], cells: str) -> Findings:
    """Louvain community counts of the two attention networks (headline rows, beside the paper's gene count) and a
    sentence on the expression-correlation baseline over `cells`."""
    f = Findings()
    for key in ("self", "cross"):
        net = nets[key]
        f.add(
            ("CDT-II", "text (Louvain)", f"communities, {net.name} network"),
            net.n_communities,
            "cdt2_text_louvain_communities.csv",
            f"{len(net.genes)} genes (paper {PUBLISHED_GENES:,}); {int((net.sizes() == 1).sum())} singletons",
        )
    f.text = f"Expression-correlation baseline over {cells}: {nets['correlation'].n_communities} communities."
    return f


def enrichment_table(enrichments: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The enrichment of every community of every network in one table (column `network`)."""
    return pd.concat([e.assign(network=k) for k, e in enrichments.items()], ignore_index=True)


def module_choice_line(nets: Mapping[str, GeneNetwork], picks: Mapping[str, int], how: str) -> str:
    """Which communities are C1 and C3 (`pick_module_communities`), their sizes and how they were chosen."""
    c1, c3 = (len(nets[k].communities[picks[k]]) for k in ("self", "cross"))
    return (
        f"C1 = self-attention community {picks['self']} ({c1} genes), C3 = cross-attention community "
        f"{picks['cross']} ({c3} genes), chosen as {how}."
    )


def module_terms(
    nets: Mapping[str, GeneNetwork], enrichments: Mapping[str, pd.DataFrame], picks: Mapping[str, int]
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """CDT-II Fig 5B: the most significant terms (`top_terms`) of C1 and C3 by panel title (network, module and its
    size in words), and the same stacked into one table (column `community`: the network and module)."""
    names = {"self": "RNA self-attention: module C1", "cross": "DNA->RNA cross-attention: module C3"}
    titles = {"self": "RNA self-attention network", "cross": "DNA→RNA cross-attention network"}
    terms = {k: top_terms(enrichments[k], picks[k]) for k in names}
    panels = {
        f"{titles[k]}:\nmodule {name[-2:]} ({len(nets[k].communities[picks[k]])} genes)": terms[k]
        for k, name in names.items()
    }
    table = pd.concat([terms[k].assign(community=name) for k, name in names.items()])
    return panels, table


def rna_binding_findings(
    nets: Mapping[str, GeneNetwork], enrichments: Mapping[str, pd.DataFrame], picks: Mapping[str, int], *, online: bool
) -> Findings:
    """CDT-II Fig 5B headline rows: the P of the module term (`MODULE_TERM`, "RNA binding") in C1 and C3, None where
    the community does not carry it."""
    f = Findings()
    note = "Enrichr online" if online else "offline GMT, screen genes as background"
    for (key, cid), label in zip(picks.items(), ("C1", "C3"), strict=True):
        hits = term_hits(enrichments[key][enrichments[key]["Community_ID"] == cid])
        f.add(
            ("CDT-II", "Fig 5B", f"RNA binding P, {label} ({nets[key].name})"),
            float(hits["P_value"].iloc[0]) if len(hits) else None,
            "cdt2_fig5b_module_enrichment.png",
            note,
        )
    return f


def module_venn(c1: Collection[str], c3: Collection[str], genes: Collection[str]) -> pd.DataFrame:
    """CDT-II Fig 5C as a one-row table: sizes of C1 and C3, shared genes, their share of C3, and the hypergeometric
    expected overlap, fold and P in the gene universe (`module_overlap`)."""
    o = module_overlap(c1, c3, genes)
    return pd.DataFrame(
        [
            {
                "c1": len(c1),
                "c3": len(c3),
                "shared": o.k,
                "share_of_c3": o.k / len(c3),
                "expected": o.expected,
                "fold": o.fold,
                "p_value": o.p_value,
                "M": o.M,
            }
        ]
    )


def venn_findings(venn: pd.DataFrame, n_genes: int) -> Findings:
    """CDT-II Fig 5C headline rows from `module_venn`: sizes, shared genes, share of C3, fold and P (the P depends on
    the number of genes, `n_genes` here against the paper's)."""
    v, file = venn.iloc[0], "cdt2_fig5c_venn.png"
    note = f"{n_genes} genes (paper {PUBLISHED_GENES:,})"
    f = Findings()
    f.add(("CDT-II", "Fig 5C", "C1 size"), int(v["c1"]), file, note)
    f.add(("CDT-II", "Fig 5C", "C3 size"), int(v["c3"]), file, note)
    f.add(("CDT-II", "Fig 5C", "shared genes"), int(v["shared"]), file)
    f.add(("CDT-II", "Fig 5C", "share of C3 in C1"), float(v["share_of_c3"]), file)
    f.add(("CDT-II", "Fig 5C", "fold enrichment"), float(v["fold"]), file)
    f.add(("CDT-II", "Fig 5C", "hypergeometric P"), float(v["p_value"]), file, "P depends on the gene count")
    return f


def read_module_truth(truth_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The simulator's planted modules (truth/modules.csv) and the terms planted for them (truth/planted_terms.csv)."""
    return pd.read_csv(Path(truth_dir) / "modules.csv"), pd.read_csv(Path(truth_dir) / "planted_terms.csv")


def chosen_term_ranks(
    enrichments: Mapping[str, pd.DataFrame], picks: Mapping[str, int], planted: pd.DataFrame
) -> pd.DataFrame:
    """`planted_term_ranks` of the planted module's terms in C1 (network "self") and C3 ("cross"), one table."""
    return pd.concat(
        [
            planted_term_ranks(enrichments[k], picks[k], planted, PLANTED_MODULE).assign(network=k, community=picks[k])
            for k in ("self", "cross")
        ],
        ignore_index=True,
    )


def recovery_findings(
    recovery: pd.DataFrame,
    ranks: pd.DataFrame,
    nets: Mapping[str, GeneNetwork],
    picks: Mapping[str, int],
    modules: pd.DataFrame,
) -> Findings:
    """Simulated data: how well each network's best community matches the planted RNA-processing module
    (`module_recovery`), and how well the chosen C1 and C3 do (their Jaccard with it, the best rank of a planted
    term among their terms in `chosen_term_ranks`)."""
    rna = recovery[recovery["module"] == PLANTED_MODULE].set_index("network")
    members = set(modules.loc[modules["module"] == PLANTED_MODULE, "gene"])
    item = "sim (module recovery)"
    f = Findings()
    for key in rna.index:
        f.add(
            ("CDT-II", item, f"{PLANTED_MODULE} module: best community Jaccard, {key}"),
            float(rna.loc[key, "jaccard"]),
            "cdt2_sim_module_recovery.png",
            f"recall {rna.loc[key, 'recall']:.2f}, P {rna.loc[key, 'p_value']:.1e}",
        )
    for k, label in (("self", "C1"), ("cross", "C3")):
        chosen = set(nets[k].communities[picks[k]])
        f.add(
            ("CDT-II", item, f"{label}: Jaccard with the planted RNA module"),
            len(chosen & members) / len(chosen | members),
            "cdt2_sim_module_recovery.csv",
            f"{label} is community {picks[k]}; best match is community {int(rna.loc[k, 'community'])} "
            f"(Jaccard {rna.loc[k, 'jaccard']:.2f})",
        )
        f.add(
            ("CDT-II", item, f"{label}: best rank of a planted RNA-module term"),
            float(ranks.loc[ranks["network"] == k, "rank_overall"].min()),
            "cdt2_sim_planted_term_ranks.csv",
            "1 = the community's most significant term over all libraries",
        )
    return f


def module_findings(
    nets: Mapping[str, GeneNetwork],
    picks: Mapping[str, int],
    how: str,
    venn: pd.DataFrame,
    *,
    recovery: pd.DataFrame | None = None,
    ranks: pd.DataFrame | None = None,
) -> str:
    """Notebook 04's findings as a Markdown list: community counts and the C1/C3 overlap beside the paper's and, on
    simulated data (`recovery`, `ranks`), how well each network and the chosen C1/C3 recover the planted module."""
    v = venn.iloc[0]
    c1, c3, k = int(v["c1"]), int(v["c3"]), int(v["shared"])
    pub = MODULE_VENN
    truth_lines = ""
    if recovery is not None and ranks is not None:
        rna = recovery[recovery["module"] == PLANTED_MODULE].set_index("network")
        truth_lines = "\n".join(
            f"- Planted RNA-processing module ({int(rna.loc[n, 'module_genes'])} genes) in the {n} network: best "
            f"community Jaccard {rna.loc[n, 'jaccard']:.2f} (recall {rna.loc[n, 'recall']:.0%}, P = "
            f"{rna.loc[n, 'p_value']:.1e})."
            for n in nets
        )
        best_rank = {n: ranks[ranks["network"] == n]["rank_overall"].min() for n in ("self", "cross")}
        is_best = {n: "" if int(rna.loc[n, "community"]) == picks[n] else "not " for n in ("self", "cross")}
        truth_lines += (
            f"\n- The chosen C1 / C3 rank a planted RNA-module term at position {best_rank['self']:.0f} / "
            f"{best_rank['cross']:.0f} of their terms (1 = top); C1 is {is_best['self']}the self-attention "
            f"community that best matches the module, C3 is {is_best['cross']}the best cross-attention match."
        )
    return f"""
- **Communities.** Louvain finds {nets["self"].n_communities} communities in the self-attention network and
  {nets["cross"].n_communities} in the cross-attention network (paper {COMMUNITY_COUNTS["self"]} and {COMMUNITY_COUNTS["cross"]} on {PUBLISHED_GENES:,} genes); plain expression
  correlation gives {nets["correlation"].n_communities}.
- **Module overlap.** C1 ({c1} genes) and C3 ({c3} genes), chosen as {how}, share {k} genes
  ({k / c3:.0%} of C3; {v["fold"]:.1f}-fold, P = {v["p_value"]:.1e}; paper {pub["shared"]} of {pub["c3"]}, {pub["fold"]}-fold,
  P = {pub["p_value"]}).
{truth_lines}
"""
