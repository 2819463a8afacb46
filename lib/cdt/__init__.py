"""Central Dogma Transformer toolkit: CDT v1, CDT-II and CDT-III models, interpretation and the papers' figures."""

__version__ = "0.1.0"
