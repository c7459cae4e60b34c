"""A protocol's compatibility fingerprint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["fingerprint"]


def fingerprint(bundle: Mapping[str, Any]) -> str:
    """The fingerprint of a bundled protocol's wire shape: its events, their directions and
    replies, and their messages' schemas without annotations (titles, descriptions, examples,
    defaults) and with definitions named by where they are first used, so that renaming a
    definition or rewording a description keeps it.

    Raises:
        ValueError: ``bundle`` is not a bundled datadivr protocol.
    """
    raise NotImplementedError
