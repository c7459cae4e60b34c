"""What the generated code may use of the runtime: one module, at one API version.

Every path the generated code imports from datadivr is built from :data:`RUNTIME`, the stable
module ``datadivr.runtime``, never from the private modules behind it: a user's generated
package must keep working when those are reorganised. :data:`RUNTIME_API_VERSION` is the
version of that module's API the templates are written for; the generated ``__init__.py``
records it and hands it to ``datadivr.runtime.check_generated`` at import.

The generator imports nothing from :mod:`datadivr` (see :mod:`datadivr_codegen.errors`), so
the version is stated here too; a test holds it equal to ``datadivr.runtime``'s.
"""

from __future__ import annotations

__all__ = ["RUNTIME", "RUNTIME_API_VERSION", "runtime_name"]

#: The one module generated code imports from datadivr.
RUNTIME = "datadivr.runtime"
#: The version of :data:`RUNTIME`'s API that the templates use.
RUNTIME_API_VERSION = 3


def runtime_name(name: str) -> str:
    """The dotted path of a name of the runtime module, e.g. ``datadivr.runtime.Payload``."""
    return f"{RUNTIME}.{name}"
