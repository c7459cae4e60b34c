"""The datadivr code generator: JSON Schema files in, a typed protocol package out.

It needs the ``codegen`` extra (``pip install 'datadivr[codegen]'``). Entry points:
:func:`generate`, :func:`check` and :func:`plan`, and ``datadivr generate`` on the command line.
"""

from datadivr_codegen.errors import SchemaError
from datadivr_codegen.terms import Direction, MessageText

__all__ = ["Direction", "MessageText", "SchemaError", "check", "generate", "plan"]


def __getattr__(name: str) -> object:
    # The pipeline needs the optional dependencies; importing the package must not.
    if name in ("check", "generate", "plan"):
        from datadivr_codegen import generator

        return getattr(generator, name)
    raise AttributeError(name)
