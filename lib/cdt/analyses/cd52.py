"""CD52 / Alemtuzumab analyses behind notebook 06_cd52_side_effects (CDT-III Figs 4A-C, 6, Tables 3, 8, 10).

- direct prediction of the CD52 knockdown: pseudo-bulk RNA and protein predicted vs measured (Fig 4A/B), with a
  control that hides the measured proteins from the model (the protein input is also the target, paper/METHODS.md, 'CD52
  direct prediction');
- detectable protein changes (|measured| > 0.1 DSB) and their direction agreement (Fig 4C);
- d protein / d RNA(CD52) from the NTC-mean input and from the first perturbed cells (Tables 8, 10), each with the
  code's label (positive gradient -> "up") beside the first-order direction after knockdown
  (delta protein ~ gradient x delta RNA(CD52), and the knockdown lowers RNA(CD52));
- known Alemtuzumab side effects vs predicted changes of their linked proteins, by an explicit numeric rule (Table 3);
- mRNA vs protein direction for genes measured at both levels (Fig 6);
- on simulated data, the predictions against the planted protein wiring (truth/protein_wiring.csv).

Predictions come from `cdt.evaluate`, overlap tests from `cdt.stats`; the gradient column is a forward-mode JVP
(cheaper than the full Jacobian of `cdt.gradients` when one input gene is wanted).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import scipy.stats
import sklearn.metrics
from torch import nn

from cdt.analyses import Findings
from cdt.data.dnastore import DNAStore
from cdt.data.errors import ContractError, require_columns
from cdt.data.screen import TARGET_LAYER, dense
from cdt.evaluate import (
    ntc_mean_protein,
    pearson,
    predict,
    resolve_screen,
    select_cells,
    self_knockdown_r,
)
from cdt.gradients import protein_gradient_column
from cdt.published import CDT3_CD52, CDT3_TABLE8
from cdt.stats import Overlap, set_overlap

__all__ = [
    "CLINICAL_GENES",
    "ADT_GENES",
    "DETECTABLE",
    "SIDE_EFFECT_COLUMNS",
    "protein_genes",
    "KnockdownPrediction",
    "knockdown_prediction",
    "detectable_changes",
    "ProteinGradients",
    "input_change",
    "protein_gradients",
    "gradient_concordance",
    "gradient_table",
    "read_side_effects",
    "side_effect_table",
    "side_effects_file",
    "mrna_protein_divergence",
    "planted_links",
    "truth_comparison",
    "side_effect_truth",
    "first_n_note",
    "adt_mapping_file",
    "readiness",
    "knockdown_findings",
    "detectable_findings",
    "concordance_findings",
    "gradient_top_findings",
    "side_effect_findings",
    "divergence_findings",
    "wiring_findings",
]

CLINICAL_GENES: tuple[str, ...] = ("TFRC", "CD81", "MCAM", "CD58", "ICAM1", "FCGR2A", "TNFRSF13C", "CD40")
"""Proteins the authors colour as clinically relevant in Fig 4C."""

ADT_GENES: dict[str, str] = {
    "ADT-0033": "CD52",
    "ADT-0394": "TFRC",
    "ADT-0142": "FCGR2A",
    "ADT-0134": "MCAM",
    "ADT-0217": "ICAM1",
    "ADT-0174": "CD58",
    "ADT-0373": "CD81",
    "ADT-0369": "ITGB1",
    "ADT-0215": "TNFRSF13C",
    "ADT-0031": "CD40",
    "ADT-0057": "B2M",
    "ADT-1052": "GGT1",
}
"""The ADT ID -> gene symbols taken from the authors' 189-entry map (paper/METHODS.md, 'ADT to gene map'): every protein
the side-effect table links, but not the whole panel. A full map can be given as a CSV (`protein_genes`)."""

DETECTABLE = 0.1  # DSB units: |measured pseudo-bulk change| above this is "detectable" (CDT-III Fig 4C)
SIDE_EFFECT_COLUMNS = ("side_effect", "incidence", "linked_genes", "linked_direction")


def _sign_label(x: float) -> str:
    return "up" if x > 0 else "down" if x < 0 else "none"


# --- protein names -> gene symbols ------------------------------------------------------------------------------------


def protein_genes(screen: ad.AnnData, mapping: str | os.PathLike | Mapping[str, str] | None = None) -> pd.Series:
    """[P] gene symbol of each protein (index = protein name; NaN where unknown).

    Order of precedence: `mapping` (a dict, or a CSV with columns morris_adt_id + gene_symbol, or protein + gene),
    then `ADT_GENES` for the authors' ADT IDs; a name that is not an ADT ID is taken as its own symbol (simulated
    panels are named by gene).
    """
    names = np.asarray(screen.uns["protein_names"], dtype=str)
    table: dict[str, str] = {}
    if isinstance(mapping, (str, os.PathLike)):
        df = pd.read_csv(mapping)
        for key, val in (("morris_adt_id", "gene_symbol"), ("protein", "gene")):
            if {key, val} <= set(df.columns):
                table = dict(zip(df[key].astype(str), df[val].astype(str), strict=True))
                break
        else:
            raise ContractError(
                str(mapping), "columns", f"need morris_adt_id + gene_symbol or protein + gene, found {list(df.columns)}"
            )
    elif mapping is not None:
        table = dict(mapping)
    genes = [table.get(n, ADT_GENES.get(n, np.nan if n.startswith("ADT-") else n)) for n in names]
    return pd.Series(genes, index=pd.Index(names, name="protein"), name="gene", dtype=object)


# --- direct prediction (Fig 4A/B) -------------------------------------------------------------------------------------


@dataclass
class KnockdownPrediction:
    """Cell-mean predicted vs measured profiles of one perturbation's cells."""

    perturbation: str
    cells: np.ndarray  # [N] obs names
    rna: pd.DataFrame  # per gene: gene, actual, predicted (mean log2FC)
    protein: pd.DataFrame  # per protein: protein, gene, expressed, actual, predicted (mean DSB change)
    scores: dict[str, float]
    protein_input: str  # "measured" (the paper) or "ntc_mean" (control)


