"""The project's own errors. Each says what is wrong, where (file, field, locus, line) and, when it helps, what to do.

`CDTError` is the base the command line catches to print one or two lines instead of a traceback; the Python
API raises the same classes with the same messages. Subclasses that describe bad input also derive from
`ValueError`, so code that catches the usual reader errors keeps working.
"""

from __future__ import annotations


class CDTError(Exception):
    """An error with a message meant for the user: what is wrong and where, then an optional hint."""

    def __init__(self, message: str, hint: str = ""):
        self.message = message
        self.hint = hint
        super().__init__(f"{message}\n{hint}" if hint else message)


class ContractError(CDTError, ValueError):
    """A file does not meet a data contract (missing key, wrong shape, NaNs, mismatched names)."""

    def __init__(self, source: str, field: str, problem: str, hint: str = ""):
        self.source = source
        self.field = field
        self.problem = problem
        super().__init__(f"{source}: {field}: {problem}", hint)


def require_columns(table, columns, source: str, *, hint: str = "") -> None:
    """Raise `ContractError` "<source>: columns: missing [...]" listing every one of `columns` that `table` (a
    DataFrame) lacks, in the order given; `hint` follows after "; " (e.g. the columns expected). The one check of
    required table columns."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ContractError(source, "columns", f"missing {missing}" + (f"; {hint}" if hint else ""))


class IncompleteOutputError(CDTError, RuntimeError):
    """An output set (simulated data, prepared screens, a training run) was left unfinished and is not used."""


class RunError(CDTError, RuntimeError):
    """A training run directory cannot be resumed or used (other configuration, no best checkpoint)."""


class TrainingError(CDTError, RuntimeError):
    """Training cannot go on (e.g. a non-finite loss); the message names the batch and its samples."""


class WeightsUnavailableError(CDTError, OSError):
    """Pretrained weights (e.g. Enformer's) cannot be loaded: package missing, not downloaded, no network."""
