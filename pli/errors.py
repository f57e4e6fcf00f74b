"""Errors a user can act on.

Every error raised for bad input names the file, column or row, what was expected,
what arrived, and how to fix it. The CLI prints these as one paragraph without a
traceback (unless ``--debug``).
"""

from __future__ import annotations

__all__ = ["InputError", "PliError"]


class PliError(Exception):
    """Base class for errors the CLI reports without a traceback."""


class InputError(PliError, ValueError):
    """An input file or table is unusable.

    Parameters
    ----------
    problems : str or list of str
        One message per problem; several are listed together.
    path : str, optional
        The file concerned, prefixed to the message.
    """

    def __init__(self, problems: str | list[str], *, path: str | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.path = path
        where = f"{path}: " if path else ""
        if len(self.problems) == 1:
            msg = f"{where}{self.problems[0]}"
        else:
            msg = f"{where}{len(self.problems)} problems:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(msg)
