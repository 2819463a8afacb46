"""Surface proteins of the simulated screen: a CITE-seq panel driven by RNA, with compensatory responses.

Per cell c and protein p (natural log):

    log abundance[c, p] = log level[p] + sum_g wiring[p, g] * rna_change[c, g]

`rna_change` is the true log expression change of gene g (from the RNA simulation). A protein follows its own
gene's mRNA (weight 0.6-1) and, for some proteins, a *compensatory* link from a hub gene with a negative
weight: knocking the hub down raises the protein. CD52 is the main hub (the CDT-III Alemtuzumab analysis):
CD52 knockdown raises many surface proteins while lowering the mRNA of most genes measured at both levels,
so mRNA and protein move in opposite directions.

ADT counts are gamma-Poisson around (ambient + abundance) x a per-droplet capture factor, for cells and for
empty droplets (ambient only), with four isotype controls at distinct background levels (which keeps the
per-cell isotype SD of the authors' "DSB-like" normalisation stable).
"""

from __future__ import annotations

from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd

from cdt.config import Preset
from cdt.simulate.screen import Cells, GeneDesign, target_tss

CD52_RESPONDERS = ("TFRC", "FCGR2A", "CD58", "ICAM1", "CD81", "MCAM")
"""The six largest measured protein changes after CD52 knockdown in CDT-III (all up); planted as the strongest."""

OVERLAP_EXTRA = (
    "TNFRSF8",
    "PDPN",
    "TNFRSF14",
    "CD1A",
    "SLAMF1",
    "FCRL4",
    "TNFRSF18",
    "CD1D",
    "CD101",
    "FASLG",
    "TNFRSF25",
    "TNFSF4",
    "VTCN1",
    "TNFRSF4",
)
"""Non-target genes measured as mRNA and as an expressed protein in CDT-III (Fig 6); they join the curated list."""

WEAK_RESPONDERS = (
    "ITGB1",
    "GGT1",
    "C5AR1",
    "TRAV10",
    "CCR8",
    "BTLA",
    "PTGDR2",
    "ITGA2",
    "TNFSF9",
    "KIR2DL5A",
    "CLEC12A",
    "ITGAL",
    "CDH5",
    "TRBV6-5",
)
"""Further CD52-knockdown responders of the published panel-C list."""

