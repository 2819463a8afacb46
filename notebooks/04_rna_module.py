# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 — An RNA-processing module found by two attention mechanisms (CDT-II Figs 5B, 5C)
#
# **What the paper claims.** Two gene-gene networks are built from CDT-II's attention over GFI1B cells: one from
# RNA self-attention (gene i attends to gene j), one from DNA→RNA cross-attention (genes are similar when they
# attend to the same DNA bins). Each keeps its top 5% of edges; Louvain (resolution 1) splits them into **5** and
# **53** communities. The self-attention community **C1 (679 genes)** and the cross-attention community
# **C3 (165 genes)** are both enriched for *RNA binding* (P = 5e-16 and 1e-16; Fig 5B), and they share **132**
# genes, 80% of C3 (**2.8-fold, P = 9.3e-46**; Fig 5C): "two independent mechanisms converge on one module".
#
# **How it is rebuilt here.** Maps are the head- and cell-mean over the first 20 GFI1B cells; networks,
# Louvain (seeded), enrichment and the Venn test come from `cdt.networks`, `cdt.enrichment` and `cdt.stats`.
# C1 and C3 are picked the way a user would without ground truth: in each network, the community most enriched
# for *RNA binding*. Enrichment runs offline on the GMT libraries of the data directory (the gene universe of the
# screen as background; the authors used Enrichr's genome-wide background) or on Enrichr online when there are none.
#
# **Beyond the paper.** The same pipeline on plain expression correlation (no model) shows what co-expression
# alone finds; on simulated data every network is scored against the planted modules (truth/modules.csv).

# %% tags=["parameters"]
data_source = "synthetic"
data_dir = ""
runs_dir = "../runs"
out_dir = "../paper"
preset = ""  # empty: the last `cdt reproduce` preset, else tiny (minutes from nothing)
seed = 0
protocol = "paper"

# %%
import time

import cdt.analyses.network as an
import cdt.pl.network as pn
from cdt.data.screen import read_screen
from cdt.enrichment import ENRICHR_LIBRARIES
from cdt.report import save_table
from cdt.reproduce import open_notebook
from cdt.train import open_run
from IPython.display import Markdown, display

started = time.perf_counter()
ctx, nums = open_notebook(
    "04_rna_module", data_source, data_dir, runs_dir, out_dir, preset, seed, protocol, models=["cdt2"]
)
screen = read_screen(ctx.paths.screen)
run = open_run(ctx.runs["cdt2"])
libraries = an.gmt_libraries(ctx.paths.genesets_dir)
online = not libraries
display(Markdown(an.module_data_line(screen, run, libraries, source_label=ctx.source_label)))

# %% [markdown]
# ## The two attention networks and their Louvain communities

# %%
all_nets, corr_cells = an.module_networks(run, screen, ctx.paths.dna, gene="GFI1B", seed=seed)
nets = {k: all_nets[k] for k in ("self", "cross")}
ctx.table(an.community_table(all_nets), "cdt2_text_louvain_communities")
save_table(an.partitions(all_nets), "cdt2_louvain_partitions", ctx.out_dir)
nums.report(an.community_findings(all_nets, corr_cells))

# %% [markdown]
# ## Enrichment of every community (>= 5 genes) and the choice of C1 and C3

# %%
enrichments, enrichment_error = an.enrich_networks(all_nets, libraries or ENRICHR_LIBRARIES, online=online)
if enrichment_error:
    display(Markdown(f"**Enrichment skipped:** {enrichment_error}; C1 and C3 fall back to the best overlap."))
save_table(an.enrichment_table(enrichments), "cdt2_fig5b_enrichment_all_communities", ctx.out_dir)
picks, how = an.pick_module_communities(nets, enrichments)
c1, c3 = nets["self"].communities[picks["self"]], nets["cross"].communities[picks["cross"]]
display(Markdown(an.module_choice_line(nets, picks, how)))

# %% [markdown]
# ## Fig 5B — enrichment of C1 and C3

# %%
panels, terms = an.module_terms(nets, enrichments, picks)
save_table(terms, "cdt2_fig5b_module_enrichment", ctx.out_dir)
if all(len(t) for t in panels.values()):
    ctx.show(pn.enrichment_bars(panels), "cdt2_fig5b_module_enrichment")
nums.report(an.rna_binding_findings(nets, enrichments, picks, online=online))

# %% [markdown]
# ## Fig 5C — overlap of C1 and C3

# %%
venn = an.module_venn(c1, c3, screen.var_names)
ctx.show(pn.module_venn(venn), "cdt2_fig5c_venn")
save_table(venn, "cdt2_fig5c_venn", ctx.out_dir)
nums.report(an.venn_findings(venn, screen.n_vars))

# %% [markdown]
# ## Simulated data — do the communities recover the planted modules?
# For each planted regulatory module: the community with the largest Jaccard index in each network, and where the
# term planted for the RNA-processing module ranks in C1 and C3.

# %%
recovery = ranks = None
if ctx.paths.truth_dir:
    modules, planted = an.read_module_truth(ctx.paths.truth_dir)
    recovery = an.module_recovery(all_nets, modules)
    ctx.show(pn.module_recovery(recovery), "cdt2_sim_module_recovery")
    ctx.table(recovery, "cdt2_sim_module_recovery")
    ranks = an.chosen_term_ranks(enrichments, picks, planted)
    ctx.table(ranks, "cdt2_sim_planted_term_ranks")
    nums.report(an.recovery_findings(recovery, ranks, nets, picks, modules))
else:
    display(Markdown("**Real data:** no planted modules to score against."))

# %% [markdown]
# ## What this run shows

# %%
display(Markdown(an.module_findings(all_nets, picks, how, venn, recovery=recovery, ranks=ranks)))

# %%
nums.save()
display(Markdown(f"Notebook wall time: {time.perf_counter() - started:.0f} s"))
