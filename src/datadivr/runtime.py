"""The contract between generated code and the runtime: the one module generated code imports.

A package written by ``datadivr generate`` (and :mod:`datadivr.demo` itself) imports
datadivr only through this module, and only the names of its ``__all__``: the bases of its
models, the protocol description, the client and servicer bases, the handler registration and
the types its annotations use. The private modules behind these names (``datadivr.client._client``,
``datadivr.core._message`` …) may be reorganised in any release; this module keeps its names and
their meaning for as long as it keeps its :data:`RUNTIME_API_VERSION`.

A generated package records the version it was generated for (``__runtime_api_version__``
in its ``__init__.py``) and calls :func:`check_generated` before it imports anything else, so that a package the installed
runtime cannot serve fails at once with a :class:`~datadivr.exceptions.RuntimeVersionError`
that says what to do, not later with an ``ImportError`` or ``AttributeError`` deep inside it.

The compatibility rule:

- :data:`RUNTIME_API_VERSION` goes up by one with every change generated code can observe: a
  name added here because the generator's templates start to use it (so that an older runtime
  refuses the new packages), and a name removed or its meaning changed.
- The runtime imports packages generated for any version of :data:`SUPPORTED_API_VERSIONS`:
  from the oldest whose names it still provides, up to its own. Adding a name keeps the older
  versions; only removing or changing one drops them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from datadivr.client._client import BaseClient, present
from datadivr.core._checks import SchemaChecks
from datadivr.core._factories import build_message, create_message
from datadivr.core._lifecycle import ClientInfo, DisconnectInfo, PresenceChange
from datadivr.core._message import UUID, AwareDatetime, ExactLiteral, MessageBase, NotNull, Payload
from datadivr.core._protocol import Direction, EventSpec, MessageText, Protocol
from datadivr.core._registry import (
    HandlerContext,
    HandlerType,
    Registry,
    ServicerBase,
    not_implemented,
    on_connect,
    on_disconnect,
    on_presence,
    register_handler,
)
from datadivr.exceptions import HandlerNotImplementedError, RuntimeVersionError

__all__ = [
    "RUNTIME_API_VERSION",
    "SUPPORTED_API_VERSIONS",
    "UUID",
    "AwareDatetime",
    "BaseClient",
    "ClientInfo",
    "Direction",
    "DisconnectInfo",
    "EventSpec",
    "ExactLiteral",
    "HandlerContext",
    "HandlerNotImplementedError",
    "HandlerType",
    "MessageBase",
    "MessageText",
    "NotNull",
    "Payload",
    "PresenceChange",
    "Protocol",
    "Registry",
    "SchemaChecks",
    "ServicerBase",
    "build_message",
    "check_generated",
    "create_message",
    "not_implemented",
    "on_connect",
    "on_disconnect",
    "on_presence",
    "present",
    "register_handler",
]

RUNTIME_API_VERSION = 3
"""The version of this module's API: the names of ``__all__`` and what they mean."""

SUPPORTED_API_VERSIONS = range(1, RUNTIME_API_VERSION + 1)
"""The runtime API versions of the generated packages this runtime imports."""


def check_generated(api_version: int, package: str) -> None:
    """Refuse a generated package made for a runtime API version this runtime does not support.

    Generated packages call it first thing, from their ``__init__.py``.

    Args:
        api_version: The runtime API version the package was generated for.
        package: The package's module name (its ``__name__``).

    Raises:
        RuntimeVersionError: ``api_version`` is not in :data:`SUPPORTED_API_VERSIONS`; the
            message names both versions and the command that regenerates the package.
    """
    if (
        isinstance(api_version, int)
        and not isinstance(api_version, bool)
        and api_version in SUPPORTED_API_VERSIONS
    ):
        return
    raise RuntimeVersionError(
        package,
        generated_version=api_version,
        runtime_version=RUNTIME_API_VERSION,
        supported=SUPPORTED_API_VERSIONS,
        command=_regenerate_command(package),
    )


def _regenerate_command(package: str) -> str:
    """``datadivr generate`` with the package's own folder as ``--out``, when it is known."""
    out = package.replace(".", "/")
    filename = getattr(sys.modules.get(package), "__file__", None)
    if filename:
        folder = Path(filename).resolve().parent
        try:
            out = folder.relative_to(Path.cwd()).as_posix() or "."
        except ValueError:
            out = folder.as_posix()
    return (
        f"`datadivr generate --schema SCHEMA_DIR --out {out}` "
        "(SCHEMA_DIR: the folder of JSON Schema files it was generated from)"
    )