PANEL = (
    # first 24 = the tiny panel: CD52, the responders, the overlap genes and the side-effect proteins
    "CD52",
    "TFRC",
    "FCGR2A",
    "MCAM",
    "ICAM1",
    "CD58",
    "CD81",
    "ITGB1",
    "TNFRSF13C",
    "CD40",
    "B2M",
    "GGT1",
    "TNFRSF8",
    "PDPN",
    "C5AR1",
    "TNFRSF14",
    "CD33",
    "CCR8",
    "BTLA",
    "PTGDR2",
    "MSR1",
    "ITGA2",
    "CD55",
    "CD59",
    "CD1A",
    "SLAMF1",
    "FCRL4",
    "TNFRSF18",
    "CD1D",
    "CD101",
    "FASLG",
    "TNFRSF25",
    "TNFSF4",
    "VTCN1",
    "TNFRSF4",
    "TRAV10",
    "TNFSF9",
    "KIR2DL5A",
    "CLEC12A",
    "ITGAL",
    "CDH5",
    "TRBV6-5",
    "KLRD1",
    "IGKC",
    "TRGV9",
    "IGLC1",
    "ITGAX",
    "CRLF2",
    "CD5",
    "CD80",
    "CD8A",
    "PTPRC",
    "HLA-A",
    "NCR1",
    "NCR3",
    "CD3E",
    "CD4",
    "CD14",
    "CD19",
    "CD34",
    "CD38",
    "CD44",
    "CD69",
    "CD83",
    "CD82",
    "CD9",
    "CD24",
    "CD27",
    "CD28",
    "CD2",
    "CD7",
    "CD22",
    "CD36",
    "CD47",
    "CD48",
    "CD63",
    "CD72",
    "CD86",
    "CD274",
    "PDCD1",
    "CTLA4",
    "ICOS",
    "IL2RA",
    "IL7R",
    "IL3RA",
    "KIT",
    "FLT3",
    "ENG",
    "THY1",
    "NT5E",
    "ENTPD1",
    "ITGAE",
    "ITGB7",
    "ITGA4",
    "ITGA6",
    "ITGB2",
    "ITGAM",
    "SELL",
    "SELPLG",
    "CCR7",
    "CXCR4",
    "CXCR5",
    "CCR4",
    "CCR6",
    "CX3CR1",
    "KLRB1",
    "KLRG1",
    "KLRK1",
    "NCAM1",
    "FCGR3A",
    "FCGR1A",
    "FCER1A",
    "LAMP1",
    "CD151",
    "CD99",
    "BST2",
    "EPCAM",
    "CD164",
    "IL21R",
    "NECTIN2",
    "SLC3A2",
    "LGALS3",
    "TNFSF13B",
    "CD8B",
    "CD3D",
    "CD247",
    "CD160",
    "CD226",
    "TIGIT",
    "HAVCR2",
    "LAG3",
    "CD96",
    "SIGLEC7",
    "SIGLEC8",
    "SIGLEC9",
    "SIGLEC10",
    "CD200",
    "CD200R1",
    "CD244",
    "CD6",
    "CD37",
    "CD40LG",
    "CD70",
    "CD84",
    "CD93",
    "CD163",
    "CD177",
    "CD207",
    "CD209",
    "CR1",
    "CR2",
    "CSF1R",
    "CSF2RA",
    "CSF2RB",
    "CSF3R",
    "DPP4",
    "EGFR",
    "ERBB2",
    "FAS",
    "FCER2",
    "FCRL5",
    "FOLR2",
    "GP1BB",
    "GP9",
    "ITGA2B",
    "ITGB3",
    "HLA-DRA",
    "HLA-E",
    "ICAM2",
    "ICAM3",
    "IFNGR1",
    "IGHD",
    "IGHM",
    "IL18R1",
    "IL2RB",
    "IL4R",
    "IL6R",
    "JAML",
    "KIR2DL1",
    "KIR3DL1",
    "LILRB1",
    "LILRB2",
    "LTBR",
    "LY9",
    "MERTK",
    "MME",
    "NRP1",
    "PECAM1",
    "PDGFRB",
    "PROM1",
    "PTPRJ",
    "ROR1",
    "SIRPA",
    "SLAMF6",
    "SLAMF7",
    "SPN",
    "TLR4",
    "TNFRSF9",
    "TNFRSF10B",
    "TNFRSF13B",
    "TNFRSF17",
    "VSIR",
    "CD1C",
    "CD1B",
    "CEACAM1",
    "CEACAM8",
    "CLEC4C",
    "ANPEP",
    "ALCAM",
    "BSG",
    "CD46",
    "ADGRE5",
    "CD68",
    "CD74",
)
ISOTYPES = ("ADT-CTL-IgG1", "ADT-CTL-IgG2a", "ADT-CTL-IgG2b", "ADT-CTL-RatIgG2b")
ISOTYPE_LEVELS = (10.0, 30.0, 90.0, 270.0)  # mean counts: distinct backgrounds, as real isotypes have


@dataclass
class Panel:
    """The protein panel: `table` (index = protein = gene symbol) with columns expressed (bool), level (mean count
    of the expressed protein; 0 when not expressed) and ambient (mean ambient count)."""

    table: pd.DataFrame

    @property
    def names(self) -> list[str]:
        return self.table.index.tolist()

    @property
    def expressed(self) -> list[str]:
        return self.table.index[self.table["expressed"]].tolist()


def overlap_extra_count(preset: Preset) -> int:
    """How many OVERLAP_EXTRA genes join the curated list: 11 at the published 65 expressed proteins, so that with
    the five curated targets among the responders ~16 genes are measured at both levels (CDT-III Fig 6)."""
    return min(len(OVERLAP_EXTRA), max(1, round(11 * preset.n_expressed_proteins / 65)))


