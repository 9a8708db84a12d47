"""`kb impl ...`, `kb bench` and the generated implementation pages."""

from __future__ import annotations

import json
import re

import pytest

from kb.cli import main
from kb.site.impl_pages import render_impl_pages


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
    (path,) = (tmp_path / "impl").glob("separable_conv.*-*c-torch*-quick.json")
    record = json.loads(path.read_text())
    assert record["impl"] == "separable_conv" and record["setup"]["quick"] is True
    from reference_impls._benchmark import source_hash

    assert record["source_hash"] == source_hash("reference_impls.separable") and record["seeds"] == []
    assert record["command"].startswith("kb bench impls --only separable_conv --quick")
    assert {"environment", "command", "measured_at", "metrics", "tables", "curves"} <= record.keys()
    assert record["metrics"]["params"] > 0 and record["metrics"]["eager_threads_1_p50_ms"] > 0
    (onnx,) = record["tables"]["exports"]
    assert onnx["format"] == "onnx" and onnx["ok"]
    pages = render_impl_pages(results_dir=tmp_path / "impl")
    assert {"impls/index.md", "impls/separable_conv.md", "impls/efficientnet_b1.md"} <= pages.keys()
    page = pages["impls/separable_conv.md"]
    assert "::: reference_impls.separable" in page and path.name in page and "Run it yourself" in page
    assert "Measured with the code as it is now" in page  # its hash matches the code: not stale
    assert "::: reference_impls.efficientnet" not in pages["impls/efficientnet_b1.md"]  # only on b0's page


def test_experiment_cli_offers_quick_and_seed(capsys, monkeypatch):
    from reference_impls._registry import experiment_cli

    monkeypatch.setattr("sys.argv", ["prog", "--help"])
    with pytest.raises(SystemExit) as done:
        experiment_cli(lambda **_: {}, "A title.\nMore.", "short run")
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--quick" in out and "--seed" in out and "A title." in out
    monkeypatch.setattr("sys.argv", ["prog", "--quick", "--seed", "3"])
    experiment_cli(lambda quick, seed: {"quick": quick, "seed": seed}, "T.", "short run")
    assert json.loads(capsys.readouterr().out) == {"quick": True, "seed": 3}


