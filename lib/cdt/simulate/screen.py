"""The screen half of the simulator: genes, a sparse causal network, cells, counts and guide UMIs.

Generative model, per cell c and gene g, in natural-log expression rates:

    log rate[c, g] = log base[g] + log(lib[c] / LIB_REF)
                     + z[c] @ state_loading[:, g]               (cell states: co-expression, NOT regulation)
                     + u[c] * shared[g]                         (a response shared by every perturbed cell)
                     + sum_j delta[c, j] * (1[g = k_j] + m[c] * T[k_j, g])

k_j is the gene knocked down by the cell's j-th perturbation (the TSS target, or the cis gene of a SNP locus),
delta < 0 its log knockdown, T = (I - W)^-1 - I the total downstream effect of the causal network W
(W[s, t] = change of log t per unit change of log s), and m[c] = exp(0.35 z_erythroid[c]) a cell-state
dependent strength. Counts are gamma-Poisson around the rate, with per-gene technical dropout.

Normalisation follows CDT-II eq. 1, with "CPM" taken per CPM_SCALE counts of the full-matrix library
(see `CPM_SCALE` for why 1e4 and not 1e6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cdt.config import Preset
from cdt.simulate.genome import HG38_CHROMSIZES

LIB_REF = 25_000
"""Median full-matrix library size (UMIs per cell) of a 10x CRISPRi screen of K562."""

CPM_SCALE = 1e4
"""Counts are normalised per 10,000 library counts. The published screen statistics (log2FC mean -0.039,
SD 0.32, a quarter of genes non-zero per cell, GFI1B zero-count cells at log2FC -0.392) are only reachable when one
count is worth at most about one normalised unit; literal per-million scaling of a 25k-UMI cell makes a single count
worth 40 units and the log2FC SD about 2. The scale is recorded in the manifest and in `uns["cdt"]["cpm_scale"]`."""

BACKGROUND_UMI_MAX = 9
"""Ambient guide UMIs stay below 10, i.e. below the competing-signal cut (0.2 x 50) of `cdt.pp.guides`."""

FULL_GENES = {"paper": 9_335}
"""Size of the "full" ablation gene set; presets not listed use twice the curated size."""

KD_STRENGTH_STATE = 0.35  # m[c] = exp(KD_STRENGTH_STATE * z_erythroid[c])

PUBLISHED_CELLS: dict[str, int] = {
    "B2M": 220,
    "CD19": 65,
    "CD40": 12,
    "CD44": 233,
    "CD52": 131,
    "CD58": 946,
    "CD69": 306,
    "CD81": 298,
    "CD82": 252,
    "CD83": 71,
    "ENTPD1": 504,
    "EPCAM": 64,
    "FCGR2A": 300,
    "GFI1B": 477,
    "ICAM1": 117,
    "IL21R": 210,
    "ITGAE": 380,
    "ITGB1": 299,
    "KLRD1": 518,
    "KLRG1": 224,
    "LGALS3": 158,
    "MSR1": 64,
    "NECTIN2": 77,
    "SLC3A2": 428,
    "TFRC": 847,
    "TNFSF13B": 700,
    "TNFSF9": 349,
}
"""Cells per TSS target in the published screen (CDT-II Methods); the paper preset reproduces them exactly."""
PUBLISHED_CELLS_PER_TARGET = 305  # the paper preset's `cells_per_target`

NOT_CURATED_TARGETS = ("TFRC", "CD44", "TNFSF9")
"""Held-out targets that are absent from the published 2,361-gene list (they have loci and cells, no column)."""

HG38_CHROMSIZES_NO_Y: dict[str, int] = {c: n for c, n in HG38_CHROMSIZES.items() if c != "chrY"}

# Real symbols used for the first members of each planted group (the rest get neutral synthetic names).
RNA_PROCESSING = (
    "PRRC2C",
    "MAGOH",
    "SF3B6",
    "SFPQ",
    "HNRNPA1",
    "HNRNPA2B1",
    "HNRNPC",
    "HNRNPK",
    "HNRNPU",
    "HNRNPM",
    "HNRNPD",
    "HNRNPF",
    "HNRNPH1",
    "SRSF1",
    "SRSF2",
    "SRSF3",
    "SRSF5",
    "SRSF6",
    "SRSF7",
    "SRSF9",
    "SF3B1",
    "SF3B2",
    "SF3A1",
    "U2AF1",
    "U2AF2",
    "SNRPB",
    "SNRPD1",
    "SNRPD2",
    "SNRPD3",
    "SNRPE",
    "SNRPF",
    "SNRPG",
    "SNRNP70",
    "LSM2",
    "LSM3",
    "LSM7",
    "NONO",
    "PTBP1",
    "DDX5",
    "DDX17",
    "DHX15",
    "PRPF8",
    "PRPF19",
    "PRPF31",
    "EFTUD2",
    "SNW1",
    "CDC5L",
    "BUD31",
    "SYF2",
    "RBM8A",
    "RBM25",
    "RBM39",
    "TRA2B",
    "YBX1",
    "NCL",
    "NPM1",
    "PABPC1",
    "ELAVL1",
    "KHDRBS1",
    "SON",
    "SRRM2",
    "THOC2",
    "ALYREF",
    "CPSF6",
    "NUDT21",
)
HEME = (
    "ALAS2",
    "FECH",
    "UROD",
    "HMBS",
    "UROS",
    "SLC25A37",
    "ANK1",
    "SPTA1",
    "EPOR",
    "GYPC",
    "SLC4A1",
    "TFR2",
    "BLVRB",
    "CA1",
    "CA2",
    "TSPO2",
    "RHAG",
    "KEL",
    "TRIM58",
    "TMCC2",
    "XPO7",
    "HEMGN",
    "TAGLN2",
    "GNG5",
)
INTERFERON = ("ISG15", "IFIT1", "IFIT3", "MX1", "OAS1", "IFI6", "STAT1", "IFI44", "RSAD2", "IFITM1")
CHOLESTEROL = ("HMGCR", "HMGCS1", "LDLR", "INSIG1", "SQLE", "FDFT1", "MVD", "IDI1", "DHCR7", "SC5D")
AMINO_ACID = ("ASNS", "DDIT3", "SLC7A11", "SLC7A5", "SESN2", "CHAC1", "TRIB3", "PSAT1", "PHGDH", "VEGFA")
CELL_CYCLE = (
    "MKI67",
    "TOP2A",
    "CDCA8",
    "CCNB1",
    "CCNB2",
    "CDK1",
    "BUB1",
    "AURKA",
    "AURKB",
    "PLK1",
    "CENPF",
    "TPX2",
    "KIF11",
    "NUSAP1",
    "PRC1",
    "CDC20",
    "UBE2C",
    "BIRC5",
    "HMGB2",
    "TUBB4B",
    "RRM2",
    "PCNA",
    "MCM2",
    "MCM3",
)
ERYTHROID_STATE = ("TXNIP", "DESI2", "EPB41", "GLRX2", "SUCLG1", "RBBP4", "KLF1", "PKLR", "GATA1", "NFE2")
STRESS = ("HSPA1A", "HSPA1B", "DNAJB1", "HSPH1", "JUN", "FOS", "EGR1", "IER2", "ATF3", "DUSP1")

MITO = (
    "MT-ND1",
    "MT-ND2",
    "MT-CO1",
    "MT-CO2",
    "MT-ATP8",
    "MT-ATP6",
    "MT-CO3",
    "MT-ND3",
    "MT-ND4L",
    "MT-ND4",
    "MT-ND5",
    "MT-ND6",
    "MT-CYB",
)
RIBO = (
    "RPL3",
    "RPL4",
    "RPL5",
    "RPL7",
    "RPL8",
    "RPL10",
    "RPL13",
    "RPL18",
    "RPL21",
    "RPL32",
    "RPLP0",
    "RPLP1",
    "RPS2",
    "RPS3",
    "RPS4X",
    "RPS6",
    "RPS8",
    "RPS12",
    "RPS18",
    "RPS27A",
)
HEMOGLOBIN = ("HBG1", "HBG2", "HBZ", "HBE1", "HBA1", "HBA2")

# name, upstream regulator (None for cell states), share of the free genes, real symbols, kind
MODULE_SPECS: tuple[tuple[str, str | None, float, tuple[str, ...], str], ...] = (
    ("gfi1b_targets", "GFI1B", 0.15, HEME, "regulatory"),
    ("rna_processing", "MYC", 0.14, RNA_PROCESSING, "regulatory"),
    ("interferon", "IRF1", 0.05, INTERFERON, "regulatory"),
    ("cholesterol", "SREBF2", 0.05, CHOLESTEROL, "regulatory"),
    ("amino_acid_stress", "ATF4", 0.05, AMINO_ACID, "regulatory"),
    ("state_cell_cycle", None, 0.08, CELL_CYCLE, "state"),
    ("state_erythroid", None, 0.07, ERYTHROID_STATE, "state"),
    ("state_stress", None, 0.05, STRESS, "state"),
    ("shared_response", None, 0.08, (), "shared"),
)
STATES = tuple(name for name, _, _, _, kind in MODULE_SPECS if kind == "state")


# The 28 CRISPRi TSS targets of STING-seq v2 with hg38 TSS coordinates (the authors' morris_28genes_tss.csv, tests/data;
# CD55 has a locus but no cells), in the order of the authors' TSS table: gene, chrom, tss, strand.
TSS_TARGETS: tuple[tuple[str, str, int, str], ...] = (
    ("CD52", "chr1", 26317958, "+"),
    ("CD58", "chr1", 116571026, "-"),
    ("FCGR2A", "chr1", 161505430, "+"),
    ("CD55", "chr1", 207321519, "+"),
    ("ITGB1", "chr10", 33005792, "-"),
    ("ENTPD1", "chr10", 95711779, "+"),
    ("CD81", "chr11", 2376166, "+"),
    ("CD44", "chr11", 35138882, "+"),
    ("CD82", "chr11", 44564414, "+"),
    ("SLC3A2", "chr11", 62855970, "+"),
    ("KLRG1", "chr12", 8950044, "+"),
    ("CD69", "chr12", 9760901, "-"),
    ("KLRD1", "chr12", 10226058, "+"),
    ("TNFSF13B", "chr13", 108251240, "+"),
    ("LGALS3", "chr14", 55121352, "+"),
    ("B2M", "chr15", 44711253, "+"),
    ("IL21R", "chr16", 27402174, "+"),
    ("CD19", "chr16", 28931965, "+"),
    ("ITGAE", "chr17", 3801193, "-"),
    ("TNFSF9", "chr19", 6531026, "+"),
    ("ICAM1", "chr19", 10271093, "+"),
    ("NECTIN2", "chr19", 44846175, "+"),
    ("EPCAM", "chr2", 47345158, "+"),
    ("CD40", "chr20", 46118249, "+"),
    ("TFRC", "chr3", 196082162, "-"),
    ("CD83", "chr6", 14117256, "+"),
    ("MSR1", "chr8", 16567490, "-"),
    ("GFI1B", "chr9", 132944000, "+"),
)


def target_tss() -> pd.DataFrame:
    """The 28 TSS targets with hg38 coordinates, in the authors' table order (columns as their TSS csv)."""
    return pd.DataFrame(TSS_TARGETS, columns=["gene_name", "chrom", "tss", "strand"])