def design_panel(preset: Preset, rng: np.random.Generator) -> Panel:
    """Choose the panel (n_proteins) and which proteins are expressed (n_expressed_proteins)."""
    if preset.n_proteins > len(PANEL):
        raise ValueError(
            f"preset {preset.name!r}: n_proteins={preset.n_proteins} exceeds the {len(PANEL)} simulated panel proteins"
        )
    names = list(PANEL[: preset.n_proteins])
    targets = set(target_tss()["gene_name"])
    extra = list(OVERLAP_EXTRA[: overlap_extra_count(preset)])
    priority = [
        *CD52_RESPONDERS,
        *extra,
        "ITGB1",
        "GGT1",
        "C5AR1",
        *[g for g in WEAK_RESPONDERS if g not in ("ITGB1", "GGT1", "C5AR1")],
    ]
    # the remaining expressed proteins: never CD52 (not expressed in CDT-III) nor another target's protein,
    # so the mRNA/protein overlap stays the designed one
    others = [p for p in names if p not in priority and p != "CD52" and p not in targets]
    priority += [others[i] for i in rng.permutation(len(others))]
    expressed = [p for p in priority if p in names][: preset.n_expressed_proteins]
    is_expr = np.isin(names, expressed)
    level = np.where(is_expr, np.clip(rng.lognormal(np.log(600), 0.7, len(names)), 200, 5000), 0.0)
    ambient = np.clip(rng.lognormal(np.log(15), 0.5, len(names)), 3, 40)
    return Panel(
        pd.DataFrame({"expressed": is_expr, "level": level, "ambient": ambient}, index=pd.Index(names, name="protein"))
    )


def wire(
    panel: Panel, design: GeneDesign, rng: np.random.Generator
) -> tuple[pd.DataFrame, list[tuple[str, str, float]]]:
    """Protein wiring (protein, gene, weight) and the RNA edges CD52 -> overlap genes it needs (for the caller to add
    to `design` with `GeneDesign.add_edges`; `design` itself is not changed).

    - own gene: every protein whose gene is a network gene follows its mRNA (weight 0.6-1);
    - CD52 compensation: the responders rise after CD52 knockdown (negative weights);
    - overlap genes (expressed, curated mRNA): CD52 knockdown lowers the mRNA (RNA edge CD52 -> gene); in ~80%
      the compensation outweighs it (protein up, mRNA down), in the rest mRNA and protein move together;
    - two other TSS targets compensate a few proteins each, so the training targets show the phenomenon too.
    """
    genes = design.genes
    pos = design.position
    rows: list[tuple[str, str, float]] = []
    own: dict[str, float] = {}
    for p in panel.names:
        if p in pos:
            own[p] = float(rng.uniform(0.6, 1.0))
            rows.append((p, p, own[p]))

    expressed = panel.expressed
    curated = set(genes.index[genes["curated"]])
    overlap = [p for p in expressed if p in curated and p != "CD52"]
    rna_edges: list[tuple[str, str, float]] = []
    n_concordant = max(1, round(0.2 * len(overlap))) if len(overlap) >= 4 else 0
    concordant = set(rng.choice(overlap, n_concordant, replace=False)) if n_concordant else set()
    comp: dict[str, float] = {}
    for p in overlap:
        w_rna = float(rng.uniform(0.2, 0.35))
        if p in concordant and rng.random() < 0.5:  # mRNA and protein both up
            rna_edges.append(("CD52", p, -w_rna))
        elif p in concordant:  # both down: no compensation
            rna_edges.append(("CD52", p, w_rna))
        else:  # mRNA down, protein up
            rna_edges.append(("CD52", p, w_rna))
            comp[p] = -(own[p] * w_rna + float(rng.uniform(0.25, 0.4)))
    for p in CD52_RESPONDERS:
        if p in panel.names and p not in comp and p not in concordant:
            comp[p] = -float(rng.uniform(0.4, 0.6))
    n_resp = round(0.45 * len(expressed))  # CDT-III: 29 of 65 expressed proteins change detectably
    weak = [p for p in WEAK_RESPONDERS if p in expressed] + [p for p in expressed if p not in WEAK_RESPONDERS]
    for p in weak:
        if len(comp) >= n_resp:
            break
        if p not in comp and p not in concordant:
            comp[p] = -float(rng.uniform(0.1, 0.25))
    rows += [(p, "CD52", round(w, 4)) for p, w in comp.items()]

    hubs = [
        g
        for g in genes.index[genes["category"] == "target"]
        if g in curated and g not in ("CD52", "GFI1B", "CD55") and g not in panel.names
    ]
    for hub in rng.choice(hubs, min(2, len(hubs)), replace=False):
        for p in rng.choice(expressed, min(5, len(expressed)), replace=False):
            rows.append((str(p), str(hub), -float(rng.uniform(0.15, 0.35))))
    wiring = pd.DataFrame(rows, columns=["protein", "gene", "weight"])
    wiring["weight"] = wiring["weight"].round(4)
    return wiring.drop_duplicates(["protein", "gene"], keep="last").reset_index(drop=True), rna_edges


