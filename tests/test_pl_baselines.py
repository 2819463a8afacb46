"""cdt.pl.baselines: figures read their tables and label methods and truths in words (no code names as labels)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from cdt.pl.baselines import RECOVERY_LABELS, recovery_heatmap  # noqa: E402


def test_recovery_heatmap_labels_methods_and_truths_in_words():
    genes = pd.DataFrame(
        [
            (m, t, v)
            for m in ("attention (query->key)", "spearman_ntc", "mean (both genes)")
            for t, v in (("network_undirected", 0.6), ("state_module", np.nan))
        ],
        columns=["method", "target", "auroc"],
    )
    bins = pd.DataFrame({"method": ["cross_attention", "near_centre"], "target": "promoter", "auroc": [0.4, 0.98]})
    fig = recovery_heatmap({"gene pairs": genes, "DNA bins, TSS loci (2)": bins})
    a, b = fig.axes[:2]
    assert [t.get_text() for t in a.get_yticklabels()] == [
        "attention: source attends to target",
        "|Spearman|, control cells",
        "both genes' mean expression",
    ]
    assert [t.get_text() for t in a.get_xticklabels()] == ["planted edge (either way)", "same cell-state module"]
    assert [t.get_text() for t in b.get_yticklabels()] == [
        "DNA->RNA attention to the bin",
        "near the window centre (no model)",
    ]
    assert (a.get_title(), b.get_title()) == ("gene pairs", "DNA bins, TSS loci (2)")
    cells = [t.get_text() for t in a.texts]
    assert cells.count("0.60") == 3 and cells.count("—") == 3  # a missing AUROC is shown as a dash, not a colour
    assert fig.axes[-1].get_ylabel() == "AUROC (0.5 = chance)"  # the colour bar
    assert not any("_" in RECOVERY_LABELS[k] for k in RECOVERY_LABELS)  # words, not code names