def knockdown_prediction(
    model: nn.Module | Any,
    screen: ad.AnnData | str | os.PathLike,
    dna: DNAStore | str | os.PathLike,
    perturbation: str = "CD52",
    genes: pd.Series | None = None,
    protein_input: str = "measured",
    batch_size: int = 64,
) -> KnockdownPrediction:
    """CDT-III on every cell of `perturbation` (all splits), pseudo-bulk scores (paper/METHODS.md, 'CD52 direct
    prediction').

    protein_input="ntc_mean" replaces each cell's measured proteins by the NTC-mean protein level, so the protein
    prediction can only come from DNA + RNA (the measured proteins are otherwise both input and target).
    """
    screen = resolve_screen(screen)
    if protein_input not in ("measured", "ntc_mean"):
        raise ValueError(f"protein_input must be 'measured' or 'ntc_mean', got {protein_input!r}")
    rows = select_cells(screen, perturbation, splits=None)
    sub = screen[rows].copy()
    if protein_input == "ntc_mean":
        sub.obsm["protein"] = np.tile(ntc_mean_protein(screen).astype(np.float32), (sub.n_obs, 1))
    pred = predict(model, sub, dna, np.arange(sub.n_obs), batch_size)
    if pred.protein is None:
        raise TypeError(f"the CD52 analysis needs a CDT-III model (protein outputs); got {pred.meta['model']}")
    actual = dense(sub.layers[TARGET_LAYER], dtype=np.float64)  # [N, G]
    gene_names = screen.var_names.to_numpy(dtype=str)
    rna = pd.DataFrame({"gene": gene_names, "actual": actual.mean(0), "predicted": pred.rna.mean(0)})
    names = np.asarray(screen.uns["protein_names"], dtype=str)
    expressed = np.asarray(screen.uns["protein_expressed"], dtype=bool)
    genes = protein_genes(screen) if genes is None else genes
    protein = pd.DataFrame(
        {
            "protein": names,
            "gene": genes.reindex(names).to_numpy(),
            "expressed": expressed,
            "actual": dense(sub.obsm["protein_target"], dtype=np.float64).mean(0),
            "predicted": pred.protein.astype(np.float64).mean(0),
        }
    )
    e = protein[protein["expressed"]]
    scores = {
        "n_cells": len(rows),
        "n_genes": len(rna),
        "n_expressed": int(expressed.sum()),
        "rna_r": pearson(rna["predicted"], rna["actual"]),
        "rna_rho": float(scipy.stats.spearmanr(rna["predicted"], rna["actual"]).statistic),
        "protein_r": pearson(e["predicted"], e["actual"]) if len(e) >= 2 else np.nan,
        "protein_r_all": pearson(protein["predicted"], protein["actual"]),
    }
    if perturbation in set(gene_names):
        groups = np.full(len(rows), perturbation)
        scores["self_kd_r"] = float(self_knockdown_r(pred.rna, actual, groups, gene_names).get(perturbation, np.nan))
        own = rna.set_index("gene").loc[perturbation]
        scores["self_predicted"], scores["self_actual"] = float(own["predicted"]), float(own["actual"])
    return KnockdownPrediction(
        perturbation=perturbation,
        cells=sub.obs_names.to_numpy(dtype=str),
        rna=rna,
        protein=protein,
        scores=scores,
        protein_input=protein_input,
    )


# --- detectable changes (Fig 4C) --------------------------------------------------------------------------------------


def detectable_changes(protein: pd.DataFrame, threshold: float = DETECTABLE) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Expressed proteins with |measured change| > threshold, largest first, and their direction agreement.

    Agreement: predicted and measured have the same strict sign (a zero prediction counts as a mismatch).
    `n_agree_constant`: the agreement of a constant prediction with the majority sign (e.g. "every protein rises"),
    the reference the count should beat.
    """
    d = protein[protein["expressed"] & (protein["actual"].abs() > threshold)].copy()
    d = d.iloc[np.argsort(-d["actual"].abs().to_numpy(), kind="stable")].reset_index(drop=True)
    d["agree"] = np.sign(d["actual"]) == np.sign(d["predicted"])
    d["clinical"] = d["gene"].isin(CLINICAL_GENES)
    summary = {
        "threshold": threshold,
        "n_expressed": int(protein["expressed"].sum()),
        "n_detectable": len(d),
        "n_agree": int(d["agree"].sum()),
        "n_up": int((d["actual"] > 0).sum()),
        "n_agree_constant": int(max((d["actual"] > 0).sum(), (d["actual"] < 0).sum())),
        "fraction_agree": float(d["agree"].mean()) if len(d) else np.nan,
    }
    return d, summary


# --- gradients (Tables 8, 10) -----------------------------------------------------------------------------------------


@dataclass
class ProteinGradients:
    """d protein_j / d RNA(gene) for every protein, from the NTC-mean input and from perturbed cells."""

    gene: str
    perturbation: str
    ntc_mean: pd.Series  # [P] one forward pass at the NTC-mean RNA and protein, DNA of the perturbation's locus
    cells: pd.Series  # [P] mean over the first `n_cells` cells of the perturbation (file order)
    n_cells: int
    n_cells_total: int
    delta_x: float  # mean input change of `gene` in the perturbation's cells vs the NTC mean, ln(CPM+1)
    meta: dict = field(default_factory=dict)


def input_change(screen: ad.AnnData, perturbation: str, gene: str) -> float:
    """Mean input ln(CPM+1) of `gene` over the perturbation's cells minus the NTC-mean input (negative for CRISPRi)."""
    rows = select_cells(screen, perturbation, splits=None)
    j = screen.var_names.get_loc(gene)
    return float(dense(screen.X[rows][:, [j]], dtype=np.float64).mean() - float(screen.var["ntc_mean_expr"].iloc[j]))


