"""Schema evolution: what a change of the protocol breaks, and for whom.

:func:`diff_protocols` compares two bundled protocols (the ``schema.json`` a generated package
ships, or :func:`datadivr_codegen.bundle.protocol_bundle` of a schema folder) event by event and
keyword by keyword, ``$ref``\\ s followed, and gives each change a verdict per side: a change
that makes a message stricter breaks the side that sends it (an old sender's messages are
refused), one that makes it looser breaks the side that receives it (an old receiver refuses
what a new sender sends). :func:`fingerprint` names a protocol's wire shape: two protocols with
the same fingerprint accept the same messages in the same directions.

:class:`DiffReport` renders a diff as text, JSON or GitHub workflow commands, and an allow
file (:func:`read_allow_file`, :func:`apply_allowances`) sets accepted breaks aside. Nothing
here does I/O but reading an allow file: the command line (``datadivr schema diff``) and the
client's check of the server's ``welcome`` sit around it.
"""

from __future__ import annotations

from datadivr.compat._allow import (
    Allowed,
    AllowEntry,
    AllowFileError,
    apply_allowances,
    parse_allow_file,
    read_allow_file,
)
from datadivr.compat._diff import Change, ProtocolDiff, Side, diff_protocols
from datadivr.compat._fingerprint import fingerprint
from datadivr.compat._report import DiffReport, ExitCode, FailOn

__all__ = [
    "AllowEntry",
    "AllowFileError",
    "Allowed",
    "Change",
    "DiffReport",
    "ExitCode",
    "FailOn",
    "ProtocolDiff",
    "Side",
    "apply_allowances",
    "diff_protocols",
    "fingerprint",
    "parse_allow_file",
    "read_allow_file",
]