def target_cell_counts(preset: Preset) -> dict[str, int]:
    """Cells per TSS target: the published counts scaled to the preset (exact for `paper`), at least 4."""
    scale = preset.cells_per_target / PUBLISHED_CELLS_PER_TARGET
    return {g: max(4, round(n * scale)) for g, n in PUBLISHED_CELLS.items()}


def full_gene_count(preset: Preset) -> int:
    return FULL_GENES.get(preset.name, 2 * preset.n_genes)


# ----------------------------------------------------------------------------------------------------------------
# Genes and the causal network
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class GeneDesign:
    """Every gene of the raw matrix with its parameters, and the causal network over the regulated genes.

    `genes` (index = symbol, rows in internal order: the `n_net` network genes first) has columns
    chrom, tss, strand, category, module, base (expected count at LIB_REF), theta (NB shape), dropout,
    det2 (detection rate in the second screen), curated, full.
    """

    genes: pd.DataFrame
    n_net: int  # network genes = curated + the held-out targets outside it; they come first
    W: np.ndarray  # [n_net, n_net] direct effects, W[s, t]; upper triangular (network genes in topological order)
    state_loading: np.ndarray  # [n_states, n_net]
    shared: np.ndarray  # [n_net] log effect shared by every perturbed cell
    modules: pd.DataFrame  # gene, module, role (regulator|member), kind (regulatory|state|shared)
    T: np.ndarray = field(init=False)  # [n_net, n_net] total downstream effects

    def __post_init__(self):
        self.T = self._total_effects()

    def _total_effects(self) -> np.ndarray:
        """[n_net, n_net] total downstream effects (I - W)^-1 - I: all paths of the DAG, summed."""
        eye = np.eye(self.n_net)
        return np.linalg.inv(eye - self.W) - eye

    def add_edges(self, edges: list[tuple[str, str, float]]) -> None:
        """Add direct effects (source, target, weight) and recompute T; edges must follow the topological order."""
        pos = self.position
        for src, dst, w in edges:
            if pos[src] >= pos[dst]:
                raise ValueError(f"edge {src}->{dst} breaks the topological order of the network")
            self.W[pos[src], pos[dst]] = w
        self.T = self._total_effects()

    @property
    def position(self) -> dict[str, int]:
        """Row/column of each network gene in W and T."""
        return {g: i for i, g in enumerate(self.genes.index[: self.n_net])}

    @property
    def raw_order(self) -> list[str]:
        """Gene order of the raw count matrix: genomic (chromosome, TSS), chrM last, like 10x features."""
        return _genomic_order(self.genes)

    @property
    def curated(self) -> list[str]:
        """Curated genes in screen order: genomic order, GFI1B appended last (as in the published list)."""
        cur = self.genes[self.genes["curated"] & (self.genes.index != "GFI1B")]
        return _genomic_order(cur) + ["GFI1B"]

    @property
    def full(self) -> list[str]:
        """Full gene set (genes detected in >= 10% of cells, without MT-/RP/HB genes) in genomic order."""
        return _genomic_order(self.genes[self.genes["full"]])

    def edges(self) -> pd.DataFrame:
        src, dst = np.nonzero(self.W)
        names = self.genes.index.to_numpy()
        w = self.W[src, dst]
        return pd.DataFrame(
            {"source": names[src], "target": names[dst], "sign": np.sign(w).astype(int), "weight": w.round(4)}
        )