def protein_gradients(
    model: nn.Module | Any,
    screen: ad.AnnData | str | os.PathLike,
    dna: DNAStore | str | os.PathLike,
    perturbation: str = "CD52",
    gene: str | None = None,
    first_n: int | None = 30,
    batch_size: int = 32,
) -> ProteinGradients:
    """The two gradient vectors of CDT-III Table 10 (paper/METHODS.md, 'CD52 gradients'; raw gradients, eval mode, no
    normalisation).

    first_n: the authors use the first 30 cells of the perturbation in file order; None uses all of them.
    """
    screen = resolve_screen(screen)
    gene = gene or perturbation
    if gene not in set(screen.var_names):
        raise ValueError(f"{gene!r} is not an input gene of the screen: no gradient with respect to its RNA")
    ntc, _ = protein_gradient_column(model, screen, dna, gene, perturbation, at="ntc_mean")
    cells, n = protein_gradient_column(model, screen, dna, gene, perturbation, first_n=first_n, batch_size=batch_size)
    return ProteinGradients(
        gene=gene,
        perturbation=perturbation,
        ntc_mean=ntc.rename("ntc_mean"),
        cells=cells.rename("cells"),
        n_cells=n,
        n_cells_total=len(select_cells(screen, perturbation, splits=None)),
        delta_x=input_change(screen, perturbation, gene),
        meta={"first_n": first_n},
    )


def _concordance(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    same = np.sign(a) == np.sign(b)
    return {
        "n": len(a),
        "r": float(scipy.stats.pearsonr(a, b).statistic),
        "rho": float(scipy.stats.spearmanr(a, b).statistic),
        "n_same_direction": int(same.sum()),
        "fraction_same_direction": float(same.mean()),
    }


def gradient_concordance(grads: ProteinGradients, expressed: np.ndarray, top: int = 20) -> pd.DataFrame:
    """Table 10: NTC-mean vs perturbed-cell gradients over all proteins, the expressed ones and the top-`top` by
    |NTC-mean gradient| (Pearson, Spearman, direction agreement)."""
    a, b = grads.ntc_mean.to_numpy(), grads.cells.to_numpy()
    expressed = np.asarray(expressed, dtype=bool)
    top_idx = np.argsort(-np.abs(a), kind="stable")[:top]
    rows = {
        "all": _concordance(a, b),
        "expressed": _concordance(a[expressed], b[expressed]),
        f"top{top}": _concordance(a[top_idx], b[top_idx]),
    }
    return pd.DataFrame(rows).T.rename_axis("proteins").reset_index()


def gradient_table(
    grads: ProteinGradients,
    prediction: KnockdownPrediction,
    source: str = "ntc_mean",
    n: int = 20,
    published: pd.Series = CDT3_TABLE8,
) -> pd.DataFrame:
    """Table 8: the top-n proteins by |gradient| of `source` ("ntc_mean" as the paper states, or "cells" as the
    authors' saved CSV), with the code's label and the first-order direction after knockdown.

    code_label: "up" if gradient >= 0 (the authors' rule). first_order_change = gradient x delta_x, where delta_x
    is the measured input change of the gene (negative after knockdown), so a positive gradient predicts a decrease.
    """
    if source not in ("ntc_mean", "cells"):
        raise ValueError(f"source must be 'ntc_mean' or 'cells', got {source!r}")
    g = grads.ntc_mean if source == "ntc_mean" else grads.cells
    other = grads.cells if source == "ntc_mean" else grads.ntc_mean
    p = prediction.protein.set_index("protein")
    order = np.argsort(-np.abs(g.to_numpy()), kind="stable")[:n]
    names = g.index.to_numpy()[order]
    t = pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "protein": names,
            "gene": p.loc[names, "gene"].to_numpy(),
            "gradient": g.to_numpy()[order],
            f"gradient_{'cells' if source == 'ntc_mean' else 'ntc_mean'}": other.reindex(names).to_numpy(),
            "expressed": p.loc[names, "expressed"].to_numpy(),
        }
    )
    t["code_label"] = np.where(t["gradient"] >= 0, "up", "down")
    t["first_order_change"] = t["gradient"] * grads.delta_x
    t["first_order_direction"] = [_sign_label(v) for v in t["first_order_change"]]
    t["predicted_change"] = p.loc[names, "predicted"].to_numpy()
    t["measured_change"] = p.loc[names, "actual"].to_numpy()
    t["published_gradient"] = t["gene"].map(published)
    return t


# --- side-effect table (Table 3) --------------------------------------------------------------------------------------


