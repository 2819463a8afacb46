"""Every number the papers publish, in one place, keyed by (paper, item, quantity).

The structured tables below (per-gene values, published tables) are what analyses compare against; `HEADLINE` maps
each headline row of the reproduction report, (paper, item, quantity), to its published value, built from those
tables so that each fact is written once. `Numbers.add(key=...)` (cdt.report) reads it; rows beyond the papers have no
entry and report no published value. Values are those printed on the real K562 / Gasperini data; how each is
computed: paper/METHODS.md; where it is rebuilt: paper/FIGURES.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

Key = tuple[str, str, str]
"""(paper, item, quantity), e.g. ("CDT-II", "Fig 3A", "Spearman rho")."""

# --- CDT v1 and CDT-II prediction, CDT-III Tables 1/4/7 ---------------------------------------------------------------

CDT2_ABLATION_R: dict[str, float] = {"curated": 0.64, "full": 0.37}
"""CDT-II Fig 2A: best validation r of the curated (2,361) and full (9,335) gene-set models."""

CDT2_PER_GENE_R: dict[str, float] = {"GFI1B": 0.88, "TNFSF9": 0.86, "TFRC": 0.85, "CD44": 0.85, "CD52": 0.75}
"""CDT-II Fig 3B: pseudo-bulk r per held-out gene (mean 0.84)."""

CDT2_TOP50: dict[str, int] = {"GFI1B": 26, "CD52": 25}
"""CDT-II text (v2): shared genes among the top-50 predicted and top-50 observed trans targets."""

CDT2_GENES = 2361
"""CDT-II curated gene set (2,360 + GFI1B): the genes of Fig 3A and the universe of every top-N overlap P."""

V1_VAL_PAIRS = 996
"""CDT v1 Fig 2A: validation pairs behind r = 0.503."""

V1_MAX_EPOCHS = 50
"""CDT v1 Table 4: the epoch limit (best epoch 16, stopped at 26)."""

CDT3_TABLE1 = pd.DataFrame(
    {
        "perturbation": ["GFI1B", "TNFSF9", "TFRC", "CD44", "CD52"],
        "cells": [477, 349, 847, 233, 131],
        "rna_r_cdt2": [0.851, 0.831, 0.824, 0.795, 0.719],
        "rna_r_cdt3": [0.885, 0.868, 0.854, 0.858, 0.748],
        "protein_r_expressed": [0.969, 0.991, 0.989, 0.935, 0.962],
    }
)
"""CDT-III Table 1: per-gene pseudo-bulk r (means .804 -> .843; protein .969 over 65 expressed proteins)."""

CDT3_STAGE_ABLATION = pd.DataFrame(
    {
        "variant": [
            "CDT-II (RNA only)",
            "single-stage A",
            "single-stage B",
            "single-stage C",
            "single-stage D",
            "single-stage E (lambda warm-up)",
            "CDT-III two-stage",
        ],
        "lambda": ["—", "1.0", "0.11", "0.05", "0.01", "0.001 -> 0.01", "0.1"],
        "rna_r": [0.64, 0.19, 0.24, 0.35, 0.37, 0.30, 0.64],
        "protein_r": [np.nan, 0.76, 0.77, 0.81, 0.80, 0.21, 0.43],
    }
)
"""CDT-III Table 4 / Table 7: pooled per-cell r on the held-out cells (protein r of single-stage over all 189)."""

V1_TABLE1 = {
    "DNA": ("Enformer (trunk)", "896 bins x 3,072"),
    "RNA": ("scGPT gene tokens", "2,360 x 512"),
    "Protein": ("ESM-C / ProteomeLM", "2,360 x 768"),
}
"""CDT v1 Table 1: foundation model and embedding shape per modality."""

V1_TABLE2 = {  # attention map -> (what attends to what, published shape)
    "dna_self": ("DNA bins attend to DNA bins: long-range genomic interactions", "896 x 896"),
    "rna_self": ("genes attend to genes: co-expression, shared regulation", "n_genes x n_genes"),
    "protein_self": ("proteins attend to proteins: complexes, pathways", "n_proteins x n_proteins"),
    "dna_to_rna": ("genes (query) attend to DNA bins: transcriptional regulation", "n_genes x 896"),
    "rna_to_protein": ("proteins (query) attend to genes: translation", "n_proteins x n_genes"),
    "vce": ("VCE pooling query attends to one modality's tokens", "—"),
}
"""CDT v1 Table 2: attention mechanisms, their reading and shapes."""

PUBLISHED_PARAMS: dict[str, float] = {
    "CDT v1": 60e6,
    "CDT-II": 21e6,
    "CDT-II full gene set (9,335 genes)": 54e6,
    "CDT-III": 30_987_766,
}
"""Parameter counts the papers state (CDT v1 ~60 M, CDT-II ~21 M, its 9,335-gene ablation ~54 M, CDT-III exact)."""

# --- CDT-II attention and networks --------------------------------------------------------------------------------

CELL_CORRELATION_MEAN = 0.75  # Fig 4E: mean pairwise r of the GFI1B row over 20 cells (authors' notebook: 0.82)
GFI1B_TOP100 = {"n": 100, "k": 28, "fold": 6.6, "p_value": 3.5e-17}  # attention top-100 vs experimental top-100
HUB_COUNTS = {"downstream": 85, "upstream": 85, "bidirectional": 33}  # Fig 5A
GRADIENT_R = 0.83  # text: gradient importance vs |effect|
GRADIENT_R_PER_GENE = {"CD44": 0.84, "CD52": 0.76, "GFI1B": 0.86, "TFRC": 0.85, "TNFSF9": 0.81}  # v3 Fig 8B
ATTENTION_GRADIENT_R = 0.27  # text: "r = 0.27 between methods" (attention row vs gradient importance)
KNOCKDOWN_R = 0.07  # text: in-silico knockdown (expression set to zero)
COMMUNITY_COUNTS = {"self": 5, "cross": 53}  # Louvain, resolution 1.0
MODULE_VENN = {"c1": 679, "c3": 165, "shared": 132, "fold": 2.8, "p_value": 9.3e-46}  # Fig 5C
RNA_BINDING_P = {"c1": 5e-16, "c3": 1e-16}  # Fig 5B / text, GO molecular function "RNA binding"

CDT3_TABLE5 = pd.DataFrame(
    [
        ("dna_self_0", "DNA self-attention (L0)", "8 x 896 x 896", "genomic interactions", "CDT-II"),
        ("dna_self_1", "DNA self-attention (L1)", "8 x 896 x 896", "higher-order genomic", "CDT-II"),
        ("rna_self_0", "RNA self-attention", "8 x 2,361 x 2,361", "gene co-regulation", "CDT-II"),
        ("dna_to_rna", "DNA->RNA cross-attention", "8 x 2,361 x 896", "transcriptional control", "CDT-II"),
        ("protein_self_0", "protein self-attention", "8 x 189 x 189", "protein co-regulation", "CDT-III"),
        ("rna_to_protein", "RNA->protein cross-attention", "8 x 189 x 2,361", "translational control", "CDT-III"),
    ],
    columns=["map", "attention map", "published_shape", "biological meaning", "source"],
)
"""CDT-III Table 5 (appendix E): the six attention maps, [heads, queries, keys]."""

# --- DNA: ENCODE, CTCF, Hi-C ------------------------------------------------------------------------------------------

CDT2_FISHER_OR: dict[str, dict[str, float]] = {
    "CD44": {"DNase": np.inf, "CTCF": np.inf, "H3K4me3": 11.2, "H3K27ac": np.nan, "H3K4me1": 3.5},
    "CD52": {"DNase": 9.5, "CTCF": 28.4, "H3K4me3": 7.9, "H3K27ac": 4.2, "H3K4me1": 4.5},
    "GFI1B": {"DNase": 201.2, "CTCF": 27.0, "H3K4me3": 10.5, "H3K27ac": 6.6, "H3K4me1": 5.0},
    "TFRC": {"DNase": 29.5, "CTCF": 26.7, "H3K4me3": 6.9, "H3K27ac": 10.7, "H3K4me1": 5.9},
    "TNFSF9": {"DNase": 19.9, "CTCF": 16.7, "H3K4me3": 6.5, "H3K27ac": 8.6, "H3K4me1": 6.8},
}
"""CDT-II Fig 6A (paper Fig 7A): Fisher sample odds ratio of the top-10% bins per gene x mark (23/24 P < 1e-3)."""

CDT2_PEAK_BIN: dict[str, int] = {"CD44": 450, "CD52": 730, "GFI1B": 455, "TFRC": 869, "TNFSF9": 695}
"""CDT-II Fig 4B: argmax bin of each held-out locus's profile (of 896; the TSS starts bin 448)."""

