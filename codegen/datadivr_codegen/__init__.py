"""The datadivr code generator: JSON Schema files in, a typed protocol package out.

It needs the ``codegen`` extra (``pip install 'datadivr[codegen]'``). Entry points:
:func:`generate`, :func:`check` and :func:`plan`, and ``datadivr generate`` on the command line.
"""

from datadivr_codegen.errors import SchemaError
from datadivr_codegen.terms import Direction, MessageText

__all__ = [
    "INSTALL_HINT",
    "Direction",
    "MessageText",
    "SchemaError",
    "check",
    "generate",
    "missing_extra",
    "plan",
]

#: What installs the generator's dependencies.
INSTALL_HINT = "pip install 'datadivr[codegen]'"
#: The modules of the ``codegen`` extra that the pipeline imports.
_EXTRA_MODULES = ("datamodel_code_generator", "jinja2", "ruff")


def missing_extra() -> str | None:
    """The first module of the ``codegen`` extra that cannot be imported, or None; found
    without importing any (datamodel-code-generator alone takes a second to import)."""
    import importlib.util

    for name in _EXTRA_MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
            return name
    return None


def __getattr__(name: str) -> object:
    # The pipeline needs the optional dependencies; importing the package must not.
    if name in ("check", "generate", "plan"):
        from datadivr_codegen import generator

        return getattr(generator, name)
    raise AttributeError(name)
