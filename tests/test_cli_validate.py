"""`kb validate` and `kb schema` as a user runs them: exit codes, output format, and no writes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from kb.catalog.schema import entry_json_schema

from .conftest import CATALOG, FIXTURES, ROOT, copy_catalog


def kb(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kb", *args], capture_output=True, text=True, cwd=cwd, check=False)


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_real_catalog_is_clean_and_validation_writes_nothing() -> None:
    before = tree_digest(CATALOG)
    result = kb("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "catalog is clean" in result.stderr
    assert tree_digest(CATALOG) == before


def test_bad_catalog_exits_1_and_reports_every_problem(tmp_path: Path) -> None:
    catalog = copy_catalog(tmp_path / "catalog")
    (catalog / "paper" / "broken.yaml").write_text("id: [oops\n")
    (catalog / "paper" / "he2016deep.yaml").write_text(
        (catalog / "paper" / "he2016deep.yaml").read_text().replace("venue: CVPR", "venue: NIPSW")
    )
    before = tree_digest(catalog)
    result = kb("validate", str(catalog))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert "broken.yaml:2: invalid YAML: " in lines[0] and "expected ',' or ']'" in lines[0]  # libyaml's words
    assert (
        "he2016deep.yaml:" in lines[1] and "venue: unknown venue 'NIPSW'; did you mean 'NeurIPS Workshop'?" in lines[1]
    )
    assert tree_digest(catalog) == before


def test_github_annotations_format(tmp_path: Path) -> None:
    result = kb("validate", str(FIXTURES / "rules" / "paper-id-convention" / "fail"), "--format", "github")
    assert result.returncode == 1
    assert result.stdout.startswith("::error file=")
    assert ",line=1,title=paper-id-convention::id: the id of this paper is 'howard2017mobilenets'" in result.stdout


def test_rules_are_listed() -> None:
    result = kb("validate", "--rules")
    assert result.returncode == 0
    assert "no-duplicate-work" in result.stdout and "paper-id-convention" in result.stdout


def test_committed_schema_is_current_and_every_file_points_at_it() -> None:
    committed = json.loads((CATALOG / "entry.schema.json").read_text())
    assert committed == entry_json_schema()
    assert kb("schema", "--check").returncode == 0
    for path in CATALOG.glob("*/*.yaml"):
        assert path.read_text().startswith("# yaml-language-server: $schema=../entry.schema.json\n"), path
