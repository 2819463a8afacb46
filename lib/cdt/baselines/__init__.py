"""Baselines and controls beside every CDT claim (notebook 07).

- `predict`      zero / mean-training-effect / ridge / nearest-locus predictors under the trainer's protocols;
- `pairs`        CDT v1: per-gene mean training beta and ridge on gene embeddings / DNA window summaries;
- `edges`        per-perturbation edge scores (attention, cross-attention similarity, Jacobian, correlation,
                 gene-level features), truth and observed-outcome labels, AUROC/AUPRC recovery tables;
- `benchmark`    all of `edges` over a list of perturbations: per-perturbation AUROC table + pair table;
- `incremental`  gene-level features vs + edge score: grouped cross-validated logistic regression, bootstrap CI;
- `ablation`     head masking through output-projection hooks, head ranking, ablation with intervention fidelity.
"""

from cdt.baselines.ablation import attention_modules, forward_outputs, head_ablation, mask_heads, rank_heads
from cdt.baselines.benchmark import PerturbationBenchmark, perturbation_benchmark
from cdt.baselines.edges import (
    auroc_auprc,
    cross_attention_bins,
    de_labels,
    differential_expression,
    dna_bin_baselines,
    edge_scores,
    element_bins,
    gene_level_features,
    module_pairs,
    recovery_table,
    top_k_labels,
    truth_adjacency,
    truth_targets,
)
from cdt.baselines.incremental import incremental_value, pair_table
from cdt.baselines.pairs import pair_features, v1_baselines
from cdt.baselines.predict import locus_summaries, prediction_baselines, prediction_metrics, screen_arrays

__all__ = [
    "attention_modules",
    "auroc_auprc",
    "cross_attention_bins",
    "de_labels",
    "differential_expression",
    "dna_bin_baselines",
    "edge_scores",
    "element_bins",
    "forward_outputs",
    "gene_level_features",
    "head_ablation",
    "incremental_value",
    "locus_summaries",
    "mask_heads",
    "module_pairs",
    "pair_features",
    "pair_table",
    "PerturbationBenchmark",
    "perturbation_benchmark",
    "prediction_baselines",
    "prediction_metrics",
    "rank_heads",
    "recovery_table",
    "screen_arrays",
    "top_k_labels",
    "truth_adjacency",
    "truth_targets",
    "v1_baselines",
]
