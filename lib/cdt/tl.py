"""`cdt.tl`: the analysis tools in one namespace (scanpy style), e.g. `cdt.tl.mean_attention(run, screen, dna, "GFI1B")`.

Attention (streamed cell means, per-cell rows, cross-attention profiles), gradients (Jacobians, CDT v1 DNA gradient
norms, in-silico knockdown), evaluation (predict, the papers' metrics), and the statistics and network helpers
used with them.
"""

from cdt.attention import (
    AttentionMap,
    attention_entropy,
    attention_rows,
    cross_attention_profiles,
    cross_attention_similarity,
    load_attention,
    mean_attention,
    mean_attention_maps,
    peak_offset,
    row_correlation,
    save_attention,
    v1_target_attention,
)
from cdt.evaluate import (
    Evaluation,
    Predictions,
    evaluate_model,
    evaluate_predictions,
    observed_profile,
    pearson,
    per_cell_r,
    predict,
    pseudobulk_r,
    r2,
    scores,
    select_cells,
    self_knockdown_r,
    spearman,
    top_target_overlap,
)
from cdt.gradients import (
    Jacobian,
    Knockdown,
    gene_jacobian,
    importance_vs_effect,
    in_silico_knockdown,
    jacobian,
    protein_jacobian,
    v1_dna_gradient_norms,
)
from cdt.networks import (
    community_overlap,
    cosine_similarity,
    hub_roles,
    hub_subnetwork,
    louvain_communities,
    partition_table,
    top_edge_graph,
)
from cdt.stats import (
    benjamini_hochberg,
    circular_permutation_test,
    cohens_d,
    fisher_exact,
    hypergeom_overlap,
    kruskal_wallis,
    set_overlap,
    top_n_overlap,
    wilcoxon_signed_rank,
)

__all__ = [
    "AttentionMap", "Evaluation", "Jacobian", "Knockdown", "Predictions", "attention_entropy", "attention_rows",
    "benjamini_hochberg", "circular_permutation_test", "cohens_d", "community_overlap", "cosine_similarity",
    "cross_attention_profiles", "cross_attention_similarity", "evaluate_model", "evaluate_predictions",
    "fisher_exact", "gene_jacobian", "hub_roles", "hub_subnetwork", "hypergeom_overlap", "importance_vs_effect",
    "in_silico_knockdown", "jacobian", "kruskal_wallis", "load_attention", "louvain_communities", "mean_attention",
    "mean_attention_maps", "observed_profile", "partition_table", "peak_offset", "pearson", "per_cell_r", "predict",
    "protein_jacobian", "pseudobulk_r", "r2", "row_correlation", "save_attention", "scores", "select_cells",
    "self_knockdown_r", "set_overlap", "spearman", "top_edge_graph", "top_n_overlap", "top_target_overlap",
    "v1_dna_gradient_norms", "v1_target_attention", "wilcoxon_signed_rank",
]
