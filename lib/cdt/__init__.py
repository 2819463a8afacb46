"""Central Dogma Transformer toolkit: CDT v1, CDT-II and CDT-III models, interpretation and the papers' figures."""

import os
import sys


def _quiet_openmp_workers() -> None:
    """Keep idle OpenMP workers from spinning, wherever the package runs (CLI, notebook kernels, scripts).

    On a shared CPU a spinning worker takes the core another thread needs, and a 2-thread training step ran
    10-20x slower. The wait policy is read once, when torch loads its OpenMP runtime, so it is set here before
    anything imports torch; a user's own setting wins. If torch was imported first the policy can no longer
    change, and one torch thread avoids the stalled barriers instead (unless the user chose a thread count).
    """
    if "OMP_WAIT_POLICY" in os.environ:
        return
    if "torch" not in sys.modules:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # inherited by every subprocess, papermill kernels included
    elif "OMP_NUM_THREADS" not in os.environ:
        sys.modules["torch"].set_num_threads(1)


_quiet_openmp_workers()

__version__ = "0.1.0"