def _genomic_order(df: pd.DataFrame) -> list[str]:
    chrom_rank = {c: i for i, c in enumerate([*HG38_CHROMSIZES_NO_Y, "chrM"])}
    key = df["chrom"].map(chrom_rank) * 1e10 + df["tss"]
    return key.sort_values(kind="stable").index.tolist()


def design_genes(preset: Preset, rng: np.random.Generator, protein_genes: list[str]) -> GeneDesign:
    """Choose genes, their parameters, modules, cell states and a sparse causal DAG.

    `protein_genes` are the non-target genes of expressed surface proteins that must be in the curated list
    (the mRNA/protein overlap of the CD52 analysis). The random draws happen in a fixed order: module members,
    the network order, extra gene names, the causal network, cell states, expression parameters, placement.
    """
    tss = target_tss()
    targets = tss["gene_name"].tolist()  # 28, incl. CD55 (locus without cells)
    curated_targets = [g for g in targets if g not in NOT_CURATED_TARGETS]
    regulators = [r for _, r, _, _, kind in MODULE_SPECS if kind == "regulatory" and r != "GFI1B"]
    fixed = curated_targets + [g for g in protein_genes if g not in targets] + regulators
    n_free = preset.n_genes - len(fixed)
    if n_free < 2 * len(MODULE_SPECS):
        raise ValueError(
            f"preset {preset.name!r}: n_genes={preset.n_genes} is too small for the simulator "
            f"(needs at least {len(fixed) + 2 * len(MODULE_SPECS)})"
        )
    synth = _SyntheticNames(rng)
    members, modules = _module_members(n_free, set(fixed) | set(NOT_CURATED_TARGETS), synth)
    n_other = preset.n_genes - len(fixed) - sum(len(v) for v in members.values())
    other = [synth.next() for _ in range(n_other)]

    # --- internal order: network genes (a topological order) first ---
    rest_targets = [g for g in targets if g not in ("CD52", "GFI1B")]
    rest_targets = list(rng.permutation(rest_targets))
    module_genes = [g for name, *_ in MODULE_SPECS for g in members[name]]
    free = list(rng.permutation(module_genes + other + [g for g in protein_genes if g not in targets]))
    net = ["CD52", "GFI1B", *rest_targets, *regulators, *free]
    n_net = len(net)
    pos = {g: i for i, g in enumerate(net)}

    n_full = full_gene_count(preset)
    n_noisy = n_full - preset.n_genes - len(NOT_CURATED_TARGETS)
    n_low = max(8, preset.n_genes // 4)
    noisy = [synth.next() for _ in range(n_noisy)]
    low = [synth.next() for _ in range(n_low)]
    symbols = net + noisy + low + list(MITO) + list(RIBO) + list(HEMOGLOBIN)

    W = _causal_network(preset, rng, members, pos, rest_targets + ["CD52"], regulators, free, other)
    state_loading, shared = _cell_states(rng, members, pos)
    genes = _gene_parameters(rng, symbols, pos, n_net, targets, regulators, protein_genes, members, noisy, low)
    chrom, tss_pos, strand = _place_genes(symbols, tss, rng)
    genes.insert(0, "strand", strand)
    genes.insert(0, "tss", tss_pos)
    genes.insert(0, "chrom", chrom)
    module_of = modules.drop_duplicates("gene").set_index("gene")["module"]
    genes.insert(4, "module", [module_of.get(g, "") for g in symbols])
    return GeneDesign(genes=genes, n_net=n_net, W=W, state_loading=state_loading, shared=shared, modules=modules)


def _module_members(n_free: int, used: set[str], synth: _SyntheticNames) -> tuple[dict[str, list[str]], pd.DataFrame]:
    """Members of each module (real symbols first, then synthetic names) and the gene/module/role/kind table."""
    rows: list[tuple[str, str, str, str]] = []  # gene, module, role, kind
    members: dict[str, list[str]] = {}
    for name, reg, share, real, kind in MODULE_SPECS:
        size = max(2, round(share * n_free))
        real_left = [g for g in real if g not in used]
        chosen = real_left[:size] + [synth.next() for _ in range(size - min(size, len(real_left)))]
        used.update(chosen)
        members[name] = chosen
        if reg is not None:
            rows.append((reg, name, "regulator", kind))
        rows += [(g, name, "member", kind) for g in chosen]
    rows.append(("GFI1B", "state_erythroid", "member", "state"))  # GFI1B co-varies with a state: the confounder
    return members, pd.DataFrame(rows, columns=["gene", "module", "role", "kind"])


def _signed(rng: np.random.Generator, lo: float, hi: float, p_neg: float = 0.5) -> float:
    """A weight uniform in [lo, hi), negative with probability `p_neg`."""
    return float(rng.uniform(lo, hi) * (-1 if rng.random() < p_neg else 1))


def _causal_network(
    preset: Preset,
    rng: np.random.Generator,
    members: dict[str, list[str]],
    pos: dict[str, int],
    perturbed: list[str],
    regulators: list[str],
    free: list[str],
    other: list[str],
) -> np.ndarray:
    """W [net, net]: the causal DAG in network order (GFI1B hub, module regulators, perturbation targets,
    sparse background wiring); an edge against the order is a bug."""
    W = np.zeros((len(pos), len(pos)))

    def link(src: str, dst: str, w: float) -> None:
        if pos[src] >= pos[dst]:
            raise AssertionError(f"edge {src}->{dst} breaks the topological order")
        W[pos[src], pos[dst]] = w

    for g in members["gfi1b_targets"]:
        link("GFI1B", g, _signed(rng, 0.5, 1.0, p_neg=0.75))  # GFI1B mostly represses (SNAG/LSD1)
    for name, reg, *_ in MODULE_SPECS:
        if reg is not None and reg != "GFI1B":
            for g in members[name]:
                link(reg, g, _signed(rng, 0.4, 0.9, p_neg=0.1))
    link("GFI1B", "MYC", 0.8)  # the RNA-processing module sits downstream of GFI1B ...
    link("CD52", "MYC", 0.35)  # ... and of CD52
    state_genes = {g for name in STATES for g in members[name]}
    targetable = [g for g in free if g not in state_genes]  # cell-state genes are never regulated
    degree = max(2, round(0.02 * preset.n_genes))
    for t in perturbed:
        for g in rng.choice(targetable, size=min(len(targetable), rng.poisson(degree) + 1), replace=False):
            link(t, g, _signed(rng, 0.2, 0.6))
        if t != "CD52" and rng.random() < 0.4:
            link(t, str(rng.choice(regulators)), _signed(rng, 0.3, 0.6))
    other_pos = sorted(pos[g] for g in other)
    for i, p in enumerate(other_pos[1:], start=1):  # sparse background wiring among the other genes
        for q in rng.choice(other_pos[:i], size=min(i, rng.poisson(0.4)), replace=False):
            W[q, p] = _signed(rng, 0.1, 0.35)
    return W


def _cell_states(
    rng: np.random.Generator, members: dict[str, list[str]], pos: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Cell-state loadings [states, net] (GFI1B loads on the erythroid state) and the shared response [net]."""
    state_loading = np.zeros((len(STATES), len(pos)))
    for k, name in enumerate(STATES):
        for g in members[name]:
            state_loading[k, pos[g]] = rng.uniform(0.5, 0.9)
    state_loading[STATES.index("state_erythroid"), pos["GFI1B"]] = 0.8
    shared = np.zeros(len(pos))
    for g in members["shared_response"]:
        shared[pos[g]] = _signed(rng, 0.3, 0.6)
    return state_loading, shared


def _gene_parameters(
    rng: np.random.Generator,
    symbols: list[str],
    pos: dict[str, int],
    n_net: int,
    targets: list[str],
    regulators: list[str],
    protein_genes: list[str],
    members: dict[str, list[str]],
    noisy: list[str],
    low: list[str],
) -> pd.DataFrame:
    """Per gene: category, base expression, dispersion, dropout, detection in the second screen, curated/full."""
    G = len(symbols)
    base = np.empty(G)
    theta = np.full(G, 5.0)
    dropout = np.zeros(G)
    det2 = np.empty(G)
    category = np.empty(G, dtype=object)
    for i, g in enumerate(symbols):
        if i < n_net:
            category[i] = "target" if g in targets else ("regulator" if g in regulators else "gene")
        elif g in noisy:
            category[i] = "noisy"
        elif g in low:
            category[i] = "low"
        else:
            category[i] = "excluded"
    net_arr = np.arange(G) < n_net
    base[net_arr] = np.clip(rng.lognormal(np.log(0.1), 0.9, n_net), 0.18, 40)
    theta[net_arr] = rng.lognormal(np.log(5), 0.3, n_net)
    dropout[net_arr] = rng.uniform(0, 0.02, n_net)
    for g in targets:
        base[pos[g]] = np.clip(rng.lognormal(np.log(0.5), 0.8), 0.25, 15)
    for g in protein_genes:
        base[pos[g]] = np.clip(rng.lognormal(np.log(1.5), 0.5), 0.5, 8)
    for g in regulators:
        base[pos[g]] = rng.uniform(1, 3)
    for name, median in (
        ("state_cell_cycle", 0.3),
        ("rna_processing", 0.5),
        ("shared_response", 0.6),
        ("gfi1b_targets", 0.25),
    ):
        for g in members[name]:  # housekeeping-like genes are better expressed
            base[pos[g]] = np.clip(rng.lognormal(np.log(median), 0.7), 0.25, 20)
    # GFI1B: 0.8 counts at LIB_REF = NTC mean CPM ~0.31 at CPM_SCALE, as published (zero-count cells at -0.39)
    for g, lam in {"CD52": 6.0, "TFRC": 12.0, "CD44": 3.0, "TNFSF9": 0.8, "GFI1B": 0.8, "CD55": 1.5}.items():
        base[pos[g]] = lam
    is_noisy = category == "noisy"
    base[is_noisy] = rng.uniform(1.5, 3.0, is_noisy.sum())
    dropout[is_noisy] = rng.uniform(0.55, 0.75, is_noisy.sum())
    theta[is_noisy] = 2.0
    is_low = category == "low"
    base[is_low] = rng.uniform(0.01, 0.05, is_low.sum())
    is_exc = category == "excluded"
    rest = max(0.3 * LIB_REF, LIB_REF - (base * (1 - dropout))[~is_exc].sum())  # big genes fill the library
    base[is_exc] = rest * rng.dirichlet(np.full(is_exc.sum(), 2.0))
    theta[is_exc] = 20.0

    # Second screen (Gasperini-like): detects the network genes, not the noisy ones, nor GFI1B/TFRC/CD44/TNFSF9.
    det2[:] = np.clip(1 - np.exp(-0.8 * base) + rng.normal(0, 0.02, G), 0, 1)
    det2[net_arr] = np.maximum(det2[net_arr], 0.12)
    det2[is_noisy] = rng.uniform(0.0, 0.06, is_noisy.sum())
    for g in ("GFI1B", *NOT_CURATED_TARGETS):
        det2[pos[g]] = rng.uniform(0.01, 0.06)

    curated = net_arr.copy()
    for g in NOT_CURATED_TARGETS:
        curated[pos[g]] = False
    full = curated | is_noisy | np.isin(symbols, NOT_CURATED_TARGETS)
    return pd.DataFrame(
        {
            "category": category,
            "base": base,
            "theta": theta,
            "dropout": dropout,
            "det2": det2,
            "curated": curated,
            "full": full,
        },
        index=pd.Index(symbols, name="gene"),
    )


class _SyntheticNames:
    """Neutral synthetic symbols (G00017 ...) in random order, so a name never reveals a gene's role."""

    def __init__(self, rng: np.random.Generator, pool: int = 20_000):
        self._ids = rng.permutation(pool)
        self._i = 0

    def next(self) -> str:
        name = f"G{self._ids[self._i]:05d}"
        self._i += 1
        return name


def _place_genes(symbols: list[str], tss: pd.DataFrame, rng: np.random.Generator):
    """Real coordinates for the 28 targets; random hg38 positions (>= 5 kb apart) for the rest; chrM for MT-."""
    real = tss.set_index("gene_name")
    chroms = list(HG38_CHROMSIZES_NO_Y)
    weights = np.array([HG38_CHROMSIZES_NO_Y[c] for c in chroms], dtype=float)
    weights /= weights.sum()
    gap = 5_000
    taken: set[tuple[str, int]] = set()  # (chrom, position // gap) of every placed TSS

    def free(c: str, p: int) -> bool:
        return not any((c, p // gap + k) in taken for k in (-1, 0, 1))

    for _, row in real.iterrows():
        taken.add((row["chrom"], int(row["tss"]) // gap))
    chrom, pos, strand = [], [], []
    for i, g in enumerate(symbols):
        if g in real.index:
            chrom.append(real.at[g, "chrom"])
            pos.append(int(real.at[g, "tss"]))
            strand.append(real.at[g, "strand"])
        elif g.startswith("MT-"):
            chrom.append("chrM")
            pos.append(1_000 + 1_200 * i % 16_000)
            strand.append("+")
        else:
            while True:
                c = chroms[rng.choice(len(chroms), p=weights)]
                p = int(rng.integers(1_000_000, HG38_CHROMSIZES_NO_Y[c] - 1_000_000))
                if free(c, p):
                    break
            taken.add((c, p // gap))
            chrom.append(c)
            pos.append(p)
            strand.append("+" if rng.random() < 0.5 else "-")
    return chrom, np.asarray(pos, dtype=np.int64), strand


# ----------------------------------------------------------------------------------------------------------------
# Loci
# ----------------------------------------------------------------------------------------------------------------


def build_loci(preset: Preset, design: GeneDesign, rng: np.random.Generator) -> pd.DataFrame:
    """TSS loci of the 28 targets + SNP loci 20-50 kb (scaled to the DNA window) from a cis gene's TSS.

    Columns: locus_id, chrom, center, strand, kind (TSS|SNP), gene (the target / the cis gene),
    cis_effect (fraction of cis expression removed; 0 for null SNPs, NaN for TSS), distance (SNP - TSS, bp).
    """
    tss = target_tss()
    rows = [
        {
            "locus_id": r.gene_name,
            "chrom": r.chrom,
            "center": int(r.tss),
            "strand": r.strand,
            "kind": "TSS",
            "gene": r.gene_name,
            "cis_effect": np.nan,
            "distance": 0,
        }
        for r in tss.itertuples()
    ]
    half = preset.n_bins * preset.bin_size // 2
    lo, hi = min(20_000, 0.35 * half), min(50_000, 0.85 * half)
    genes = design.genes
    cur = genes[genes["curated"]]
    near_target = cur.index[cur["category"] == "target"].drop(["CD55"], errors="ignore").tolist()
    genic = cur[cur["category"] == "gene"]
    near_other = genic.index[genic["base"] >= genic["base"].median()].tolist()  # cis genes expressed enough to see
    n = preset.n_snp_loci
    n_t = min(len(near_target), round(0.25 * n))
    cis = list(rng.choice(near_target, n_t, replace=False)) + list(
        rng.choice(near_other, n - n_t, replace=n - n_t > len(near_other))
    )
    cis = [cis[i] for i in rng.permutation(n)]
    for k, g in enumerate(cis, start=1):
        d = int(rng.uniform(lo, hi)) * (1 if rng.random() < 0.5 else -1)
        effect = 0.0 if rng.random() < 0.3 else float(rng.uniform(0.2, 0.6))
        rows.append(
            {
                "locus_id": f"SNP-{k}",
                "chrom": genes.at[g, "chrom"],
                "center": int(genes.at[g, "tss"]) + d,
                "strand": "+",
                "kind": "SNP",
                "gene": g,
                "cis_effect": round(effect, 4),
                "distance": d,
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------------------------
# Cells and guides
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Cells:
    """Every barcode of the raw matrix and what truly happened in it.

    `table` (one row per barcode, raw order): barcode, category (TSS|NTC|SNP|multiplet|subthreshold|no_guide),
    perturbations (';'-joined target symbols / SNP ids / NTC), library, kd_1, kd_2 (log knockdown, 0 if none),
    strength (m), z_<state> columns.
    Arrays are aligned with the table rows; `knocked` holds network-gene indices (-1 = none).
    """

    table: pd.DataFrame
    lib: np.ndarray  # [C]
    z: np.ndarray  # [C, n_states]
    strength: np.ndarray  # [C]
    shared_u: np.ndarray  # [C] 0 for unperturbed cells
    knocked: np.ndarray  # [C, 2] int
    delta: np.ndarray  # [C, 2] log knockdown

    def __len__(self) -> int:
        return len(self.table)

    def log_change(self, design: GeneDesign, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """True log expression change [len(rows), len(cols)] of network genes `cols` in cells `rows`."""
        d = self.z[rows] @ design.state_loading[:, cols] + self.shared_u[rows, None] * design.shared[None, cols]
        for j in range(self.knocked.shape[1]):
            k = self.knocked[rows, j]
            hit = k >= 0
            if not hit.any():
                continue
            r, kk = np.nonzero(hit)[0], k[hit]
            dl = self.delta[rows[r], j]
            d[r] += (dl * self.strength[rows[r]])[:, None] * design.T[np.ix_(kk, cols)]
            d[r] += dl[:, None] * (kk[:, None] == cols[None, :])
        return d


def design_cells(
    preset: Preset, design: GeneDesign, loci: pd.DataFrame, rng: np.random.Generator
) -> tuple[Cells, pd.DataFrame, pd.DataFrame]:
    """Draw cells (assigned, multiplets, sub-threshold, guide-less) with their guide UMIs.

    Returns the cells, the long guide table (barcode, guide, target, umi) and the given SNP assignments
    (barcode, locus), which stand in for the original publication's SNP calls.
    """
    pos = design.position
    snp = loci[loci["kind"] == "SNP"].set_index("locus_id")
    per_target = target_cell_counts(preset)
    n_snp_cells = np.maximum(1, rng.negative_binomial(1.2, 1.2 / (1.2 + preset.cells_per_snp), len(snp)))

    # one spec per cell: (category, [perturbations])
    specs: list[tuple[str, list[str]]] = []
    for t, n in per_target.items():
        specs += [("TSS", [t])] * n
    specs += [("NTC", ["NTC"])] * preset.n_ntc_cells
    for locus, n in zip(snp.index, n_snp_cells, strict=True):
        specs += [("SNP", [locus])] * int(n)
    n_assigned = sum(per_target.values()) + preset.n_ntc_cells
    tss_targets = list(per_target)
    choices = tss_targets + ["NTC"]
    for _ in range(round(0.12 * n_assigned)):
        a, b = rng.choice(len(choices), 2, replace=False)
        specs.append(("multiplet", [choices[a], choices[b]]))
    for _ in range(round(0.10 * n_assigned)):
        specs.append(("subthreshold", [choices[rng.integers(len(choices))]]))
    specs += [("no_guide", [])] * round(0.03 * n_assigned)
    specs = [specs[i] for i in rng.permutation(len(specs))]
    C = len(specs)

    lib = rng.lognormal(np.log(LIB_REF), 0.35, C)
    z = rng.normal(size=(C, len(STATES)))
    strength = np.exp(KD_STRENGTH_STATE * z[:, STATES.index("state_erythroid")])
    knocked = np.full((C, 2), -1)
    delta = np.zeros((C, 2))
    perturbed = np.zeros(C, dtype=bool)
    for c, (_, perts) in enumerate(specs):
        for j, p in enumerate(perts):
            if p == "NTC":
                continue
            perturbed[c] = True
            if p in snp.index:
                effect = snp.at[p, "cis_effect"]
                if effect > 0:
                    knocked[c, j] = pos[snp.at[p, "gene"]]
                    delta[c, j] = max(np.log(0.05), np.log1p(-effect) * rng.uniform(0.5, 1.5))
            else:
                knocked[c, j] = pos[p]
                delta[c, j] = np.log(max(0.02, rng.beta(2, 6)))  # CRISPRi leaves ~25% of the mRNA
    shared_u = np.where(perturbed, rng.uniform(0.5, 1.5, C), 0.0)

    barcodes = _barcodes(C, rng)
    guides, snp_given = _guide_umis(specs, barcodes, list(snp.index), tss_targets, rng)
    table = pd.DataFrame(
        {
            "barcode": barcodes,
            "category": [s[0] for s in specs],
            "perturbations": [";".join(s[1]) for s in specs],
            "library": lib.round(1),
            "kd_1": delta[:, 0].round(4),
            "kd_2": delta[:, 1].round(4),
            "strength": strength.round(4),
            **{f"z_{name}": z[:, k].round(4) for k, name in enumerate(STATES)},
        }
    )
    return Cells(table, lib, z, strength, shared_u, knocked, delta), guides, snp_given


def _barcodes(n: int, rng: np.random.Generator) -> list[str]:
    letters = np.array(list("ACGT"))
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        for row in rng.integers(0, 4, size=(n - len(out), 16)):
            bc = "".join(letters[row]) + "-1"
            if bc not in seen:
                seen.add(bc)
                out.append(bc)
    return out


def _guide_umis(specs, barcodes, snp_ids, tss_targets, rng):
    """Guide UMI rows: the cell's own guide(s) plus ambient background guides (<= BACKGROUND_UMI_MAX each)."""
    guides_of = {t: [f"{t}_g1", f"{t}_g2"] for t in [*tss_targets, *snp_ids]}
    guides_of["NTC"] = [f"NTC_g{i}" for i in range(1, 9)]
    all_targets = list(guides_of)
    rows: list[tuple[str, str, str, int]] = []
    snp_given: list[tuple[str, str]] = []

    def strong() -> int:
        return 50 + int(rng.lognormal(np.log(150), 0.8))

    for bc, (cat, perts) in zip(barcodes, specs, strict=True):
        own = set(perts)
        for p in perts:
            g = guides_of[p]
            if cat == "SNP":
                rows.append((bc, g[rng.integers(2)], p, 1 + int(rng.lognormal(np.log(120), 0.9))))
                snp_given.append((bc, p))
            elif cat == "subthreshold":
                rows.append((bc, g[rng.integers(len(g))], p, int(rng.integers(3, 50))))
            elif cat == "TSS" and rng.random() < 0.05:  # both guides of the same target: still one target
                rows += [(bc, g[0], p, strong()), (bc, g[1], p, strong())]
            else:
                rows.append((bc, g[rng.integers(len(g))], p, strong()))
        n_bg = rng.poisson(1.5)
        if n_bg:
            pool = [t for t in all_targets if t not in own]
            for t in rng.choice(pool, size=min(n_bg, len(pool)), replace=False):
                g = guides_of[t]
                rows.append((bc, g[rng.integers(len(g))], str(t), min(BACKGROUND_UMI_MAX, int(rng.geometric(0.4)))))
    guides = pd.DataFrame(rows, columns=["barcode", "guide", "target", "umi"])
    return guides, pd.DataFrame(snp_given, columns=["barcode", "locus"])


# ----------------------------------------------------------------------------------------------------------------
# Counts
# ----------------------------------------------------------------------------------------------------------------


def sample_counts(
    design: GeneDesign, cells: Cells, rng: np.random.Generator, keep: np.ndarray, chunk: int = 1024
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Gamma-Poisson counts with dropout, cells x all genes (internal order), in chunks of cells.

    Also returns the true log change [C, len(keep)] of the network genes `keep` (the protein wiring needs it).
    """
    G, n_net, C = len(design.genes), design.n_net, len(cells)
    base = design.genes["base"].to_numpy()
    theta = design.genes["theta"].to_numpy()
    dropout = design.genes["dropout"].to_numpy()
    net_cols = np.arange(n_net)
    blocks, kept = [], np.zeros((C, len(keep)), dtype=np.float32)
    for start in range(0, C, chunk):
        rows = np.arange(start, min(C, start + chunk))
        d = cells.log_change(design, rows, net_cols)  # [B, n_net]
        kept[rows] = d[:, keep]
        rate = np.broadcast_to(base * (cells.lib[rows, None] / LIB_REF), (len(rows), G)).copy()
        rate[:, :n_net] *= np.exp(d)
        counts = rng.poisson(rng.gamma(theta, rate / theta))
        counts[rng.random(counts.shape) < dropout] = 0
        blocks.append(sp.csr_matrix(counts.astype(np.int32)))
    return sp.vstack(blocks, format="csr"), kept
