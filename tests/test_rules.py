"""Every named rule has a passing and a failing fixture: the first yields no problem, the second this rule's."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.catalog import rules
from kb.catalog.load import load_catalog

from .conftest import CATALOG, FIXTURES

RULE_FIXTURES = FIXTURES / "rules"


def run(folder: Path) -> list:
    catalog, problems = load_catalog(folder, CATALOG)
    return problems + rules.check(catalog)


def test_every_rule_has_fixtures_and_every_fixture_a_rule() -> None:
    assert sorted(p.name for p in RULE_FIXTURES.iterdir()) == sorted(rules.RULES)


@pytest.mark.parametrize("name", sorted(rules.RULES))
def test_rule_passes_its_success_fixture(name: str) -> None:
    assert run(RULE_FIXTURES / name / "pass") == []


@pytest.mark.parametrize("name", sorted(rules.RULES))
def test_rule_fails_its_error_fixture(name: str) -> None:
    problems = run(RULE_FIXTURES / name / "fail")
    assert problems, f"the failing fixture of {name} raised nothing"
    assert {p.rule for p in problems} == {name}, [str(p) for p in problems]
    for problem in problems:
        assert problem.line >= 1 and problem.path.suffix == ".yaml"
        assert any(
            word in problem.message
            for word in (
                "add",
                "rename",
                "move",
                "merge",
                "choose",
                "call",
                "make",
                "set",
                "write",
                "say",
                "registered",
            )
        )
