"""Errors raised on bad input: they always name the file and the field at fault."""

from __future__ import annotations


class ContractError(ValueError):
    """A file does not meet a data contract (missing key, wrong shape, NaNs, mismatched names)."""

    def __init__(self, source: str, field: str, problem: str):
        self.source = source
        self.field = field
        self.problem = problem
        super().__init__(f"{source}: {field}: {problem}")