def wiring_genes(wiring: pd.DataFrame, design: GeneDesign) -> np.ndarray:
    """Network-gene indices whose RNA change the proteins read (sorted)."""
    pos = design.position
    return np.array(sorted({pos[g] for g in wiring["gene"]}), dtype=np.int64)


def simulate_adt(
    panel: Panel,
    wiring: pd.DataFrame,
    design: GeneDesign,
    cells: Cells,
    rna_change: np.ndarray,
    keep: np.ndarray,
    rng: np.random.Generator,
) -> ad.AnnData:
    """Raw ADT counts for every cell barcode plus as many empty droplets (obs['is_cell'] False).

    rna_change: [cells, len(keep)] true log RNA change of the network genes `keep` (from `sample_counts`).
    var: the panel proteins then the isotype controls (var['isotype'] True), var['gene'] = protein's gene.
    """
    C = len(cells)
    names = panel.names
    col = {g: j for j, g in enumerate(design.genes.index[keep])}
    A = np.zeros((len(keep), len(names)))  # [wired genes, proteins]
    p_idx = {p: i for i, p in enumerate(names)}
    for r in wiring.itertuples():
        A[col[r.gene], p_idx[r.protein]] = r.weight
    log_change = rna_change @ A  # [C, P]
    level = panel.table["level"].to_numpy()
    ambient = panel.table["ambient"].to_numpy()
    iso_level = np.asarray(ISOTYPE_LEVELS) * rng.lognormal(0, 0.1, len(ISOTYPES))

    n_empty = C
    capture = np.concatenate([rng.lognormal(0, 0.25, C), rng.lognormal(np.log(0.4), 0.25, n_empty)])
    mean_prot = np.vstack([ambient + level * np.exp(log_change), np.broadcast_to(ambient, (n_empty, len(names)))])
    mean_iso = np.vstack(
        [np.broadcast_to(iso_level, (C, len(ISOTYPES))), np.broadcast_to(0.3 * iso_level, (n_empty, len(ISOTYPES)))]
    )
    mean = np.hstack([mean_prot, mean_iso]) * capture[:, None]
    theta = 50.0
    counts = rng.poisson(rng.gamma(theta, mean / theta)).astype(np.int32)

    barcodes = cells.table["barcode"].tolist()
    taken = set(barcodes)
    letters = np.array(list("ACGT"))
    empties: list[str] = []
    while len(empties) < n_empty:
        bc = "".join(letters[rng.integers(0, 4, 16)]) + "-1"
        if bc not in taken:
            taken.add(bc)
            empties.append(bc)
    var = pd.DataFrame(
        {"gene": [*names, *[""] * len(ISOTYPES)], "isotype": [False] * len(names) + [True] * len(ISOTYPES)},
        index=pd.Index([*names, *ISOTYPES], name="protein"),
    )
    obs = pd.DataFrame({"is_cell": [True] * C + [False] * n_empty}, index=pd.Index(barcodes + empties, name="barcode"))
    return ad.AnnData(X=counts, obs=obs, var=var)


def cd52_summary(screen: ad.AnnData) -> dict:
    """The CD52 analysis on measured values: detectable protein changes and mRNA/protein direction
    (CDT-III Figs 4 and 6)."""
    cd52 = (screen.obs["perturbation"] == "CD52").to_numpy()
    names = np.asarray(screen.uns["protein_names"], dtype=str)
    expressed = np.asarray(screen.uns["protein_expressed"], dtype=bool)
    prot = np.asarray(screen.obsm["protein_target"])[cd52].mean(axis=0)
    detectable = expressed & (np.abs(prot) > 0.1)
    genes = screen.var_names
    both = [(p, d) for p, d, e in zip(names, prot, expressed, strict=True) if e and p in genes and p != "CD52"]
    rna = np.asarray(screen[cd52, [p for p, _ in both]].layers["log2fc"]).mean(axis=0) if both else np.zeros(0)
    opposite = int(sum(np.sign(r) != np.sign(d) for r, (_, d) in zip(rna, both, strict=True)))
    return {
        "n_cells": int(cd52.sum()),
        "n_expressed": int(expressed.sum()),
        "n_detectable": int(detectable.sum()),
        "n_detectable_up": int((detectable & (prot > 0)).sum()),
        "n_both_levels": len(both),
        "n_opposite": opposite,
        "top_up": [str(p) for p in names[np.argsort(-np.where(expressed, prot, -np.inf))][:6]],
    }
