"""`kb impl ...`, `kb bench` and the generated implementation pages."""

from __future__ import annotations

import json

import pytest

from kb.cli import main
from kb.impl_pages import render_impl_pages


def test_impl_info_json_prints_the_counts(capsys):
    assert main(["impl", "info", "mobilenet_v1", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {"id", "params", "macs", "input_shape"} <= info.keys()
    assert info["id"] == "mobilenet_v1" and info["input_shape"] == [1, 3, 224, 224]
    assert info["params"] == 4_231_976 and info["macs"] == pytest.approx(569e6, rel=0.02)


def test_impl_list_and_profile(capsys):
    assert main(["impl", "list"]) == 0
    listed = capsys.readouterr().out
    assert "blazeface" in listed and "[experiment]" in listed
    assert main(["impl", "profile", "separable_conv", "--top", "3", "--runs", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["layer", "type", "time"] and len(lines) == 4


@pytest.mark.slow
def test_bench_writes_a_results_file_that_the_pages_render(tmp_path, capsys):
    assert main(["bench", "impls", "--only", "separable_conv", "--quick", "--results", str(tmp_path)]) == 0
    (path,) = (tmp_path / "impl").glob("separable_conv.cpu-*c-torch*-quick.json")
    record = json.loads(path.read_text())
    assert record["impl"] == "separable_conv" and record["setup"]["quick"] is True
    assert record["command"].startswith("kb bench impls --only separable_conv --quick")
    assert {"environment", "command", "measured_at", "metrics", "tables", "curves"} <= record.keys()
    assert record["metrics"]["params"] > 0 and record["metrics"]["eager_threads_1_p50_ms"] > 0
    (onnx,) = record["tables"]["exports"]
    assert onnx["format"] == "onnx" and onnx["ok"]
    pages = render_impl_pages(results_dir=tmp_path / "impl")
    assert {"impls/index.md", "impls/separable_conv.md", "impls/efficientnet_b1.md"} <= pages.keys()
    page = pages["impls/separable_conv.md"]
    assert "::: reference_impls.separable" in page and path.name in page and "Run it yourself" in page
    assert "::: reference_impls.efficientnet" not in pages["impls/efficientnet_b1.md"]  # only on b0's page


@pytest.mark.slow
def test_every_experiment_module_runs_as_a_program() -> None:
    """`python -m reference_impls.<module> --help` for each module with an experiment (the run itself is tested
    through `run(quick=True)` in the technique tests)."""
    import subprocess
    import sys

    from reference_impls.registry import all_impls

    modules = sorted({spec.module for spec in all_impls() if spec.experiment})
    assert len(modules) >= 10
    for module in modules:
        result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        assert "--quick" in result.stdout and "--seed" in result.stdout
