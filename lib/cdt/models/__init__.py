"""CDT v1, CDT-II and CDT-III models, their shared blocks, and checkpoint I/O.

Architecture read-outs (module table, parameter counts) live in `cdt.models.summary`; the drawing in `cdt.pl.schematic`.
"""

from cdt.models.blocks import ModelOutput
from cdt.models.cdt1 import CDT1, CDT1Config
from cdt.models.cdt2 import CDT2, CDT2Config
from cdt.models.cdt3 import CDT3, CDT3Config
from cdt.models.checkpoints import (
    CheckpointError,
    load_checkpoint,
    load_published_cdt2,
    load_published_cdt3,
    save_checkpoint,
    transfer_cdt2_to_cdt3,
)

__all__ = [
    "CDT1",
    "CDT1Config",
    "CDT2",
    "CDT2Config",
    "CDT3",
    "CDT3Config",
    "CheckpointError",
    "ModelOutput",
    "load_checkpoint",
    "load_published_cdt2",
    "load_published_cdt3",
    "save_checkpoint",
    "transfer_cdt2_to_cdt3",
]
