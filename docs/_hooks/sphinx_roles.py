"""Griffe extension: the docstrings' reStructuredText markup, read as Markdown.

The docstrings are Google style, written to read well in ``help()`` and editors, with a few
reST habits: roles such as ``:class:`~datadivr.Reconnect``` and literal blocks introduced by
``::``. mkdocstrings renders Markdown, so the roles become code spans (``~`` keeping only the
last name, as in Sphinx) and ``::`` a single colon before the indented block.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:attr|class|const|data|exc|func|meth|mod|obj):`(~?)([^`]+)`")
LITERAL_BLOCK = re.compile(r"(\S)::$|^::$", re.MULTILINE)


def _role(match: re.Match[str]) -> str:
    short, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def _literal_block(match: re.Match[str]) -> str:
    return f"{match.group(1)}:" if match.group(1) else ""


def markdown(text: str) -> str:
    """A docstring's text with its reST roles and ``::`` markers as Markdown."""
    return LITERAL_BLOCK.sub(_literal_block, ROLE.sub(_role, text))


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring as it is loaded."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
