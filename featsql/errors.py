"""One error type the CLI prints as a single line; anything else is a bug and gets a traceback."""
from __future__ import annotations


class FeatsqlError(Exception):
    """A user-facing problem: the message says what and where."""


class ValidationError(FeatsqlError):
    """One or more bad declarations; each problem is one line of the message."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        head = f"{len(problems)} invalid declaration{'s' if len(problems) > 1 else ''}; nothing was written"
        super().__init__("\n".join([head, *(f"  - {p}" for p in problems)]))


def did_you_mean(word: str, choices: list[str] | set[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, or ''."""
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
