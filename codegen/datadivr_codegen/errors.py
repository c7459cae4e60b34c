"""The generator's error.

The generator imports nothing from :mod:`datadivr`: it must run even when the generated
package it is about to replace is stale, broken or missing. The one exception is
:mod:`datadivr.compat._fingerprint`, which computes the compatibility fingerprint the generator
records: it imports only the standard library, and ``import datadivr`` imports only
:mod:`datadivr.exceptions` (every other name is lazy, PEP 562), so that it never imports a
generated package such as :mod:`datadivr.demo`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["SchemaError", "SchemaErrors", "collect"]


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


class SchemaErrors(SchemaError):
    """Every problem found in a schema folder, each a :class:`SchemaError` of its own (one
    line each): the generator reports them all at once, like a compiler.

    Attributes:
        errors: The problems, in the order they were found.
    """

    def __init__(self, errors: list[SchemaError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  {error}" for error in errors)
        super().__init__(f"{len(errors)} problems:\n{lines}")


class _Collector:
    def __init__(self) -> None:
        self.errors: list[SchemaError] = []

    @contextmanager
    def each(self) -> Iterator[None]:
        """Run the block; a :class:`SchemaError` it raises is kept, and the run goes on."""
        try:
            yield
        except SchemaErrors as exc:
            self.errors.extend(exc.errors)
        except SchemaError as exc:
            self.errors.append(exc)

    def check(self) -> None:
        """Raise what was kept: the one :class:`SchemaError`, or :class:`SchemaErrors`."""
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise SchemaErrors(self.errors)


def collect() -> _Collector:
    """A collector of problems: ``with problems.each(): ...`` for each independent step,
    then ``problems.check()``."""
    return _Collector()
