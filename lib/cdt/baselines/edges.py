"""Edge scores for one perturbed gene, the labels they are judged against, and AUROC/AUPRC tables.

A score is a vector over all genes for the perturbed gene g (higher = more likely an edge g -> gene):

- RNA self-attention row of g (what g attends to) and column of g (attention g receives), from a [G, G] map;
- cross-attention similarity: cosine of g's DNA->RNA attention profile [L] with every gene's;
- input gradients: |Jacobian| column of g (effect of g's input on every output) and row of g;
- expression correlation: |Spearman rho| of g with every gene over a set of cells (NTC, or perturbed cells);
- gene-level features from NTC cells, which ignore g entirely: mean, variance and dropout rate of ln(CPM+1).

Labels: (a) the simulator's truth, the targets of g in truth/network_edges.csv, optionally every downstream gene
(networkx descendants); (b) the observed outcome, the genes differentially expressed in g's perturbed cells vs NTC
cells: Welch t-test (default) or Mann-Whitney U per gene on ln(CPM+1), BH-adjusted (cdt.stats), q < 0.05 and
|mean log2FC| >= `min_abs_lfc`; or the top-k genes by |mean log2FC|.

`recovery_table` scores any dict of score arrays against any dict of truth arrays of the same shape (square
gene x gene matrices without their diagonal), so the same call serves one perturbation, the planted network,
the planted module and the planted DNA elements.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import networkx as nx
import numpy as np
import pandas as pd
import scipy.stats
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.metrics.pairwise import cosine_similarity

from cdt.stats import benjamini_hochberg

GENE_FEATURES = ("mean", "variance", "dropout")
DE_TESTS = ("welch", "mannwhitney")


# ---------------------------------------------------------------------------------------------------------- scores


def attention_row(attn: ArrayLike, g: int) -> np.ndarray:
    """Row g of a [G, G] attention map (query g): how much g attends to each gene."""
    return _square(attn)[g].copy()


def attention_column(attn: ArrayLike, g: int) -> np.ndarray:
    """Column g of a [G, G] attention map (key g): how much each gene attends to g."""
    return _square(attn)[:, g].copy()


def cross_attention_cosine(cross: ArrayLike, g: int) -> np.ndarray:
    """Cosine similarity of g's DNA->RNA attention profile with every gene's: cross [G, L] -> [G]."""
    c = np.asarray(cross, dtype=float)
    if c.ndim != 2:
        _bad_shape("cross", c.shape, "[G, L]")
    return cosine_similarity(c[g : g + 1], c)[0]


def jacobian_column(jac: ArrayLike, g: int, absolute: bool = True) -> np.ndarray:
    """Column g of J[out, in] = d output / d input: what perturbing g's input does to every output."""
    col = _square(jac)[:, g]
    return np.abs(col) if absolute else col.copy()


def jacobian_row(jac: ArrayLike, g: int, absolute: bool = True) -> np.ndarray:
    """Row g of J[out, in]: how every gene's input moves g's output."""
    row = _square(jac)[g]
    return np.abs(row) if absolute else row.copy()


def spearman_with(expr: ArrayLike, g: int, absolute: bool = True) -> np.ndarray:
    """Spearman rho of gene g with every gene over cells: expr [N, G] -> [G]; constant genes get 0."""
    x = np.asarray(expr, dtype=float)
    if x.ndim != 2 or x.shape[0] < 3:
        raise ValueError(f"need an expression matrix [cells >= 3, genes]; got shape {x.shape}")
    ranks = scipy.stats.rankdata(x, axis=0)  # [N, G]
    ranks -= ranks.mean(0)
    norm = np.sqrt((ranks**2).sum(0))  # [G]
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = ranks.T @ ranks[:, g] / (norm * norm[g])
    rho = np.nan_to_num(rho, nan=0.0, posinf=0.0, neginf=0.0)
    return np.abs(rho) if absolute else rho