CDT3_CTCF: dict[str, tuple[int, int]] = {
    "CD82": (7, 7),
    "CD69": (7, 7),
    "CD40": (9, 9),
    "ITGB1": (2, 2),
    "ENTPD1": (2, 2),
    "KLRG1": (3, 3),
    "KLRD1": (2, 2),
    "TNFSF13B": (3, 3),
    "B2M": (4, 4),
    "CD19": (4, 4),
    "NECTIN2": (4, 4),
    "EPCAM": (4, 4),
    "TFRC": (2, 2),
    "GFI1B": (3, 3),
    "ICAM1": (8, 7),
    "CD52": (7, 6),
    "CD81": (7, 6),
    "SLC3A2": (6, 5),
    "TNFSF9": (5, 4),
    "CD44": (4, 3),
    "CD58": (4, 3),
    "CD55": (4, 3),
    "LGALS3": (4, 3),
    "ITGAE": (4, 3),
    "FCGR2A": (2, 1),
    "CD83": (5, 2),
    "IL21R": (6, 2),
    "MSR1": (0, 0),
}
"""CDT-III Table 6: per gene (CTCF peaks in the window, of them in the top-10% bins); mean enrichment 8.59x."""

CDT3_HIC_RATIO: dict[str, float] = {
    "CD55": 2.75,
    "CD82": 2.28,
    "IL21R": 2.20,
    "FCGR2A": 2.08,
    "CD83": 1.99,
    "ITGB1": 1.72,
    "ITGAE": 1.53,
    "CD44": 1.49,
    "SLC3A2": 1.39,
    "MSR1": 1.37,
    "EPCAM": 1.32,
    "TNFSF13B": 1.30,
    "NECTIN2": 1.30,
    "LGALS3": 1.24,
    "KLRD1": 1.11,
    "CD40": 1.08,
    "CD69": 0.97,
    "ICAM1": 0.94,
    "KLRG1": 0.79,
    "ENTPD1": 0.72,
    "CD58": 0.69,
    "CD52": 0.67,
    "CD81": 0.62,
    "TNFSF9": 0.55,
    "CD19": 0.33,
}
"""CDT-III Table 9 / Fig 3A: top-20 over random-20 promoter contact (first 7 from the table, the rest read off the
figure; mean 1.30, 16/25 > 1, one-sided Wilcoxon P = 0.020)."""