def read_side_effects(path: str | os.PathLike) -> pd.DataFrame:
    """The side-effect fact table: side_effect, incidence, linked_genes and linked_direction (';'-separated, one
    direction per linked gene; both empty for a side effect without a linked protein)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    require_columns(df, SIDE_EFFECT_COLUMNS, str(path))
    for i, row in df.iterrows():
        genes, dirs = _split(row["linked_genes"]), _split(row["linked_direction"])
        if len(genes) != len(dirs):
            raise ContractError(
                str(path),
                f"row {i + 2} ({row['side_effect']})",
                f"{len(genes)} linked genes but {len(dirs)} directions",
            )
        bad = [d for d in dirs if d not in ("up", "down")]
        if bad:
            raise ContractError(str(path), f"row {i + 2} linked_direction", f"{bad} are not 'up'/'down'")
    return df


def _split(value: str) -> list[str]:
    return [v.strip() for v in str(value).split(";") if v.strip()]


def side_effect_table(
    effects: pd.DataFrame, protein: pd.DataFrame, grads: ProteinGradients | None = None, min_abs: float = DETECTABLE
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Known side effects vs the predicted change of their linked proteins (Table 3), by a numeric rule.

    Recapitulated: at least one linked protein in the panel whose predicted pseudo-bulk change (direct prediction)
    has the listed direction (strict sign). Stricter variants beside it: the change also exceeds `min_abs`
    (`recapitulated_detectable`), and the first-order gradient direction (`recapitulated_gradient`). A side effect
    without a linked protein, or whose proteins are not on the panel, is not recapitulated.
    """
    p = protein.dropna(subset=["gene"]).drop_duplicates("gene").set_index("gene")
    first_order = None
    if grads is not None:
        by_gene = protein.set_index("protein")["gene"]
        first_order = (grads.ntc_mean * grads.delta_x).groupby(by_gene.reindex(grads.ntc_mean.index)).first()
    out = []
    for _, row in effects.iterrows():
        genes, dirs = _split(row["linked_genes"]), _split(row["linked_direction"])
        detail, hit, hit_strict, hit_grad = [], [], [], []
        for g, d in zip(genes, dirs, strict=True):
            if g not in p.index:
                detail.append(f"{g} {d}: not on the panel")
                continue
            pred = float(p.loc[g, "predicted"])
            want = 1 if d == "up" else -1
            ok = np.sign(pred) == want
            hit += [g] if ok else []
            hit_strict += [g] if ok and abs(pred) > min_abs else []
            if first_order is not None and g in first_order.index:
                hit_grad += [g] if np.sign(first_order[g]) == want else []
            detail.append(f"{g} {d}: predicted {pred:+.3f}, measured {float(p.loc[g, 'actual']):+.3f}")
        out.append(
            {
                "side_effect": row["side_effect"],
                "incidence": row["incidence"],
                "linked": "; ".join(f"{g} {d}" for g, d in zip(genes, dirs, strict=True)) or "none",
                "predicted": "; ".join(detail) or "—",
                "matching_proteins": ", ".join(hit),
                "recapitulated": bool(hit),
                "recapitulated_detectable": bool(hit_strict),
                "recapitulated_gradient": bool(hit_grad) if first_order is not None else np.nan,
            }
        )
    t = pd.DataFrame(out)
    summary = {
        "n_side_effects": len(t),
        "n_linked": int((t["linked"] != "none").sum()),
        "n_recapitulated": int(t["recapitulated"].sum()),
        "n_recapitulated_detectable": int(t["recapitulated_detectable"].sum()),
        "min_abs": min_abs,
        "n_recapitulated_gradient": int(t["recapitulated_gradient"].sum()) if first_order is not None else None,
    }
    return t, summary


def side_effects_file(paths: Any, synthetic: bool, repo_root: str | os.PathLike) -> Path:
    """The simulator's table on synthetic data; the curated fact table data/alemtuzumab_side_effects.csv on real."""
    if synthetic:
        if not paths.side_effects:
            raise FileNotFoundError("the simulated data have no external/side_effects.csv")
        return Path(paths.side_effects)
    return Path(repo_root) / "data" / "alemtuzumab_side_effects.csv"


# --- mRNA vs protein (Fig 6) ------------------------------------------------------------------------------------------


def mrna_protein_divergence(prediction: KnockdownPrediction) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Expressed proteins whose gene is also an RNA feature (the perturbed gene excluded): measured mRNA log2FC vs
    measured protein change, opposite directions, and whether CDT-III predicts each level's measured direction."""
    p = prediction.protein
    rna = prediction.rna.set_index("gene")
    both = p[p["expressed"] & p["gene"].isin(rna.index) & (p["gene"] != prediction.perturbation)]
    both = both.drop_duplicates("gene")
    t = pd.DataFrame(
        {
            "gene": both["gene"].to_numpy(),
            "protein": both["protein"].to_numpy(),
            "mrna_measured": rna.loc[both["gene"], "actual"].to_numpy(),
            "protein_measured": both["actual"].to_numpy(),
            "mrna_predicted": rna.loc[both["gene"], "predicted"].to_numpy(),
            "protein_predicted": both["predicted"].to_numpy(),
        }
    )
    t["opposite_measured"] = np.sign(t["mrna_measured"]) != np.sign(t["protein_measured"])
    t["mrna_direction_correct"] = np.sign(t["mrna_predicted"]) == np.sign(t["mrna_measured"])
    t["protein_direction_correct"] = np.sign(t["protein_predicted"]) == np.sign(t["protein_measured"])
    t["both_correct"] = t["mrna_direction_correct"] & t["protein_direction_correct"]
    t["opposite_predicted"] = np.sign(t["mrna_predicted"]) != np.sign(t["protein_predicted"])
    t = t.sort_values("protein_measured", ascending=False, kind="stable").reset_index(drop=True)
    opp = t[t["opposite_measured"]]
    summary = {
        "n_both_levels": len(t),
        "n_opposite": int(t["opposite_measured"].sum()),
        "n_both_correct": int(t["both_correct"].sum()),
        "n_opposite_both_correct": int(opp["both_correct"].sum()),
        "n_opposite_predicted": int(t["opposite_predicted"].sum()),
        "n_mrna_correct": int(t["mrna_direction_correct"].sum()),
        "n_protein_correct": int(t["protein_direction_correct"].sum()),
    }
    return t, summary