def gene_level_features(expr_ntc: ArrayLike) -> dict[str, np.ndarray]:
    """Per-gene mean, variance and dropout rate (fraction of cells at 0) of ln(CPM+1) in NTC cells: {name: [G]}."""
    x = np.asarray(expr_ntc, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need NTC expression [cells >= 2, genes]; got shape {x.shape}")
    return {"mean": x.mean(0), "variance": x.var(0, ddof=1), "dropout": (x == 0).mean(0)}


def edge_scores(
    g: int,
    *,
    rna_attention: ArrayLike | None = None,
    cross_attention: ArrayLike | None = None,
    jacobian: ArrayLike | None = None,
    expr_ntc: ArrayLike | None = None,
    expr_perturbed: ArrayLike | None = None,
) -> dict[str, np.ndarray]:
    """Every score available from the given inputs for perturbed gene index g: {method: [G]}.

    rna_attention [G, G] (head- and cell-averaged), cross_attention [G, L], jacobian [G out, G in],
    expr_ntc / expr_perturbed [cells, G] ln(CPM+1) (perturbed = cells a model may train on, not g's own cells).
    """
    out: dict[str, np.ndarray] = {}
    if rna_attention is not None:
        out["attention_row"] = attention_row(rna_attention, g)
        out["attention_column"] = attention_column(rna_attention, g)
    if cross_attention is not None:
        out["cross_attention_similarity"] = cross_attention_cosine(cross_attention, g)
    if jacobian is not None:
        out["jacobian_column"] = jacobian_column(jacobian, g)
        out["jacobian_row"] = jacobian_row(jacobian, g)
    if expr_ntc is not None:
        out["spearman_ntc"] = spearman_with(expr_ntc, g)
        out.update(gene_level_features(expr_ntc))
    if expr_perturbed is not None:
        out["spearman_perturbed"] = spearman_with(expr_perturbed, g)
    return out


def cross_attention_bins(cross: ArrayLike) -> np.ndarray:
    """DNA bin importance: cross-attention [G, L] (or head-resolved [H, G, L]) averaged over genes (and heads)."""
    a = np.asarray(cross, dtype=float)
    if a.ndim not in (2, 3):
        _bad_shape("cross", a.shape, "[G, L] or [H, G, L]")
    return a.reshape(-1, a.shape[-1]).mean(0)  # [L]


def dna_bin_baselines(dna: ArrayLike) -> dict[str, np.ndarray]:
    """Model-free scores of each DNA bin for element recovery: dna [U, L, dim] embeddings -> {name: [U, L]}.

    `embedding_norm` = L2 norm of the bin's embedding (elements leave a mark in the DNA model's output);
    `near_centre` = minus the distance to the window centre (the perturbed TSS, hence the promoter, sits there).
    """
    x = np.asarray(dna, dtype=float)
    if x.ndim != 3:
        _bad_shape("dna", x.shape, "[U, L, dim]")
    centre = -np.abs(np.arange(x.shape[1]) - x.shape[1] // 2).astype(float)  # [L]
    return {"embedding_norm": np.linalg.norm(x, axis=2), "near_centre": np.broadcast_to(centre, x.shape[:2]).copy()}


# ---------------------------------------------------------------------------------------------------------- labels


def truth_adjacency(edges: pd.DataFrame, genes: Sequence[str], indirect: bool = False) -> np.ndarray:
    """[G, G] bool, A[s, t] = edge s -> t in truth/network_edges.csv (or t downstream of s when `indirect`).

    Edges touching genes outside `genes` still carry paths between genes inside it when `indirect`.
    """
    for col in ("source", "target"):
        if col not in edges:
            raise ValueError(f"network edges table has no {col!r} column (columns: {list(edges.columns)})")
    graph = nx.DiGraph(zip(edges["source"].astype(str), edges["target"].astype(str), strict=True))
    index = {g: i for i, g in enumerate(genes)}
    adj = np.zeros((len(genes), len(genes)), dtype=bool)
    for s, i in index.items():
        if s not in graph:
            continue
        reached = nx.descendants(graph, s) if indirect else graph.successors(s)
        for t in reached:
            if t in index and t != s:
                adj[i, index[t]] = True
    return adj


def truth_targets(edges: pd.DataFrame, genes: Sequence[str], source: str, indirect: bool = False) -> np.ndarray:
    """[G] bool: the true (direct, or all downstream) targets of `source`."""
    genes = list(genes)
    if source not in genes:
        raise KeyError(f"{source!r} is not one of the {len(genes)} genes")
    return truth_adjacency(edges, genes, indirect)[genes.index(source)]


def module_pairs(modules: pd.DataFrame, genes: Sequence[str], module: str | Sequence[str] | None = None) -> np.ndarray:
    """[G, G] bool: the two genes share a planted module (one of `module`, when given); truth/modules.csv.

    A gene may belong to several modules (the simulator puts GFI1B in its target module and in a cell-state
    module); filter the table by its `kind` column first to score regulatory modules only.
    """
    for col in ("gene", "module"):
        if col not in modules:
            raise ValueError(f"modules table has no {col!r} column (columns: {list(modules.columns)})")
    rows = modules
    if module is not None:
        rows = rows[rows["module"].astype(str).isin([module] if isinstance(module, str) else list(module))]
    index = {g: i for i, g in enumerate(genes)}
    codes, _ = pd.factorize(rows["module"].astype(str))
    member = np.zeros((len(index), codes.max() + 1 if len(codes) else 0), dtype=bool)  # [G, n_modules]
    for g, m in zip(rows["gene"].astype(str), codes, strict=True):
        if g in index:
            member[index[g], m] = True
    same = (member.astype(int) @ member.T.astype(int)) > 0
    np.fill_diagonal(same, False)
    return same


def element_bins(
    elements: pd.DataFrame, loci: Sequence[str], n_bins: int, element: str | Sequence[str] | None = None
) -> np.ndarray:
    """[U, n_bins] bool: bins of each locus covered by a planted element (truth/elements.csv).

    Bins are the simulator's half-open [bin_start, bin_end), clipped to the window; `element` restricts the
    classes (promoter, CTCF, enhancer, open).
    """
    for col in ("locus_id", "element", "bin_start", "bin_end"):
        if col not in elements:
            raise ValueError(f"elements table has no {col!r} column (columns: {list(elements.columns)})")
    rows = elements
    if element is not None:
        rows = rows[rows["element"].astype(str).isin([element] if isinstance(element, str) else list(element))]
    out = np.zeros((len(loci), n_bins), dtype=bool)
    index = {k: i for i, k in enumerate(loci)}
    for locus, start, end in zip(rows["locus_id"].astype(str), rows["bin_start"], rows["bin_end"], strict=True):
        if locus in index:
            out[index[locus], max(int(start), 0) : min(int(end), n_bins)] = True
    return out


def differential_expression(expr_perturbed: ArrayLike, expr_ntc: ArrayLike, test: str = "welch") -> pd.DataFrame:
    """Per gene: mean log2FC (perturbed vs NTC, from ln(CPM+1)), test statistic, P and BH q (rows = genes)."""
    if test not in DE_TESTS:
        raise ValueError(f"test must be one of {DE_TESTS}; got {test!r}")
    a, b = np.asarray(expr_perturbed, dtype=float), np.asarray(expr_ntc, dtype=float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need perturbed [>= 2, G] and NTC [>= 2, G] cells; got {a.shape} and {b.shape}")
    lfc = (a.mean(0) - b.mean(0)) / math.log(2)  # mean ln(CPM+1) difference in log2 units
    with np.errstate(invalid="ignore", divide="ignore"):
        if test == "welch":
            res = scipy.stats.ttest_ind(a, b, axis=0, equal_var=False)
        else:
            res = scipy.stats.mannwhitneyu(a, b, axis=0, alternative="two-sided")
    p = np.asarray(res.pvalue, dtype=float)
    p[np.isnan(p)] = 1.0  # genes constant in both groups carry no evidence
    return pd.DataFrame(
        {"log2fc": lfc, "statistic": np.asarray(res.statistic, float), "p": p, "q": benjamini_hochberg(p)}
    )


def de_labels(de: pd.DataFrame, q: float = 0.05, min_abs_lfc: float = 0.0) -> np.ndarray:
    """[G] bool: q below `q` and |mean log2FC| at least `min_abs_lfc`."""
    return ((de["q"] < q) & (de["log2fc"].abs() >= min_abs_lfc)).to_numpy()


def top_k_labels(log2fc: ArrayLike, k: int, exclude: int | None = None) -> np.ndarray:
    """[G] bool: the k genes with the largest |mean log2FC| (ties broken by gene order), optionally skipping one."""
    score = np.abs(np.asarray(log2fc, dtype=float))
    if exclude is not None:
        score[exclude] = -np.inf
    out = np.zeros(score.size, dtype=bool)
    out[np.argsort(-score, kind="stable")[:k]] = True
    return out


# ---------------------------------------------------------------------------------------------------------- metrics


def auroc_auprc(scores: ArrayLike, labels: ArrayLike) -> tuple[float, float]:
    """(AUROC, AUPRC = average precision) with sklearn; NaN when the labels have one class only."""
    s, y = np.asarray(scores, dtype=float).ravel(), np.asarray(labels, dtype=bool).ravel()
    if s.shape != y.shape:
        raise ValueError(f"{s.size} scores but {y.size} labels")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or infinite values")
    if y.all() or not y.any():
        return math.nan, math.nan
    return float(roc_auc_score(y, s)), float(average_precision_score(y, s))


def recovery_table(
    scores: Mapping[str, ArrayLike], truths: Mapping[str, ArrayLike], mask: ArrayLike | None = None
) -> pd.DataFrame:
    """One row per (method, truth) of the same shape: method, target, auroc, auprc, n_pos, n_neg.

    Square matrices are scored without their diagonal; `mask` (broadcastable to the shape) limits the entries
    scored, e.g. to drop the perturbed gene itself from a per-gene vector. A method that fits no truth is an error.
    """
    rows = []
    for method, s in scores.items():
        s = np.asarray(s, dtype=float)
        matched = False
        for target, t in truths.items():
            t = np.asarray(t, dtype=bool)
            if t.shape != s.shape:
                continue
            matched = True
            keep = np.ones(s.shape, dtype=bool)
            if s.ndim == 2 and s.shape[0] == s.shape[1]:
                keep &= ~np.eye(s.shape[0], dtype=bool)
            if mask is not None:
                keep &= np.broadcast_to(np.asarray(mask, dtype=bool), s.shape)
            auroc, auprc = auroc_auprc(s[keep], t[keep])
            n_pos = int(t[keep].sum())
            rows.append(
                {
                    "method": method,
                    "target": target,
                    "auroc": auroc,
                    "auprc": auprc,
                    "n_pos": n_pos,
                    "n_neg": int(keep.sum()) - n_pos,
                }
            )
        if not matched:
            shapes = {k: np.shape(v) for k, v in truths.items()}
            raise ValueError(f"score {method!r} has shape {s.shape}, which matches no truth {shapes}")
    return pd.DataFrame(rows, columns=["method", "target", "auroc", "auprc", "n_pos", "n_neg"])


def _square(a: ArrayLike) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        _bad_shape("matrix", a.shape, "[G, G]")
    return a


def _bad_shape(name: str, shape: tuple, want: str):
    raise ValueError(f"{name} has shape {tuple(shape)}, expected {want}")
