"""The generator's error.

The generator imports nothing from :mod:`datadivr`: it must run even when the generated
package it is about to replace is stale, broken or missing.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SchemaError"]


class SchemaError(ValueError):
    """A schema folder the generator cannot use.

    Attributes:
        file: The schema file at fault, when there is one.
        reason: What is wrong with it.
    """

    def __init__(self, reason: str, file: Path | str | None = None) -> None:
        self.file = Path(file) if file is not None else None
        self.reason = reason
        super().__init__(f"{self.file}: {reason}" if self.file is not None else reason)