# --- simulated truth --------------------------------------------------------------------------------------------------


def planted_links(truth_dir: str | os.PathLike, hub: str = "CD52") -> pd.Series:
    """[proteins] first-order planted effect of RNA(hub) on each protein, d log protein / d log RNA(hub): the direct
    link hub -> protein of truth/protein_wiring.csv (protein, gene, weight; incl. the hub's own protein) plus, via
    the protein's own mRNA, own weight x the RNA edge hub -> gene of truth/network_edges.csv (source, target,
    weight). Longer RNA paths are left out. Negative = the protein rises when the hub is knocked down."""
    path = Path(truth_dir) / "protein_wiring.csv"
    w = pd.read_csv(path)
    require_columns(w, ("gene", "protein", "weight"), str(path))
    direct = w[w["gene"] == hub].groupby("protein")["weight"].sum()
    own = w[w["protein"] == w["gene"]].set_index("protein")["weight"]
    edges_path = Path(truth_dir) / "network_edges.csv"
    edges = pd.read_csv(edges_path)
    require_columns(edges, ("source", "target", "weight"), str(edges_path))
    rna = edges[edges["source"] == hub].groupby("target")["weight"].sum()
    via_mrna = (own.drop(hub, errors="ignore") * rna).dropna()
    total = direct.add(via_mrna, fill_value=0.0)
    return total[total != 0].rename("weight").rename_axis("protein")