def test_every_experiment_module_hands_its_run_to_the_shared_command_line():
    """Each module with an experiment ends in `experiment_cli(run, ...)` under `__main__` (read, not run: running
    every module's `--help` in a subprocess costs 40 s of imports); one module is then run for real."""
    import importlib
    import inspect
    import subprocess
    import sys

    from reference_impls._registry import all_impls

    modules = sorted({spec.module for spec in all_impls() if spec.experiment})
    assert len(modules) >= 10
    for module in modules:
        source = inspect.getsource(importlib.import_module(module))
        main_block = source.split('if __name__ == "__main__":')[-1]
        assert re.search(r"experiment_cli\(\s*run,", main_block), module
    done = subprocess.run(
        [sys.executable, "-m", "reference_impls.pruning", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "--quick" in done.stdout, done.stderr


def test_a_record_of_changed_code_is_marked_stale():
    from kb.site.impl_pages import freshness

    assert freshness({"source_hash": "sha256:aaaa"}, "sha256:bbbb").startswith("**Stale**")
    assert freshness({"source_hash": "sha256:aaaa"}, "sha256:aaaa").startswith("Measured with the code as it is now")
    assert "unknown" in freshness({}, "sha256:bbbb")  # records from before the hash was recorded


def test_a_port_page_leads_with_the_original_against_the_port():
    from kb.site.impl_pages import port_section

    record = {
        "_file": "x.json",
        "metrics": {"reference_max_abs_diff": 4e-4, "reference_agreement": 1.0,
                    "original": {"recall": 0.77, "precision": 0.94}, "port": {"recall": 0.77, "precision": 0.94},
                    "latency": {"onnxruntime": {"latency_ratio_vs_reference": 1.03}}},
    }  # fmt: skip
    section = port_section([record])
    assert section.startswith("## The original vs our port") and "0.770 / 0.940" in section and "1.03" in section
    record["metrics"]["int8_mixed"] = {
        "kept_in_fp32": "top_down.2<b>",
        "executorch": {"agreement": 0.95, "int8_speedup": 1.41},
        "litert": {"note": "no int8 file: layout pass failed"},
    }
    section = port_section([record])
    lines = [line for line in section.splitlines() if "kept in fp32" in line]
    assert len(lines) == 1 and "ExecuTorch" in lines[0]
    assert "<b>" not in lines[0] and "| 0.95 |" in lines[0] and "1.41×" in lines[0]
    assert port_section([{"_file": "y.json", "metrics": {"params": 1}}]) == ""


def test_a_port_page_shows_every_runtime_with_sizes_memory_threads_and_why_an_int8_file_is_missing():
    from kb.site.impl_pages import port_section

    latency = {
        "original_bytes": 230_000, "original_peak_rss_bytes": 3_100_000, "threads": [1, 2],
        "onnxruntime": {"fp32_bytes": 460_000, "int8_bytes": 150_000, "fp32_peak_rss_bytes": 5_000_000,
                        "port_p50_ms": 1.2, "original_p50_ms": 1.0, "latency_ratio_vs_reference": 1.2,
                        "int8_speedup": 0.8, "threads_2": {"latency_ratio_vs_reference": 1.4}},
        "litert": {"fp32_bytes": 470_000, "int8_bytes": None, "int8_note": "no int8 file: layout | pass failed",
                   "port_p50_ms": 1.1, "latency_ratio_vs_reference": 1.1},
    }  # fmt: skip
    record = {
        "_file": "x.json",
        "metrics": {
            "reference_agreement": 1.0,
            "latency": latency,
            "coreml": {"size_bytes": 480_000, "note": "converted, not run"},
        },
    }
    section = port_section([record])
    for expected in (
        "0.23 MB",
        "3.10 MB",
        "ONNX Runtime",
        "1.4",
        "LiteRT (XNNPACK)",
        "none",
        "Core ML",
        "needs macOS",
        "÷ original, 2 threads",
    ):
        assert expected in section, expected
    assert "layout &#124; pass failed" in section  # the converter's message is escaped, not a table separator


@pytest.mark.slow
def test_bench_over_several_seeds_records_means_spreads_and_every_run(tmp_path):
    assert (
        main(["bench", "impls", "--only", "hashed_nets", "--quick", "--seeds", "0,1,2", "--results", str(tmp_path)])
        == 0
    )
    (path,) = (tmp_path / "impl").glob("hashed_nets.*-quick.json")
    record = json.loads(path.read_text())
    assert record["seeds"] == [0, 1, 2] and "--seeds 0,1,2" in record["command"]
    rows = record["tables"]["per_seed"]
    assert [row["seed"] for row in rows] == [0, 1, 2]
    accuracies = [row["accuracy"] for row in rows]
    assert record["metrics"]["accuracy"] == pytest.approx(sum(accuracies) / 3)
    assert record["spread"]["accuracy"] >= 0 and "compression_ratio" in record["spread"]
    page = render_impl_pages(results_dir=tmp_path / "impl")["impls/hashed_nets.md"]
    assert "± " in page and "3 seeds" in page


def test_each_committed_record_is_what_plain_kb_bench_impls_writes():
    """`make bench` (plain `kb bench impls`) re-measures every committed record as it is: same seeds, same command.

    An experiment that compares accuracies runs over at least 3 seeds by default, 5 where one run takes under a
    minute (`@experiment(seeds=...)`); distillation runs its five seeds inside one experiment.
    """
    from kb.site.impl_pages import load_results
    from reference_impls._registry import all_impls, get

    results = load_results()
    for spec in all_impls():
        for record in results.get(spec.id, []):
            assert record["command"].startswith(f"kb bench impls --only {spec.id}"), record["_file"]
            assert "--seeds" not in record["command"], record["_file"]
            if len(spec.seeds) > 1:
                assert record["seeds"] == list(spec.seeds), record["_file"]
    compared = ("binary", "blazeface_pruning", "combined", "deep_compression", "hashed_nets", "low_rank", "multitask")
    for impl_id in (*compared, "nas", "pruning", "quantization"):
        assert len(get(impl_id).seeds) >= 3, impl_id


@pytest.mark.parametrize("seeds", ["x", "1,1", ""])
def test_bench_refuses_a_bad_seed_list_with_a_usage_line(seeds, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["bench", "impls", "--seeds", seeds])
    assert stop.value.code == 2 and "--seeds" in capsys.readouterr().err


def test_every_implementation_page_leads_with_the_paper_against_ours_and_keeps_the_api_last():
    for name, page in render_impl_pages().items():
        if name == "impls/index.md":
            continue
        marks = [
            page.find(h) for h in ("## The paper vs ours", "## What our runs", "## Run it yourself", "## How it works")
        ]
        assert marks[0] > 0 and marks == sorted(marks), name
        assert "git clone" in page and "make venv" in page, name
        api = page.find(":::")
        assert api == -1 or api > marks[-1], name  # the API listing comes after the figures


def test_every_paper_against_ours_row_names_a_claim_of_its_entry():
    from kb.catalog.checked import load_checked_catalog
    from reference_impls._registry import all_impls

    entries = load_checked_catalog()[0].by_id()
    for spec in all_impls():
        claims = [c.what.lower() for c in entries[spec.catalog_id].claims]
        for versus in spec.versus:
            assert any(c.startswith(versus.claim.lower()) for c in claims), (spec.id, versus.claim)
            assert versus.holds is None or versus.effect, (spec.id, versus.claim)  # a verdict says what it tests


def test_the_verdict_follows_the_record(tmp_path):
    from reference_impls._registry import get

    spec = get("mobilenet_v1")
    record = {"impl": "mobilenet_v1", "metrics": {"params": 9_000_000, "macs": 569_000_000}}
    (tmp_path / "mobilenet_v1.x.json").write_text(json.dumps(record))
    page = render_impl_pages(results_dir=tmp_path)[f"impls/{spec.id}.md"]
    rows = {line.split("|")[1].strip(): line for line in page.splitlines() if line.startswith("| 1.0 MobileNet")}
    assert "yes" in rows["1.0 MobileNet-224 multiply-adds &#40;Table 8&#41;"]
    assert "| no" in rows["1.0 MobileNet-224 parameters &#40;Table 8&#41;"]  # 9 M is not the paper's 4.2 M


def test_nested_metrics_read_as_one_named_number_per_row_not_json():
    from kb.site.impl_pages import results_section

    record = {"_file": "x.json", "metrics": {"int8": {"onnxruntime": {"agreement": 0.97}}, "photos": ["a.png", "b"]}}
    section = results_section([record], "x")
    assert "| int8 · onnxruntime · agreement | 0.97 |" in section and "| photos | a.png, b |" in section
    assert "&#123;" not in section  # no JSON braces left in the table


def test_an_implementation_that_names_its_paper_by_an_old_id_links_to_the_current_entry_page():
    from types import SimpleNamespace

    from kb.catalog.load import load_catalog
    from kb.site.impl_pages import paper_link

    catalog, _ = load_catalog()
    entry = next(e for e in catalog.by_id().values() if getattr(e, "aliases", None))
    link = paper_link(SimpleNamespace(catalog_id=entry.aliases[0]), catalog)
    assert link.endswith(f"(../entries/{entry.id}.md)")
    assert paper_link(SimpleNamespace(catalog_id="nosuchpaper2099"), catalog) == "nosuchpaper2099"


def test_every_implementation_page_has_claims_to_set_ours_beside():
    from kb.catalog.checked import load_checked_catalog
    from reference_impls._registry import all_impls

    entries = load_checked_catalog()[0].by_id()
    assert [spec.id for spec in all_impls() if not entries[spec.catalog_id].claims] == []
