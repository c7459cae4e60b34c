"""The command line's help: typer's rich pages, drawn without importing rich's Markdown and
traceback renderers, and the same bytes as typer draws with them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import typer
from typer.core import TyperGroup

from datadivr._rich_help import DEFERRED, HelpCommand, HelpGroup
from datadivr.cli import app

#: The modules typer's rich help imports and draws nothing with.
HEAVY = (*DEFERRED, "markdown_it", "pygments")

PAGES = [
    ["--help"],
    ["serve", "--help"],
    ["generate", "--help"],
    ["schema", "--help"],
    ["schema", "typescript", "--help"],
]


def _help(argv: list[str], *, before: str = "", colour: bool = False) -> tuple[str, list[str]]:
    """``datadivr ARGV`` in a fresh interpreter after ``before``: its output, and which of
    :data:`HEAVY` it imported."""
    code = textwrap.dedent(
        f"""
        import runpy, sys
        {before}
        sys.argv = ["datadivr", *{argv!r}]
        try:
            runpy.run_module("datadivr", run_name="__main__", alter_sys=True)
        except SystemExit:
            pass
        print(*sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)
        """
    )
    env = {**os.environ, "COLUMNS": "100", "TERMINAL_WIDTH": "100"}
    for name in ("NO_COLOR", "FORCE_COLOR", "TYPER_USE_RICH", "_TYPER_FORCE_DISABLE_TERMINAL"):
        env.pop(name, None)
    if colour:
        env["FORCE_COLOR"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr.split()


@pytest.mark.parametrize("argv", PAGES, ids=" ".join)
def test_a_help_page_imports_no_markdown_or_traceback_renderer(argv: list[str]) -> None:
    page, imported = _help(argv)
    assert "Usage: " in page
    assert imported == []


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
@pytest.mark.parametrize("argv", PAGES, ids=" ".join)
def test_a_help_page_is_what_typer_draws_with_every_rich_module(
    argv: list[str], colour: bool
) -> None:
    """typer's own rich help, imported the usual way first, draws the same bytes."""
    page, _ = _help(argv, colour=colour)
    usual, imported_usually = _help(argv, before="import typer.rich_utils", colour=colour)
    assert imported_usually == sorted(HEAVY)
    assert page == usual


def test_the_help_of_serve_has_its_panels() -> None:
    page, _ = _help(["serve", "--help"])
    for panel in ("Options", "Access", "Limits", "Scaling out"):  # rich_help_panel
        assert f"╭─ {panel} ─" in page


def _commands(command: object) -> list[object]:
    found = [command]
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            found.extend(_commands(sub))
    return found


def test_every_command_draws_its_help_without_the_renderers() -> None:
    commands = _commands(typer.main.get_command(app))
    assert len(commands) > 10
    for command in commands:
        assert isinstance(command, HelpGroup | HelpCommand), command


def test_the_stand_ins_hand_on_to_rich_and_leave_no_trace() -> None:
    """In a fresh interpreter: after the help's import, ``rich.markdown`` and ``rich.traceback``
    are the real modules to whoever imports them, and typer's names for their classes work."""
    code = textwrap.dedent(
        """
        import sys
        from datadivr._rich_help import import_rich_help
        import_rich_help()
        import typer.rich_utils as help
        assert "rich.markdown" not in sys.modules and "rich.traceback" not in sys.modules
        markdown = help.Markdown("*a*")
        import rich.markdown, rich.traceback
        assert type(markdown) is rich.markdown.Markdown
        assert isinstance(markdown, help.Markdown)
        assert rich.markdown.Markdown is not help.Markdown
        try:
            1 / 0
        except ZeroDivisionError as exc:
            trace = help.Traceback.from_exception(type(exc), exc, exc.__traceback__)
        assert type(trace) is rich.traceback.Traceback
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
