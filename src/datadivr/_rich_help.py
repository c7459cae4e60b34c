"""typer's rich help, imported without rich's Markdown and traceback renderers.

typer draws ``--help`` (the option panels, ``rich_help_panel``) with ``typer.rich_utils``, which
imports ``rich.markdown`` (markdown-it-py, pygments) and ``rich.traceback`` at its top: for the
``"markdown"`` markup mode and for pretty exceptions, neither of which this command line uses
(its markup mode is typer's default ``"rich"``, its pretty exceptions are off). Those two imports
are more than half of what ``datadivr --help`` costs.

:func:`import_rich_help` imports ``typer.rich_utils`` with a stand-in for each of the two names,
which imports the real class when it is first called or asked for an attribute, and leaves
``sys.modules`` as it found it: everything else that imports ``rich.markdown`` or
``rich.traceback`` (structlog's console renderer, a user's program) gets the real module. The help
is drawn by typer's own code, byte for byte what it draws otherwise.

:class:`HelpGroup` and :class:`HelpCommand` call it before typer draws a help page; each command
of the command line is one of them.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

from typer.core import TyperCommand, TyperGroup

__all__ = ["DEFERRED", "HelpCommand", "HelpGroup", "import_rich_help"]

#: The modules ``typer.rich_utils`` imports and the help never uses: module → the name taken.
DEFERRED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


class _Deferred(type):
    """The type of a stand-in class: calling it or reading an attribute of it imports the real
    class and hands the call or the attribute on."""

    _module: str

    def real(cls) -> type:
        real: type = getattr(importlib.import_module(cls._module), cls.__name__)
        return real

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls.real(), name)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls.real())


def _stand_in(module: str, name: str) -> ModuleType:
    stand_in = ModuleType(module, f"Stands in for {module} while typer's rich help is imported.")
    setattr(stand_in, name, _Deferred(name, (), {"_module": module, "__module__": module}))
    return stand_in


def import_rich_help() -> None:
    """Import ``typer.rich_utils`` (once) without importing :data:`DEFERRED`."""
    if "typer.rich_utils" in sys.modules:
        return
    stand_ins = {
        module: _stand_in(module, name)
        for module, name in DEFERRED.items()
        if module not in sys.modules
    }
    sys.modules.update(stand_ins)
    try:
        importlib.import_module("typer.rich_utils")
    finally:
        for module, stand_in in stand_ins.items():
            if sys.modules.get(module) is stand_in:
                del sys.modules[module]


class HelpGroup(TyperGroup):
    """A typer group that imports its help page's code with :func:`import_rich_help`."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        import_rich_help()
        super().format_help(ctx, formatter)


class HelpCommand(TyperCommand):
    """A typer command that imports its help page's code with :func:`import_rich_help`."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        import_rich_help()
        super().format_help(ctx, formatter)