# --- CDT-III CD52 ------------------------------------------------------------------------------------------------------

CDT3_CD52: dict[str, float] = {
    "n_genes": 2361,  # Fig 4A: genes of the pseudo-bulk RNA correlation
    "n_cells": 131,  # CD52 cells
    "n_expressed": 65,  # expressed proteins (Fig 4B/C)
    "n_proteins": 189,  # the ADT panel (Table 10)
    "rna_r": 0.748,  # Fig 4A: pseudo-bulk r over the 2,361 genes, 131 CD52 cells
    "protein_r": 0.962,  # Fig 4B: pseudo-bulk r over the 65 expressed proteins
    "self_kd_r": 0.952,  # text: CD52 own log2FC, predicted vs actual across cells
    "self_predicted": -0.136,  # text: CD52 own log2FC, mean predicted
    "self_actual": -0.172,  # and mean measured
    "n_detectable": 29,  # Fig 4C: expressed proteins with |measured change| > 0.1
    "n_agree": 29,  # Fig 4C: of which predicted in the measured direction
    "n_recapitulated": 5,  # Table 3 (qualitative curation)
    "n_side_effects": 7,
    "grad_r_all": 0.913,  # Table 10: NTC-mean vs perturbed-cell gradients, 189 proteins
    "grad_r_expressed": 0.939,  # 65 expressed proteins
    "grad_rho_all": 0.752,
    "grad_rho_expressed": 0.865,
    "grad_direction_all": 145 / 189,
    "grad_direction_expressed": 63 / 65,
    "grad_top20_direction": 20 / 20,
    "n_both_levels": 16,  # Fig 6
    "n_opposite": 13,
}

