"""Preprocessing (scanpy-style ``pp``): raw CRISPRi screens -> the screen contract and DNA store.

- guides:    guide UMI table -> one perturbation per cell (UMI >= 50, no competing target), QC table
- normalize: CPM on the full matrix -> ln(CPM + 1) input, log2FC vs the NTC mean target
- curate:    curated (detected in two screens + GFI1B) and full (>= 10%, no MT/ribo/Hb) gene sets
- proteins:  ADT counts -> DSB (muon) or the authors' isotype z-score; target = value - NTC mean
- embed_dna: Enformer trunk embeddings per TSS/SNP/enhancer window into the DNA store
- v1:        CDT v1 Gasperini pairs, enhancer-level split, genome-build check, the authors' v1 files
- prepare:   all of the above for one screen (`cdt prepare`)

muon, enformer-pytorch and pyfaidx are imported only by the functions that need them.
"""

from cdt.pp.curate import curated_genes, detection_rate, full_genes, is_excluded_gene, read_detection_table
from cdt.pp.embed_dna import embed_dna, fetch_window, load_enformer, one_hot, read_loci
from cdt.pp.guides import assign_guides, qc_table, read_guide_table, read_snp_assignments
from cdt.pp.normalize import Normalized, cpm, library_size, normalize
from cdt.pp.prepare import Prepared, build_screen, check_counts, gene_split, prepare, read_counts
from cdt.pp.proteins import (
    Proteins,
    dsb_normalize,
    expressed_proteins,
    isotype_mask,
    isotype_zscore,
    prepare_proteins,
    read_adt,
)
from cdt.pp.v1 import (
    attach_targets,
    authors_window_rows,
    check_genome,
    convert_authors_v1,
    enhancer_loci,
    enhancer_split,
    prepare_v1,
    read_gasperini,
    read_v1_embeddings,
)

__all__ = [
    "Normalized",
    "Prepared",
    "Proteins",
    "assign_guides",
    "attach_targets",
    "authors_window_rows",
    "build_screen",
    "check_counts",
    "check_genome",
    "convert_authors_v1",
    "cpm",
    "curated_genes",
    "detection_rate",
    "dsb_normalize",
    "embed_dna",
    "enhancer_loci",
    "enhancer_split",
    "expressed_proteins",
    "fetch_window",
    "full_genes",
    "gene_split",
    "is_excluded_gene",
    "isotype_mask",
    "isotype_zscore",
    "library_size",
    "load_enformer",
    "normalize",
    "one_hot",
    "prepare",
    "prepare_proteins",
    "prepare_v1",
    "qc_table",
    "read_adt",
    "read_counts",
    "read_detection_table",
    "read_gasperini",
    "read_guide_table",
    "read_loci",
    "read_snp_assignments",
    "read_v1_embeddings",
]
