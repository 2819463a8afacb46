"""CDT v1, CDT-II and CDT-III models, their shared blocks, and checkpoint I/O."""

from cdt.models.blocks import ModelOutput
from cdt.models.cdt1 import CDT1, CDT1Config
from cdt.models.cdt2 import CDT2, CDT2Config
from cdt.models.cdt3 import CDT3, CDT3Config

__all__ = ["CDT1", "CDT1Config", "CDT2", "CDT2Config", "CDT3", "CDT3Config", "ModelOutput"]