CDT3_TABLE8 = pd.Series(
    {
        "FCGR2A": 0.059,
        "MCAM": 0.044,
        "ICAM1": 0.043,
        "CD81": 0.031,
        "CD58": 0.030,
        "GGT1": 0.030,
        "ITGB1": 0.019,
        "IGKC": 0.010,
        "TRGV9": 0.010,
        "TFRC": -0.009,
        "IGLC1": 0.008,
        "ITGAX": 0.008,
        "CD40": 0.007,
        "CRLF2": 0.007,
        "CD5": 0.006,
        "CDH5": 0.006,
        "B2M": -0.006,
        "TNFRSF13C": 0.006,
        "CCR8": 0.006,
        "PTGDR2": 0.005,
    },
    name="published_gradient",
)
"""CDT-III Table 8: top-20 proteins by d protein / d RNA(CD52), as printed (paper: NTC-mean input)."""

# --- headline rows of the report: (paper, item, quantity) -> published value ------------------------------------------

CDT2_PEAK_OFFSET_KB: dict[str, float] = {g: (b - 448) * 0.128 for g, b in CDT2_PEAK_BIN.items()}
"""CDT-II Fig 4B peaks as offsets from the TSS in kb (bin 448 starts at the TSS, 128 bp per bin)."""

CDT3_CTCF_SUMMARY: dict[str, tuple[float, str | None]] = {"CDT-III": (8.59, "27/27"), "CDT-II": (6.6, None)}
"""CDT-III Table 2: mean CTCF enrichment and loci > 2x; "CDT-II" is the 6.6x the CDT-III paper quotes for it (CDT-II's
own paper gives 7.67x, 26/28 > 2x)."""

