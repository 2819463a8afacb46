"""Data: the screen contract, the DNA embedding store, readers of real formats and the simulator."""

from cdt.data.dnastore import DNAStore, Locus, write_dna_store, write_virtual_dna_store
from cdt.data.errors import CDTError, ContractError, IncompleteOutputError, RunError, TrainingError
from cdt.data.screen import make_screen, read_screen, split_mask, validate_screen, write_screen

__all__ = [
    "CDTError",
    "ContractError",
    "IncompleteOutputError",
    "RunError",
    "TrainingError",
    "DNAStore",
    "Locus",
    "make_screen",
    "read_screen",
    "split_mask",
    "validate_screen",
    "write_dna_store",
    "write_virtual_dna_store",
    "write_screen",
]
