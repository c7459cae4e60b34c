"""The mutation check's list follows the code: every mutant still finds the text it changes
(``make mutants`` runs them; this only keeps the list from going stale)."""

from __future__ import annotations

from tools.mutants import MUTANTS, stale


def test_every_mutant_finds_its_text_once() -> None:
    assert stale(MUTANTS) == []


def test_mutant_names_are_unique_and_each_names_tests() -> None:
    names = [mutant.name for mutant in MUTANTS]
    assert len(names) == len(set(names))
    assert all(mutant.tests and mutant.find != mutant.replace for mutant in MUTANTS)