HEADLINE: dict[Key, float | int | str] = {
    # CDT-II Fig 2: the gene-set ablation
    ("CDT-II", "Fig 2A", "val r, curated gene set (best checkpoint)"): CDT2_ABLATION_R["curated"],
    ("CDT-II", "Fig 2A", "val r, full gene set (best checkpoint)"): CDT2_ABLATION_R["full"],
    ("CDT-II", "Fig 2A", "val r curated minus full"): CDT2_ABLATION_R["curated"] - CDT2_ABLATION_R["full"],
    ("CDT-II", "Fig 2B", "train r, curated (best epoch)"): 0.65,
    # parameter counts at the published dimensions
    ("CDT v1", "Table 3", "parameters at the paper dimensions"): PUBLISHED_PARAMS["CDT v1"],
    ("CDT-II", "Fig 1", "parameters at the paper dimensions"): PUBLISHED_PARAMS["CDT-II"],
    ("CDT-III", "Fig 1", "parameters at the paper dimensions"): PUBLISHED_PARAMS["CDT-III"],
    ("CDT-II", "Fig 2", "parameters, 9,335-gene ablation model"): PUBLISHED_PARAMS[
        "CDT-II full gene set (9,335 genes)"
    ],
    # CDT v1 Fig 2
    ("CDT v1", "Fig 2A", "val Pearson r, predicted vs observed beta"): 0.503,
    ("CDT v1", "Fig 2B/C", "best epoch"): 16,
    ("CDT v1", "Fig 2B/C", "stop epoch"): 26,
    ("CDT v1", "Fig 2B/C", "train r at the last epoch"): 0.65,
    # CDT-II Fig 3 and top-50 text
    ("CDT-II", "Fig 3A", "overall Pearson r (cells x genes)"): 0.64,
    ("CDT-II", "Fig 3A", "r^2 (the paper's 'R^2')"): 0.41,
    ("CDT-II", "Fig 3A", "Spearman rho"): 0.46,
    **{("CDT-II", "Fig 3B", f"pseudo-bulk r, {g}"): r for g, r in CDT2_PER_GENE_R.items()},
    ("CDT-II", "Fig 3B", "pseudo-bulk r, mean over held-out genes"): 0.84,
    ("CDT-II", "Fig 3C", "GFI1B mean predicted vs mean observed profile r"): 0.88,
    **{("CDT-II", "text", f"top-50 overlap, {g} (shared genes)"): k for g, k in CDT2_TOP50.items()},
    **{
        ("CDT-II", "text", f"top-50 overlap, {g} (fold over chance)"): k / (50 * 50 / CDT2_GENES)
        for g, k in CDT2_TOP50.items()
    },
    # CDT-III Table 1, Fig 2A / Table 4
    ("CDT-III", "Table 1", "per-gene RNA r, CDT-II (mean of held-out genes)"): 0.804,
    ("CDT-III", "Table 1", "per-gene RNA r, CDT-III (mean of held-out genes)"): 0.843,
    ("CDT-III", "Table 1", "per-gene RNA r, CDT-III minus CDT-II"): 0.843 - 0.804,
    ("CDT-III", "Table 1", "per-gene protein r over expressed proteins (mean)"): 0.969,
    ("CDT-III", "Fig 2A / Table 4", "RNA r, two-stage"): 0.64,
    ("CDT-III", "Fig 2A / Table 4", "RNA r, single-stage"): 0.24,
    ("CDT-III", "Fig 2A / Table 4", "RNA r, two-stage minus single-stage"): 0.64 - 0.37,
    ("CDT-III", "Table 4", "protein r (pooled, expressed), two-stage"): 0.43,
    # CDT-II attention and the GFI1B network
    ("CDT-II", "Fig 4E", "mean pairwise r of GFI1B attention rows"): CELL_CORRELATION_MEAN,
    ("CDT-II", "text (GFI1B overlap)", "shared genes, attention vs experimental top-N"): GFI1B_TOP100["k"],
    ("CDT-II", "text (GFI1B overlap)", "fold enrichment"): GFI1B_TOP100["fold"],
    ("CDT-II", "text (GFI1B overlap)", "hypergeometric P"): GFI1B_TOP100["p_value"],
    **{("CDT-II", "Fig 5A", f"{role} partners of GFI1B"): n for role, n in HUB_COUNTS.items()},
    ("CDT-II", "text (gradients)", "r gradient importance vs |effect|, GFI1B"): GRADIENT_R,
    ("CDT-II", "text (gradients)", "mean r over held-out genes"): sum(GRADIENT_R_PER_GENE.values()) / 5,
    ("CDT-II", "text (gradients)", "r attention row vs gradient importance"): ATTENTION_GRADIENT_R,
    ("CDT-II", "text (in-silico knockdown)", "r predicted change vs observed, GFI1B"): KNOCKDOWN_R,
    # CDT-II networks and the RNA module
    ("CDT-II", "text (Louvain)", "communities, RNA self-attention network"): COMMUNITY_COUNTS["self"],
    ("CDT-II", "text (Louvain)", "communities, DNA->RNA cross-attention similarity network"): COMMUNITY_COUNTS["cross"],
    ("CDT-II", "Fig 5B", "RNA binding P, C1 (RNA self-attention)"): RNA_BINDING_P["c1"],
    ("CDT-II", "Fig 5B", "RNA binding P, C3 (DNA->RNA cross-attention similarity)"): RNA_BINDING_P["c3"],
    ("CDT-II", "Fig 5C", "C1 size"): MODULE_VENN["c1"],
    ("CDT-II", "Fig 5C", "C3 size"): MODULE_VENN["c3"],
    ("CDT-II", "Fig 5C", "shared genes"): MODULE_VENN["shared"],
    ("CDT-II", "Fig 5C", "share of C3 in C1"): MODULE_VENN["shared"] / MODULE_VENN["c3"],
    ("CDT-II", "Fig 5C", "fold enrichment"): MODULE_VENN["fold"],
    ("CDT-II", "Fig 5C", "hypergeometric P"): MODULE_VENN["p_value"],
    # DNA: CDT-II Figs 4B, 6, Supp 1
    **{
        ("CDT-II", "Fig 4B", f"{g}: profile peak offset from the TSS (kb)"): round(kb, 2)
        for g, kb in CDT2_PEAK_OFFSET_KB.items()
    },
    ("CDT-II", "Fig 6A", "gene x mark pairs with P < 1e-3 (of testable)"): "23/24",
    ("CDT-II", "Fig 6A", "DNase odds ratio at GFI1B"): CDT2_FISHER_OR["GFI1B"]["DNase"],
    ("CDT-II", "Fig 6A", "CTCF odds ratio at CD52"): CDT2_FISHER_OR["CD52"]["CTCF"],
    ("CDT-II", "Fig 6B", "Cohen's d, CTCF vs unannotated bins"): 2.4,
    ("CDT-II", "Fig 6B", "Cohen's d, promoter vs unannotated bins"): 1.4,
    ("CDT-II", "Fig 6B", "Kruskal-Wallis P across bin classes"): 1e-45,
    ("CDT-II", "Supp 1a", "gene x mark pairs with permutation P < 0.005 (of tested)"): "14/15",
    ("CDT-II", "Supp 1b", "pairs enriched (OR > 1, P < 0.05) at all of 5/10/15/20%"): "stays significant",
    # DNA: CDT-III Tables 2/6, Fig 3, Figs 7/8
    **{
        ("CDT-III", "Table 2", f"{label}: mean CTCF enrichment, top-10% bins"): mean
        for label, (mean, _) in CDT3_CTCF_SUMMARY.items()
    },
    ("CDT-III", "Table 2", "CDT-III: loci > 2x (of loci with CTCF)"): CDT3_CTCF_SUMMARY["CDT-III"][1],
    ("CDT-III", "Table 2", "CDT-III: permutation P (mean enrichment)"): 0.001,
    ("CDT-III", "Fig 3A", "CDT-III: mean contact ratio top-20 / random-20"): 1.30,
    ("CDT-III", "Fig 3A", "loci with ratio > 1"): "16/25",
    ("CDT-III", "Fig 3A", "one-sided Wilcoxon P (ratio - 1)"): 0.020,
    ("CDT-III", "Fig 7", "CD55: CTCF peaks in the top-10% bins"): "3/4",
    ("CDT-III", "Fig 8", "FCGR2A: CTCF peaks in the top-10% bins"): "1/2",
    # DNA: CDT v1 Figs 3-6
    ("CDT v1", "Fig 3", "mean |attention peak - enhancer| (kb)"): 30.1,
    ("CDT v1", "Fig 3", "share of peaks within the (scaled) 50-kb threshold"): 0.82,
    ("CDT v1", "Fig 4A", "mean overlap of top-20 attention and top-20 gradient bins"): 2.2,
    ("CDT v1", "Fig 5", "attention peak offset from the enhancer (kb)"): 47.4,
    ("CDT v1", "Fig 5", "gradient peak offset from the enhancer (kb)"): -56.7,
    ("CDT v1", "Fig 5", "gradient peak to nearest CTCF site (kb)"): 0.0,
    ("CDT v1", "Fig 6", "O/E contact, strongest pair's enhancer and promoter"): "elevated",
    # CDT-III CD52
    ("CDT-III", "Fig 4A", "CD52 pseudo-bulk RNA r"): CDT3_CD52["rna_r"],
    ("CDT-III", "Fig 4B", "CD52 pseudo-bulk protein r, expressed proteins"): CDT3_CD52["protein_r"],
    ("CDT-III", "text", "CD52 self-knockdown r across cells"): CDT3_CD52["self_kd_r"],
    ("CDT-III", "Fig 4C", "detectable proteins (|measured change| > 0.1)"): CDT3_CD52["n_detectable"],
    ("CDT-III", "Fig 4C", "direction agreement (count)"): CDT3_CD52["n_agree"],
    ("CDT-III", "Fig 4C", "direction agreement of a constant majority-sign prediction"): CDT3_CD52["n_detectable"],
    **{
        ("CDT-III", "Table 10", f"gradient {what}, {label}"): CDT3_CD52[f"grad_{key}_{which}"]
        for what, key in (("r NTC-mean vs cells", "r"), ("Spearman", "rho"), ("same direction", "direction"))
        for which, label in (("all", "all proteins"), ("expressed", "expressed proteins"))
    },
    ("CDT-III", "Table 10", "same direction, top 20 by |NTC-mean gradient|"): CDT3_CD52["grad_top20_direction"],
    ("CDT-III", "Table 8", "top protein by |gradient| (NTC-mean input)"): "FCGR2A +0.059",
    ("CDT-III", "Table 8", "FCGR2A gradient (in the top 20)"): float(CDT3_TABLE8["FCGR2A"]),
    ("CDT-III", "Table 3", "side effects recapitulated (direction of a linked protein)"): CDT3_CD52["n_recapitulated"],
    ("CDT-III", "Fig 6", "genes measured at both levels"): CDT3_CD52["n_both_levels"],
    ("CDT-III", "Fig 6", "opposite mRNA/protein direction (measured)"): CDT3_CD52["n_opposite"],
}
"""Published value of every headline row, by (paper, item, quantity)."""


def published_value(key: Key) -> float | int | str | None:
    """The published value of a headline row, or None for rows beyond the papers (no published value)."""
    if len(key) != 3 or not all(isinstance(k, str) for k in key):
        raise ValueError(f"a published key is (paper, item, quantity), got {key!r}")
    return HEADLINE.get(tuple(key))