def truth_comparison(
    prediction: KnockdownPrediction,
    links: pd.Series,
    grads: ProteinGradients | None = None,
    threshold: float = DETECTABLE,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per expressed protein: planted effect of the hub (`planted_links`), measured and predicted change, gradients;
    and how well the predicted side-effect proteins (|predicted change| > threshold) and the gradients recover it.

    Expected signs: after knockdown a linked protein moves by -sign(weight); d protein / d RNA(hub) has sign(weight).
    """
    p = prediction.protein[prediction.protein["expressed"]].set_index("protein")
    t = pd.DataFrame(
        {
            "gene": p["gene"],
            "planted_weight": links.reindex(p.index).fillna(0.0),
            "measured": p["actual"],
            "predicted": p["predicted"],
        }
    )
    t["planted"] = t["planted_weight"] != 0
    t["planted_direction"] = [_sign_label(-w) for w in t["planted_weight"]]
    t["predicted_side_effect"] = t["predicted"].abs() > threshold
    linked = t[t["planted"]]
    found = set(t.index[t["predicted_side_effect"]])
    shared = len(found & set(linked.index))
    ov: Overlap | None = set_overlap(found, set(linked.index), set(t.index)) if found and len(linked) else None
    summary: dict[str, Any] = {
        "n_expressed": len(t),
        "n_planted": len(linked),
        "n_predicted": len(found),
        "n_shared": shared,
        "precision": shared / len(found) if found else np.nan,
        "recall": shared / len(linked) if len(linked) else np.nan,
        "overlap_fold": ov.fold if ov else np.nan,
        "overlap_p": ov.p_value if ov else np.nan,
        "n_planted_direction_predicted": int(
            (np.sign(linked["predicted"]) == -np.sign(linked["planted_weight"])).sum()
        ),
        "n_planted_direction_measured": int((np.sign(linked["measured"]) == -np.sign(linked["planted_weight"])).sum()),
    }
    if grads is not None:
        for key, g in (("ntc_mean", grads.ntc_mean), ("cells", grads.cells)):
            t[f"gradient_{key}"] = g.reindex(t.index)
            lg = t.loc[t["planted"], f"gradient_{key}"]
            summary[f"gradient_{key}_sign_matches_weight"] = int(
                (np.sign(lg) == np.sign(linked["planted_weight"])).sum()
            )
            # chance: gradient signs drawn with their frequencies among the expressed proteins without a planted effect
            other = np.sign(t.loc[~t["planted"], f"gradient_{key}"])
            summary[f"gradient_{key}_sign_matches_chance"] = (
                float(sum((other == np.sign(w)).mean() for w in linked["planted_weight"])) if len(other) else np.nan
            )
            both = t["planted"].any() and not t["planted"].all()
            summary[f"gradient_{key}_auroc"] = (
                float(sklearn.metrics.roc_auc_score(t["planted"], t[f"gradient_{key}"].abs())) if both else np.nan
            )
    t = t.reset_index().sort_values(["planted", "predicted"], ascending=[False, False], kind="stable")
    return t.reset_index(drop=True), summary


def side_effect_truth(effects: pd.DataFrame, links: pd.Series) -> pd.DataFrame:
    """For each linked protein of the side-effect table: its planted hub weight and the direction that implies."""
    rows = []
    for _, row in effects.iterrows():
        for g, d in zip(_split(row["linked_genes"]), _split(row["linked_direction"]), strict=True):
            w = float(links.get(g, 0.0))
            rows.append(
                {
                    "side_effect": row["side_effect"],
                    "gene": g,
                    "listed_direction": d,
                    "planted_weight": w,
                    "planted_direction": _sign_label(-w),
                    "planted_matches_listed": _sign_label(-w) == d,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "side_effect",
            "gene",
            "listed_direction",
            "planted_weight",
            "planted_direction",
            "planted_matches_listed",
        ],
    )


def first_n_note(grads: ProteinGradients, first_n: int | None) -> str:
    """How the perturbed-cell gradient's cell choice reads on this data (the authors' first-30 rule)."""
    rule = "all cells" if first_n is None else f"the first {first_n} cells in file order (the authors' rule)"
    return f"{rule}: {grads.n_cells} of the {grads.n_cells_total} {grads.perturbation} cells"


# --- narrative and headline rows of notebook 06 -----------------------------------------------------------------------

_PUB = CDT3_CD52


def adt_mapping_file(data_dir: str | os.PathLike | None, repo_root: str | os.PathLike) -> Path:
    """ADT ID -> gene symbol table: the user's adt_mapping.csv beside the data if there is one, else the project's
    189-entry table data/adt_gene_symbols.csv."""
    user = Path(data_dir) / "adt_mapping.csv" if data_dir else None
    return user if user is not None and user.exists() else Path(repo_root) / "data/adt_gene_symbols.csv"


def readiness(
    screen: ad.AnnData,
    run: Any,
    genes: pd.Series | None,
    *,
    source_label: str,
    protocol: str,
    perturbation: str = "CD52",
) -> tuple[bool, str]:
    """Whether the CD52 analyses can run (CDT-III weights, proteins, the perturbation's cells) and the opening line
    saying what they run on, or why every section is skipped."""
    has_proteins = "protein_names" in screen.uns
    if not has_proteins:
        why = "the screen has no proteins (on real data: morris_celllevel_effects_with_adt.h5 is missing)"
    elif run is None:
        why = "no CDT-III weights"
    elif perturbation not in set(screen.obs["perturbation"].astype(str)):
        why = f"no {perturbation} cells in the screen"
    else:
        return True, (
            f"Data: **{source_label}**, protocol **{protocol}**, CDT-III run `{run.run_dir.name}`. "
            f"{genes.notna().sum()} of {len(genes)} proteins have a known gene symbol."
        )
    return False, f"**Skipped:** {why}; every section below is skipped."


def knockdown_findings(prediction: KnockdownPrediction, control: KnockdownPrediction) -> Findings:
    """Fig 4A/B headline rows and sentences: pseudo-bulk RNA and protein r, CD52's own knockdown, and the protein r
    with the measured proteins hidden (`control`, protein_input="ntc_mean")."""
    s, sc = prediction.scores, control.scores
    f = Findings()
    f.add(
        ("CDT-III", "Fig 4A", "CD52 pseudo-bulk RNA r"),
        s["rna_r"],
        "cdt3_fig4a_cd52_rna.png",
        f"{s['n_genes']} genes, {s['n_cells']} cells (published {_PUB['n_genes']:,} genes, {_PUB['n_cells']} cells)",
    )
    f.add(
        ("CDT-III", "Fig 4B", "CD52 pseudo-bulk protein r, expressed proteins"),
        s["protein_r"],
        "cdt3_fig4b_cd52_protein.png",
        f"{s['n_expressed']} expressed (published {_PUB['n_expressed']})",
    )
    f.add(
        ("CDT-III", "Fig 4B", "same, protein input = NTC mean (control)"),
        sc["protein_r"],
        "cdt3_fig4b_cd52_protein.png",
        "measured proteins hidden from the model",
    )
    self_kd = ""
    if "self_kd_r" in s:
        own = f"{s['self_predicted']:+.3f} vs actual {s['self_actual']:+.3f}"
        pub_own = f"{_PUB['self_predicted']} vs {_PUB['self_actual']}"
        f.add(
            ("CDT-III", "text", "CD52 self-knockdown r across cells"),
            s["self_kd_r"],
            "cdt3_fig4a_cd52_rna.png",
            f"mean predicted {own} (published {pub_own})",
        )
        self_kd = (
            f" CD52's own log2FC: predicted {own} (cell-level r = {s['self_kd_r']:.3f}; published "
            f"{_PUB['self_kd_r']}, {pub_own.replace('-', '−')})."
        )
    f.text = f"""
Over {s["n_cells"]} CD52 cells: RNA pseudo-bulk r = **{s["rna_r"]:.3f}** over {s["n_genes"]} genes (published {_PUB["rna_r"]}),
protein r = **{s["protein_r"]:.3f}** over {s["n_expressed"]} expressed proteins (published {_PUB["protein_r"]}).{self_kd}
With the measured proteins hidden (NTC-mean protein input) the protein r is **{sc["protein_r"]:.3f}**; the difference
between the two is what the measured protein input, rather than DNA + RNA, contributes.
"""
    return f


def detectable_findings(summary: Mapping[str, Any], control: Mapping[str, Any]) -> Findings:
    """Fig 4C headline rows and sentences from two `detectable_changes` summaries (measured protein input and the
    NTC-mean protein control), with the constant majority-sign prediction as the reference."""
    ds, dc = summary, control
    pub = f"{_PUB['n_agree']}/{_PUB['n_detectable']}"
    f = Findings()
    file = "cdt3_fig4c_side_effect_map"
    f.add(
        ("CDT-III", "Fig 4C", "detectable proteins (|measured change| > 0.1)"),
        ds["n_detectable"],
        f"{file}.png",
        f"of {ds['n_expressed']} expressed (published {_PUB['n_expressed']})",
    )
    f.add(
        ("CDT-III", "Fig 4C", "direction agreement (count)"),
        ds["n_agree"],
        f"{file}.png",
        f"of {ds['n_detectable']} detectable (published {pub})",
    )
    f.add(
        ("CDT-III", "Fig 4C", "direction agreement, protein input = NTC mean"),
        dc["n_agree"],
        f"{file}.csv",
        f"of {dc['n_detectable']} detectable; control",
    )
    f.add(
        ("CDT-III", "Fig 4C", "direction agreement of a constant majority-sign prediction"),
        ds["n_agree_constant"],
        f"{file}.csv",
        f"of {ds['n_detectable']}; published: all {_PUB['n_detectable']} rise, so 'every protein rises' also scores "
        f"{pub}",
    )
    f.text = f"""
{ds["n_detectable"]} of {ds["n_expressed"]} expressed proteins change detectably ({ds["n_up"]} up; published {_PUB["n_detectable"]} of {_PUB["n_expressed"]},
all up). The prediction has the measured direction for **{ds["n_agree"]}/{ds["n_detectable"]}** (published {pub}).
Two references: predicting the majority sign for every protein scores {ds["n_agree_constant"]}/{ds["n_detectable"]}
(on the published data, where all {_PUB["n_detectable"]} rise, {pub}), and with the measured proteins hidden from the model the
agreement is {dc["n_agree"]}/{dc["n_detectable"]}.
"""
    return f


def concordance_findings(concordance: pd.DataFrame, grads: ProteinGradients, *, first_n: int | None) -> Findings:
    """Table 10 headline rows and sentences from `gradient_concordance` (r, Spearman and same direction over all and
    over the expressed proteins, same direction over the top 20)."""
    c = concordance.set_index("proteins")
    cells_note = first_n_note(grads, first_n)
    file = "cdt3_table10_gradient_concordance.png"
    f = Findings()
    for key, label in (("all", "all proteins"), ("expressed", "expressed proteins")):
        f.add(
            ("CDT-III", "Table 10", f"gradient r NTC-mean vs cells, {label}"), float(c.loc[key, "r"]), file, cells_note
        )
        f.add(("CDT-III", "Table 10", f"gradient Spearman, {label}"), float(c.loc[key, "rho"]), file)
        f.add(
            ("CDT-III", "Table 10", f"gradient same direction, {label}"),
            float(c.loc[key, "fraction_same_direction"]),
            file,
            f"{int(c.loc[key, 'n_same_direction'])}/{int(c.loc[key, 'n'])}",
        )
    f.add(
        ("CDT-III", "Table 10", "same direction, top 20 by |NTC-mean gradient|"),
        float(c.loc["top20", "fraction_same_direction"]),
        file,
    )
    n_pub = {k: _PUB["n_expressed"] if k == "expressed" else _PUB["n_proteins"] for k in ("all", "expressed")}
    same_pub = {k: f"{round(_PUB[f'grad_direction_{k}'] * n_pub[k])}/{n_pub[k]}" for k in n_pub}
    f.text = f"""
Perturbed-cell gradients use {cells_note}. Over the {int(c.loc["expressed", "n"])} expressed proteins the two
versions correlate at r = **{c.loc["expressed", "r"]:.3f}** (published {_PUB["grad_r_expressed"]}) with
{int(c.loc["expressed", "n_same_direction"])}/{int(c.loc["expressed", "n"])} of the same sign (published {same_pub["expressed"]}); over
all {int(c.loc["all", "n"])} proteins r = {c.loc["all", "r"]:.3f} (published {_PUB["grad_r_all"]}), same sign
{int(c.loc["all", "n_same_direction"])}/{int(c.loc["all", "n"])} (published {same_pub["all"]}).
"""
    return f


def gradient_top_findings(table: pd.DataFrame, grads: ProteinGradients) -> Findings:
    """Table 8 headline rows and sentences from `gradient_table` (NTC-mean input): the top protein, FCGR2A's
    gradient, rows whose code label and first-order direction disagree, published top-20 proteins found again."""
    file = "cdt3_table8_gradient_top20.csv"
    top = table.iloc[0]
    n_flip = int((table["code_label"] != table["first_order_direction"]).sum())
    shared_pub = int(table["published_gradient"].notna().sum())
    fc = table.set_index("gene")["gradient"].get("FCGR2A")
    f = Findings()
    f.add(
        ("CDT-III", "Table 8", "top protein by |gradient| (NTC-mean input)"),
        f"{top['protein']} {top['gradient']:+.3g}",
        file,
    )
    if fc is not None:
        f.add(("CDT-III", "Table 8", "FCGR2A gradient (in the top 20)"), float(fc), file)
    f.add(
        ("CDT-III", "Table 8", "top-20 rows whose code label differs from the first-order direction"),
        n_flip,
        file,
        f"delta RNA(CD52) = {grads.delta_x:+.3f} ln(CPM+1); first-order caution",
    )
    f.add(("CDT-III", "Table 8", "published top-20 proteins also in this top 20"), shared_pub, file, "by gene symbol")
    why = "every row, because the knockdown lowers the input" if n_flip == len(table) else "see the table"
    f.text = f"""
The CD52 cells' input RNA(CD52) is {grads.delta_x:+.3f} ln(CPM+1) away from the NTC mean, so a gradient g predicts
a change of about g × ({grads.delta_x:+.3f}). The top protein here is **{top["protein"]}** (gradient
{top["gradient"]:+.3g}; code label "{top["code_label"]}", first-order direction "{top["first_order_direction"]}").
In {n_flip} of {len(table)} rows the code's label and the first-order direction disagree
({why}).
{shared_pub} of the published top-20 proteins are in this top 20.
"""
    return f


def side_effect_findings(summary: Mapping[str, Any], path: str | os.PathLike) -> Findings:
    """Table 3 headline rows and sentences from a `side_effect_table` summary read from the fact table at `path`."""
    ss, name = summary, Path(path).name
    n = ss["n_side_effects"]
    pub = f"{_PUB['n_recapitulated']}/{_PUB['n_side_effects']}"
    file = "cdt3_table3_side_effects.csv"
    f = Findings()
    f.add(
        ("CDT-III", "Table 3", "side effects recapitulated (direction of a linked protein)"),
        ss["n_recapitulated"],
        file,
        f"of {n} ({ss['n_linked']} with a linked protein; published {pub}); file {name}",
    )
    f.add(
        ("CDT-III", "Table 3", "same, and |predicted change| > 0.1"), ss["n_recapitulated_detectable"], file, f"of {n}"
    )
    f.add(
        ("CDT-III", "Table 3", "same, gradient first-order direction"), ss["n_recapitulated_gradient"], file, f"of {n}"
    )
    f.text = f"""
From `{name}`: **{ss["n_recapitulated"]}/{n}** side effects recapitulated by the direct
prediction ({ss["n_linked"]} have a linked protein; published {pub} by qualitative curation);
{ss["n_recapitulated_detectable"]}/{n} when the change must also exceed 0.1 DSB, and
{ss["n_recapitulated_gradient"]}/{n} by the gradient's first-order direction.
"""
    return f


def divergence_findings(summary: Mapping[str, Any], genes: pd.Series) -> Findings:
    """Fig 6 headline rows and sentences from a `mrna_protein_divergence` summary; `genes` (`protein_genes`) says
    whether every protein could be matched to its gene."""
    s6 = summary
    f = Findings()
    f.add(
        ("CDT-III", "Fig 6", "genes measured at both levels"),
        s6["n_both_levels"],
        "cdt3_fig6_mrna_protein_divergence.png",
        "" if genes.notna().all() else "only proteins with a known gene symbol can be matched",
    )
    f.add(
        ("CDT-III", "Fig 6", "opposite mRNA/protein direction (measured)"),
        s6["n_opposite"],
        "cdt3_fig6_mrna_protein_divergence.png",
        f"of {s6['n_both_levels']} (published {_PUB['n_opposite']}/{_PUB['n_both_levels']})",
    )
    f.add(
        ("CDT-III", "Fig 6", "opposite genes with both directions predicted"),
        s6["n_opposite_both_correct"],
        "cdt3_fig6_mrna_protein_divergence.csv",
        f"of {s6['n_opposite']}; the paper's claim, untested there",
    )
    f.text = f"""
{s6["n_both_levels"]} genes are measured at both levels (published {_PUB["n_both_levels"]}); mRNA and protein move in opposite directions
for **{s6["n_opposite"]}** (published {_PUB["n_opposite"]}). CDT-III predicts the measured direction of both levels for
{s6["n_both_correct"]}/{s6["n_both_levels"]} genes, {s6["n_opposite_both_correct"]}/{s6["n_opposite"]} of the
divergent ones (mRNA alone {s6["n_mrna_correct"]}, protein alone {s6["n_protein_correct"]}). The prediction itself
has mRNA and protein moving in opposite directions for {s6["n_opposite_predicted"]}/{s6["n_both_levels"]} genes,
measured {s6["n_opposite"]}. For reference, predicting "mRNA down, protein up" for every gene gets both directions
right for every divergent gene that falls in mRNA and rises in protein, and for no concordant gene.
"""
    return f


def wiring_findings(summary: Mapping[str, Any], control: Mapping[str, Any]) -> Findings:
    """Headline rows and sentences of the planted-wiring comparison from two `truth_comparison` summaries (measured
    protein input with gradients, and the NTC-mean protein control)."""
    ts, tc = summary, control
    precision = f"precision {ts['precision']:.2f}" if ts["n_predicted"] else "no protein predicted, no precision"
    f = Findings()
    f.add(
        ("CDT-III", "truth", "planted CD52 effects recovered by predicted side-effect proteins"),
        ts["recall"],
        "cdt3_truth_cd52_protein_wiring.png",
        f"{ts['n_shared']}/{ts['n_planted']} planted, {ts['n_predicted']} predicted; {precision}",
    )
    f.add(
        ("CDT-III", "truth", "planted proteins with the planted direction predicted"),
        ts["n_planted_direction_predicted"],
        "cdt3_truth_cd52_protein_wiring.csv",
        f"of {ts['n_planted']} (measured: {ts['n_planted_direction_measured']}; NTC-mean protein input: "
        f"{tc['n_planted_direction_predicted']})",
    )
    f.add(
        ("CDT-III", "truth", "gradient sign = planted sign (NTC-mean input)"),
        ts["gradient_ntc_mean_sign_matches_weight"],
        "cdt3_truth_cd52_protein_wiring.png",
        f"of {ts['n_planted']} (chance {ts['gradient_ntc_mean_sign_matches_chance']:.1f}); AUROC of |gradient| "
        f"{ts['gradient_ntc_mean_auroc']:.2f}",
    )
    f.text = f"""
{ts["n_planted"]} of {ts["n_expressed"]} expressed proteins carry a planted CD52 effect. The model predicts a change
above 0.1 DSB for {ts["n_predicted"]} proteins, {ts["n_shared"]} of them planted (recall {ts["recall"]:.2f},
{precision}). The planted direction is predicted for {ts["n_planted_direction_predicted"]}/
{ts["n_planted"]} planted proteins (measured data: {ts["n_planted_direction_measured"]}/{ts["n_planted"]}; with the
measured proteins hidden: {tc["n_planted_direction_predicted"]}/{ts["n_planted"]}). The NTC-mean gradient has the
planted sign for {ts["gradient_ntc_mean_sign_matches_weight"]}/{ts["n_planted"]} planted proteins (chance, from the
sign frequencies of the other proteins: {ts["gradient_ntc_mean_sign_matches_chance"]:.1f}), and |gradient|
separates planted from unplanted proteins with AUROC {ts["gradient_ntc_mean_auroc"]:.2f} (0.5 = chance).
Under the authors' label a negative gradient reads "↓", although a negative planted effect means a rise after knockdown.
"""
    return f
