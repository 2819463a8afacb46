"""Random-weight models and a matching screen + DNA store, small enough for exact brute-force comparisons.

Shared by the interpretation tests (attention, gradients, evaluation): the `tiny` preset's widths, shrunk to
10 genes, 8 DNA bins x 4 features and 6 proteins. Import from a test module (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import dataclasses

import torch
from cdt.config import get_preset
from cdt.data.dnastore import DNAStore
from cdt.models import CDT2, CDT3, CDT2Config, CDT3Config

N_BINS, DIM, N_GENES, N_PROT = 8, 4, 10, 6
TINY = get_preset("tiny")


def small_cdt2(seed: int = 0) -> CDT2:
    torch.manual_seed(seed)
    return CDT2(dataclasses.replace(CDT2Config.from_preset(TINY), n_genes=N_GENES, n_bins=N_BINS, dna_dim=DIM)).eval()


def small_cdt3(seed: int = 0) -> CDT3:
    torch.manual_seed(seed)
    cfg = dataclasses.replace(
        CDT3Config.from_preset(TINY), n_genes=N_GENES, n_bins=N_BINS, dna_dim=DIM, n_proteins=N_PROT
    )
    return CDT3(cfg).eval()


def small_screen_and_store(tiny_screen, tiny_dna_store, seed: int):
    """B2M, CD58 (train), CD52, GFI1B (test) x 4 cells, 2 SNP loci, 4 NTC cells, 6 proteins; a DNA store of its loci.

    Takes the conftest factories; the caller closes the store.
    """
    screen = tiny_screen(n_genes=N_GENES, held_out=("CD52", "GFI1B"), cells_per_target=4, n_proteins=N_PROT, seed=seed)
    loci = sorted(set(screen.obs["locus"]) - {""})
    return screen, DNAStore(tiny_dna_store(loci, n_bins=N_BINS, dim=DIM))
