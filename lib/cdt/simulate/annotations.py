"""Annotation files of the simulated screen: gene-set libraries (GMT) with planted terms, and a side-effect table.

Each library carries terms planted on the simulated modules (most of a module's members plus unrelated genes, as
real annotations are incomplete and broad) and decoy terms of random genes. Genes are drawn from the raw matrix's
genes and a pool of genes never measured, so a genome-wide background (Enrichr's default) has something to cover.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from gseapy.parser import write_gmt

from cdt.simulate.screen import GeneDesign

PLANTED: dict[str, tuple[tuple[str, str], ...]] = {
    "GO_Molecular_Function_2023": (
        ("RNA Binding (GO:0003723)", "rna_processing"),
        ("Heme Binding (GO:0020037)", "gfi1b_targets"),
    ),
    "GO_Biological_Process_2023": (
        ("mRNA Processing (GO:0006397)", "rna_processing"),
        ("Type I Interferon-Mediated Signaling Pathway (GO:0060337)", "interferon"),
        ("Cholesterol Biosynthetic Process (GO:0006695)", "cholesterol"),
        ("Cell Division (GO:0051301)", "state_cell_cycle"),
    ),
    "GO_Cellular_Component_2023": (("Spliceosomal Complex (GO:0005681)", "rna_processing"),),
    "KEGG_2021_Human": (
        ("Spliceosome", "rna_processing"),
        ("Cell cycle", "state_cell_cycle"),
        ("Steroid biosynthesis", "cholesterol"),
    ),
    "Reactome_2022": (
        ("Metabolism Of RNA R-HSA-8953854", "rna_processing"),
        ("mRNA Splicing - Major Pathway R-HSA-72163", "rna_processing"),
        ("Interferon Alpha/Beta Signaling R-HSA-909733", "interferon"),
    ),
    "MSigDB_Hallmark_2020": (
        ("Heme Metabolism", "gfi1b_targets"),
        ("Myc Targets V1", "rna_processing"),
        ("Interferon Alpha Response", "interferon"),
        ("Cholesterol Homeostasis", "cholesterol"),
        ("G2-M Checkpoint", "state_cell_cycle"),
        ("mTORC1 Signaling", "amino_acid_stress"),
        ("TNF-alpha Signaling via NF-kB", "state_stress"),
    ),
}
"""Planted terms per library (Enrichr library names, so notebooks use the same names online and offline)."""

DECOYS: dict[str, tuple[str, ...]] = {
    "GO_Molecular_Function_2023": (
        "Protein Kinase Activity (GO:0004672)",
        "Metal Ion Binding (GO:0046872)",
        "Cadherin Binding (GO:0045296)",
        "GTPase Activity (GO:0003924)",
        "Actin Binding (GO:0003779)",
        "Transmembrane Transporter Activity (GO:0022857)",
        "Ubiquitin Protein Ligase Activity (GO:0061630)",
        "DNA-binding Transcription Factor Activity (GO:0003700)",
    ),
    "GO_Biological_Process_2023": (
        "Regulation Of Cell Adhesion (GO:0030155)",
        "Protein Phosphorylation (GO:0006468)",
        "Neutrophil Degranulation (GO:0043312)",
        "Axonogenesis (GO:0007409)",
        "Response To Hypoxia (GO:0001666)",
        "Lipid Transport (GO:0006869)",
        "Endocytosis (GO:0006897)",
        "Regulation Of Apoptotic Process (GO:0042981)",
    ),
    "GO_Cellular_Component_2023": (
        "Focal Adhesion (GO:0005925)",
        "Golgi Membrane (GO:0000139)",
        "Lysosome (GO:0005764)",
        "Mitochondrial Inner Membrane (GO:0005743)",
        "Endoplasmic Reticulum Membrane (GO:0005789)",
        "Cell-Cell Junction (GO:0005911)",
        "Nuclear Speck (GO:0016607)",
        "Cytoskeleton (GO:0005856)",
    ),
    "KEGG_2021_Human": (
        "MAPK signaling pathway",
        "Focal adhesion",
        "Lysosome",
        "Oxidative phosphorylation",
        "Endocytosis",
        "Axon guidance",
        "Insulin signaling pathway",
        "Regulation of actin cytoskeleton",
    ),
    "Reactome_2022": (
        "Signaling By Receptor Tyrosine Kinases R-HSA-9006934",
        "Neutrophil Degranulation R-HSA-6798695",
        "Vesicle-mediated Transport R-HSA-5653656",
        "Metabolism Of Lipids R-HSA-556833",
        "Extracellular Matrix Organization R-HSA-1474244",
        "Hemostasis R-HSA-109582",
        "Transport Of Small Molecules R-HSA-382551",
        "Cellular Responses To Stimuli R-HSA-8953897",
    ),
    "MSigDB_Hallmark_2020": (
        "Epithelial Mesenchymal Transition",
        "Hypoxia",
        "Apoptosis",
        "KRAS Signaling Up",
        "Glycolysis",
        "Oxidative Phosphorylation",
        "Xenobiotic Metabolism",
        "Estrogen Response Early",
    ),
}

SIDE_EFFECTS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("infusion reaction", ">90%", ("ICAM1", "ITGB1"), ("up", "up")),
    ("infection risk", "66-77%", ("CD58", "TFRC"), ("up", "up")),
    ("autoimmune thyroid disease", "36-42%", ("FCGR2A", "TNFRSF13C", "CD40"), ("up", "up", "up")),
    ("immune thrombocytopenia (ITP)", "2-3%", ("FCGR2A",), ("up",)),
    ("autoimmune nephropathy", "0.2-0.3%", ("MCAM",), ("up",)),
    ("lymphopenia", ">90%", ("CD52",), ("down",)),
    ("neutropenia", "5-15%", ("CD33",), ("down",)),
    ("Goodpasture syndrome", "<0.1%", (), ()),
    ("listeria meningitis", "rare", (), ()),
)
"""Alemtuzumab-like side effects and the proteins a curator would link them to (CDT-III Table 3's shape); CD33
and CD52 links are ones the simulated knockdown does not support (CD33 does not respond, CD52 protein is not
expressed)."""


def write_genesets(design: GeneDesign, out: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Write one GMT per library to `out` and return the planted-term table (library, term, module; decoys
    have module 'decoy')."""
    out.mkdir(parents=True, exist_ok=True)
    universe = design.genes.index.to_numpy(str)
    pool = np.concatenate([universe, [f"G{20_000 + i:05d}" for i in range(2 * len(universe))]])
    members = design.modules[design.modules["role"] == "member"].groupby("module")["gene"].apply(list)
    rows = []
    for library, planted in PLANTED.items():
        sets: dict[str, list[str]] = {}
        for term, module in planted:
            genes = np.asarray(members[module])
            core = rng.choice(genes, max(2, round(0.8 * len(genes))), replace=False)
            extra = rng.choice(pool, len(genes), replace=False)
            sets[term] = sorted(set(core) | set(extra))
            rows.append((library, term, module))
        for term in DECOYS[library]:
            size = int(rng.integers(max(5, len(universe) // 100), max(10, len(universe) // 10)))
            sets[term] = sorted(set(rng.choice(pool, size, replace=False)))
            rows.append((library, term, "decoy"))
        write_gmt(sets, str(out / f"{library}.gmt"), name=library)
    return pd.DataFrame(rows, columns=["library", "term", "module"])


def simulated_side_effects(proteins: list[str]) -> pd.DataFrame:
    """The side-effect annotation (columns as `data/alemtuzumab_side_effects.csv`), limited to panel proteins."""
    rows = []
    for effect, incidence, linked, direction in SIDE_EFFECTS:
        keep = [(p, d) for p, d in zip(linked, direction, strict=True) if p in proteins]
        rows.append(
            {
                "side_effect": effect,
                "incidence": incidence,
                "linked_genes": ";".join(p for p, _ in keep),
                "linked_direction": ";".join(d for _, d in keep),
                "literature": "simulated",
                "note": "Alemtuzumab-like annotation for the simulated screen",
            }
        )
    return pd.DataFrame(rows)
