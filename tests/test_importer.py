"""`kb import awesome` on small fixture lists: every way of writing a paper, the skip report, merging, writing."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path

import pytest
import yaml

from kb import paths
from kb.catalog import rules
from kb.catalog.load import load_catalog, write_entry
from kb.catalog.schema import Entry, Kind, Source
from kb.cli import main
from kb.importer.fields import Skip
from kb.importer.list_entries import read_fields
from kb.importer.markdown_links import MAX_ITEM, Item
from kb.importer.merge import ImportReport, Outcome, import_list, list_source
from kb.importer.section_map import SectionMap

FIXTURES = Path(__file__).parent / "fixtures" / "awesome"
TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty catalog with the real vocabularies."""
    for name in ("taxonomy.yaml", "venues.yaml"):
        shutil.copy(paths.CATALOG / name, tmp_path / name)
    return tmp_path


def run(root: Path, fixture: str, source: str = "test/mixed") -> ImportReport:
    catalog, problems = load_catalog(root)
    assert problems == []
    sections = SectionMap.load(paths.SECTIONS, catalog.vocabulary)
    return import_list((FIXTURES / fixture).read_text(), list_source(source), catalog, sections, TODAY)


def by_title(report: ImportReport) -> dict[str, Outcome]:
    return {o.fields.title: o for o in report.outcomes if o.action != "duplicate"}


def test_year_venue_prefix_flags_and_code_links(root: Path) -> None:
    papers = by_title(run(root, "mixed.md"))
    deep = papers[
        "Deep Compression: Compressing Deep Neural Networks with Pruning, Trained Quantization and Huffman Coding"
    ]
    assert (deep.year, deep.venue, deep.fields.venue_flags, deep.fields.arxiv) == (
        2016,
        "ICLR",
        ["best-paper"],
        "1510.00149",
    )
    assert deep.fields.url == "https://arxiv.org/abs/1510.00149"
    assert deep.categories[:2] == ["pruning", "quantization"]
    surgery = papers["Dynamic Network Surgery for Efficient DNNs"]
    assert surgery.venue == "NeurIPS"  # NIPS is an alias
    assert surgery.fields.code == [{"url": "https://github.com/yiwenguo/Dynamic-Network-Surgery", "framework": "caffe"}]
    integers = papers["Training and Inference with Integers in Deep Neural Networks"]
    assert (integers.venue, integers.fields.venue_flags) == ("ICLR", ["oral"])  # `ICLRo`
    assert papers["Pruning neural networks: is it time to nip it in the bud?"].venue == "NeurIPS Workshop"  # `NIPSw`
    autopruner = papers["AutoPruner: An End-to-End Trainable Filter Pruning Method for Efficient Deep Model Inference"]
    assert (autopruner.year, autopruner.venue, autopruner.fields.arxiv) == (2018, None, "1805.08941")  # pdf v3 URL
    soft = papers["Soft Filter Pruning for Accelerating Deep Convolutional Neural Networks"]
    assert soft.fields.code[0]["framework"] == "pytorch" and "official" not in soft.fields.code[0]


def test_link_text_split_over_lines_and_bracket_tags(root: Path) -> None:
    papers = by_title(run(root, "mixed.md"))
    split = "To compress or not to compress: Understanding the Interactions between Adversarial Attacks and Neural Network Compression"
    assert (papers[split].venue, papers[split].fields.arxiv) == ("MLSys", "1810.00208")
    mobilenet = next(o for t, o in papers.items() if t.startswith("MobilenetV2"))
    assert mobilenet.fields.title.endswith("Mobile Networks for Classification, Detection and Segmentation")
    assert (mobilenet.year, mobilenet.venue, mobilenet.categories) == (2018, "arXiv", ["decrease-complexity"])
    deepx = papers["DeepX: A Software Accelerator for Low-Power Deep Learning Inference on Mobile Devices"]
    assert (deepx.year, deepx.venue) == (2016, "SenSys")  # `[SenSys ’16]`
    assert deepx.categories == ["decrease-complexity", "deployment"]  # section, then the title keyword


def test_authors_venue_year_and_code_after_the_link(root: Path) -> None:
    papers = by_title(run(root, "mixed.md"))
    hinton = papers["Distilling the Knowledge in a Neural Network"]
    assert (hinton.fields.authors, hinton.year, hinton.venue) == (["Hinton", "J.Dean"], 2015, None)
    assert hinton.entry_id == "hinton2015distilling"
    seq = papers["Sequence-Level Knowledge Distillation"]
    assert (seq.fields.authors, seq.year, seq.venue) == (["Yoon Kim", "Alexander M. Rush"], 2016, "EMNLP")
    factor = papers["Paraphrasing Complex Network: Network Compression via Factor Transfer"]
    assert factor.fields.authors == ["Jangho Kim", "SeongUk Park", "Nojun Kwak"]  # `A, B and C`
    assert (factor.venue, factor.year) == ("NeurIPS", 2018)  # `NIPS, 2018`
    mgd = papers["Masked Generative Distillation"]
    assert (mgd.venue, mgd.fields.code) == ("ECCV", [{"url": "https://github.com/yzd-v/MGD"}])
    assert mgd.categories == ["knowledge-distillation"]


def test_doi_fragile_links_and_unknown_venues_are_reported(root: Path) -> None:
    report = run(root, "mixed.md")
    papers = by_title(report)
    assert papers["A Chapter on Compact Networks"].fields.doi == "10.1007/978-3-319-46493-0_32"
    survey = papers["Binary neural networks: A survey"]
    assert survey.fields.url == "https://www.sciencedirect.com/science/article/pii/S0031320320300856"  # token dropped
    assert survey.venue == "Pattern Recognition"
    assert survey.categories == ["binary-networks", "surveys"]
    assert any(line == survey.fields.line and "casa_token" in note for line, note in report.notes)
    bagging = papers["Bagging predictors"]
    assert (bagging.fields.url, bagging.year) == (None, 1996)
    assert any(line == bagging.fields.line and note.startswith("fragile link (ftp)") for line, note in report.notes)
    assert report.unknown_venues == {"Springer": [papers["A Chapter on Compact Networks"].fields.line]}


def test_every_skipped_line_is_reported_with_its_reason(root: Path) -> None:
    report = run(root, "mixed.md")
    lines = (FIXTURES / "mixed.md").read_text().splitlines()
    skipped = [(lines[number - 1].strip(), reason) for number, reason in report.skipped]

    def reason(start: str) -> str:
        return next(why for line, why in skipped if line.startswith(start))

    assert reason("- [Pruning](#pruning)") == "link inside the page (table of contents)"
    assert reason("- 2021-ICML-[A statistical") == "empty link"
    assert reason("- 2016-NIPS-[Dynamic Network Surgery for Efficient DNNs](https://arxiv").startswith(
        "duplicate: the same paper as line 12"
    )
    assert reason("* Knowledge distillation, a note") == "no link"
    assert reason("1. [Awesome-Pruning]") == "repository, not a paper"
    assert reason("- 2016-KDD-").startswith("off-topic section: 'Papers [Interpretability]'")
    assert reason("1. [Squeezing Deep Learning").startswith("off-topic section: 'Tutorials'")
    assert reason("- [Some Paper Without A Home]").startswith("unmapped section:")
    item_lines = [n for n, line in enumerate(lines, 1) if line.lstrip().startswith(("- ", "* ", "1. "))]
    accounted = {o.fields.line for o in report.outcomes} | {n for n, _ in report.skipped}
    assert set(item_lines) <= accounted  # no item goes unreported
    duplicate = next(o for o in report.outcomes if o.action == "duplicate")
    assert duplicate.fields.arxiv == "1608.04493"
    assert report.changed["dynamic2016network"].arxiv == "1608.04493"  # the duplicate's arXiv id was kept


def test_tables_with_venue_flags_and_code_columns(root: Path) -> None:
    report = run(root, "table.md", "test/table")
    papers = by_title(report)
    gm = papers["Filter Pruning via Geometric Median for Deep Convolutional Neural Networks Acceleration"]
    assert (gm.year, gm.venue, gm.fields.venue_flags, gm.fields.section) == (2019, "CVPR", ["oral"], "2019")
    assert gm.fields.code == [
        {"url": "https://github.com/he-y/filter-pruning-geometric-median", "framework": "pytorch", "official": True}
    ]
    lottery = papers["The Lottery Ticket Hypothesis: Finding Sparse, Trainable Neural Networks"]
    assert (lottery.venue, lottery.fields.venue_flags) == ("ICLR", ["best-paper"])
    assert papers["Collaborative Channel Pruning for Deep Networks"].fields.code == []  # `-`
    graph = papers["Dynamic Sparse Graph for Efficient Deep Learning"]
    assert graph.fields.code == [{"url": "https://github.com/mtcrawshaw/dynamic-sparse-graph", "framework": "cpp"}]
    assert papers["Learning both Weights and Connections for Efficient Neural Networks"].year == 2015
    assert (report.counts()["parsed"], report.counts()["skipped: no link"]) == (5, 1)


def test_a_hand_written_entry_keeps_its_fields_and_gains_the_list_as_a_source(root: Path) -> None:
    seed = Entry(
        id="han2015learning",
        kind=Kind.paper,
        title="Learning both Weights and Connections for Efficient Neural Networks",
        authors=["Song Han", "Jeff Pool"],
        year=2015,
        venue="NeurIPS",
        arxiv="1506.02626",
        categories=["pruning"],
        summary="Prunes small weights and retrains the rest, repeatedly, keeping accuracy.",
        added=dt.date(2026, 1, 1),
        sources=[Source(name="founding-notes")],
    )
    path = write_entry(root, seed)
    before = path.read_text()
    report = run(root, "table.md", "test/table")
    merged = next(o for o in report.outcomes if o.entry_id == "han2015learning")
    assert merged.action == "merged"
    entry = report.changed["han2015learning"]
    assert entry.model_dump(exclude={"sources"}) == seed.model_dump(exclude={"sources"})  # no code link added
    assert [s.name for s in entry.sources] == ["founding-notes", "awesome-list:test/table"]
    assert entry.sources[1].section == "2015" and entry.sources[1].url == "https://github.com/test/table"
    assert len([p for p in root.glob("paper/*.yaml")]) == 1 and path.read_text() == before  # a dry run writes nothing


def test_write_then_validate_is_clean_and_a_second_run_changes_nothing(
    root: Path, capsys: pytest.CaptureFixture
) -> None:
    for fixture, source in (("mixed.md", "test/mixed"), ("table.md", "test/table")):
        args = ["import", "awesome", str(FIXTURES / fixture), "--source", source, "--catalog", str(root), "--write"]
        assert main(args) == 0
    files = sorted(p.name for p in root.glob("paper/*.yaml"))
    assert len(files) == 16 + 5
    catalog, problems = load_catalog(root)
    assert problems == [] and rules.check(catalog) == []
    snapshot = {p: p.read_text() for p in root.glob("paper/*.yaml")}
    capsys.readouterr()
    main(["import", "awesome", str(FIXTURES / "table.md"), "--source", "test/table", "--catalog", str(root), "--write"])
    assert "unchanged 5" in capsys.readouterr().err
    assert {p: p.read_text() for p in root.glob("paper/*.yaml")} == snapshot
    lottery = yaml.safe_load((root / "paper" / "lottery2019ticket.yaml").read_text())
    assert lottery["venue_flags"] == ["best-paper"] and lottery["sources"][0]["name"] == "awesome-list:test/table"
    assert "summary" not in lottery  # imported entries carry no filler summary


def test_json_format_prints_one_object_per_parsed_paper(root: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["import", "awesome", str(FIXTURES / "table.md"), "--source", "test/table", "--catalog", str(root)]
    assert main([*args, "--format", "json"]) == 0
    out = capsys.readouterr()
    objects = [json.loads(line) for line in out.out.splitlines()]
    assert len(objects) == 5
    assert {"title", "url", "arxiv", "year", "venue", "section", "categories", "action", "id"} <= set(objects[0])
    assert "dry run" in out.err and not list(root.glob("paper/*.yaml"))


def test_source_defaults_to_the_repository_named_in_source_txt(tmp_path: Path, root: Path) -> None:
    folder = tmp_path / "list"
    folder.mkdir()
    shutil.copy(FIXTURES / "table.md", folder / "README.md")
    (folder / "SOURCE.txt").write_text("repository: https://github.com/he-y/Awesome-Pruning\ncommit: abc\n")
    assert main(["import", "awesome", str(folder / "README.md"), "--catalog", str(root), "--write"]) == 0
    entry = yaml.safe_load((root / "paper" / "filter2019pruning.yaml").read_text())
    assert entry["sources"] == [
        {
            "name": "awesome-list:he-y/Awesome-Pruning",
            "url": "https://github.com/he-y/Awesome-Pruning",
            "section": "2019",
        }
    ]


def test_a_mapping_with_an_unknown_category_is_refused(tmp_path: Path, root: Path) -> None:
    catalog, _ = load_catalog(root)
    bad = tmp_path / "sections.yaml"
    bad.write_text("sections:\n  - {match: prun, categories: [prunning]}\n")
    with pytest.raises(ValueError, match="unknown category 'prunning'"):
        SectionMap.load(bad, catalog.vocabulary)


def test_styles_of_lists_not_developed_against(root: Path) -> None:
    papers = by_title(run(root, "unseen.md", "test/unseen"))
    qat = papers["Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference"]
    assert (qat.venue, qat.year, qat.fields.arxiv) == ("CVPR", 2018, "1712.05877")  # `**Title**, ... [[paper](url)]`
    assert qat.fields.code == [{"url": "https://github.com/tensorflow/tensorflow"}]
    haq = papers["HAQ: Hardware-Aware Automated Quantization with Mixed Precision"]  # `Title. Authors. Venue. [[pdf]]`
    assert (haq.fields.authors, haq.venue, haq.year, haq.fields.arxiv) == (
        ["Kuan Wang", "Zhijian Liu"],
        "CVPR",
        2019,
        "1811.08886",
    )
    dfq = papers["Data-Free Quantization Through Weight Equalization and Bias Correction"]
    assert (dfq.venue, dfq.year) == ("ICCV", 2019)  # `(ICCV 2019)`
    pact = papers["PACT: Parameterized Clipping Activation for Quantized Neural Networks"]
    assert (pact.fields.authors, pact.venue, pact.year) == ([], None, 2018)  # a description is no author list
    lsq = papers["LSQ: Learned Step Size Quantization"]
    assert (lsq.venue, lsq.year) == ("ICLR", 2020)  # `- ICLR 2020`


def test_formats_of_lists_never_seen(root: Path) -> None:
    """Titles outside badge links, venue tags as link texts, `<br>` cells with shields.io badges, trailing authors,
    all under one heading ("Papers") that catalog/sections.yaml does not map."""
    report = run(root, "unseen-formats.md", "someone/awesome-efficient-llm")
    papers = by_title(report)
    assert not [reason for _, reason in report.skipped if not reason.startswith("duplicate")]
    awq = papers["AWQ: Activation-aware Weight Quantization for LLM Compression and Acceleration"]
    assert awq.fields.arxiv == "2306.00978" and awq.categories[:2] == ["quantization", "language-models"]
    gptq = papers["GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers"]
    assert gptq.fields.code[0]["url"] == "https://github.com/IST-DASLab/gptq"
    fastvit = papers["FastViT: A Fast Hybrid Vision Transformer using Structural Reparameterization"]
    assert (fastvit.year, fastvit.venue) == (2023, "CVPR")
    smooth = papers["SmoothQuant: Accurate and Efficient Post-Training Quantization for Large Language Models"]
    assert smooth.fields.authors[0] == "Guangxuan Xiao" and len(smooth.fields.authors) == 6 and smooth.year == 2023
    sparse = papers["SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot"]
    assert (sparse.venue, sparse.year, sparse.fields.authors) == ("ICML", 2023, ["Elias Frantar", "Dan Alistarh"])
    # The table's AWQ row is the same paper as the list item: merged, not a second entry.
    assert [o.action for o in report.outcomes].count("duplicate") == 1
    assert {line for line, _ in report.fallback} >= {5, 6, 7, 8, 9, 14}  # every paper filed, and said so


def test_an_unmapped_heading_uses_the_category_given(root: Path) -> None:
    catalog, _ = load_catalog(root)
    sections = SectionMap.load(paths.SECTIONS, catalog.vocabulary)
    markdown = "# Reading\n\n## Papers\n\n- [Optimal Brain Damage](https://example.org/obd) (NeurIPS 1990)\n"
    report = import_list(markdown, list_source("a/b"), catalog, sections, TODAY, category="pruning")
    (outcome,) = report.outcomes
    assert outcome.categories == ["pruning"] and report.fallback == [(5, "pruning")]


def test_an_excluded_work_is_not_imported_again(root: Path) -> None:
    (root / "excluded.yaml").write_text(
        "excluded:\n  - {id: terngrad2017ternary, title: 'TernGrad: Ternary Gradients to Reduce Communication in "
        "Distributed Deep Learning', arxiv: '1705.07878', reason: gradient compression for distributed training}\n"
    )
    catalog, _ = load_catalog(root)
    sections = SectionMap.load(paths.SECTIONS, catalog.vocabulary)
    markdown = "# Quantization\n\n- [TernGrad](https://arxiv.org/abs/1705.07878) NeurIPS 2017\n"
    report = import_list(markdown, list_source("a/b"), catalog, sections, TODAY)
    assert not report.outcomes and "excluded: gradient compression" in report.skipped[0][1]


def test_rules_learnt_from_real_unseen_lists(root: Path) -> None:
    """One item per rule that the first five unseen lists of `tests/fixtures/lists/` taught."""
    catalog, _ = load_catalog(root)
    sections = SectionMap.load(paths.SECTIONS, catalog.vocabulary)
    markdown = (
        "# Quantization\n\n"
        "**BiBench: Benchmarking and Analyzing Network Binarization**  [[Paper](https://arxiv.org/abs/2301.11233)]\n\n"
        "[Haotong Qin](https://htqin.github.io/), [Mingyuan Zhang](https://m.github.io/), [Yifu Ding](https://y.io/).\n\n"
        "- [[ICLR](https://openreview.net/forum?id=9QLRCVysdlO)] BiPointNet: Binary Neural Network for Point Clouds."
        " [**`bnn`**] [[torch](https://github.com/htqin/BiPointNet)]\n"
        '- "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers", ICLR, 2023.'
        " [[papar](https://arxiv.org/abs/2210.17323)] [**`PTQ`**]\n"
        "- ZeroQuant: Efficient and Affordable Post-Training Quantization for Large-Scale Transformers <br> NeurIPS 2022"
        " [[Paper]](https://arxiv.org/abs/2206.01861) [[Code (DeepSpeed)]](https://github.com/microsoft/DeepSpeed)\n"
        "- [MQBench (Benchmark)](http://mqbench.tech/)\n\n"
        "1. Distilling the knowledge in a neural network. Hinton et al. arXiv:1503.02531\n"
        "2. Ensemble Distribution Distillation. ICLR 2020 [[code]][1.10]\n"
        "3. In Defense of Feature Mimicking for Knowledge Distillation. Wang, Guo-Hua et al. arXiv:2011.0142\n"
        "4. pruning (including structured and unstructured)\n\n"
        "| Title & Authors | Links |\n|:--|:---:|\n"
        "|[SDQ: Sparse Decomposed Quantization for LLM Inference](https://arxiv.org/abs/2406.13868) <br> Geonhwa Jeong,"
        " Tushar Krishna |[Paper](https://arxiv.org/abs/2406.13868)|[//]: #06/24\n\n"
        "[1.10]: https://github.com/yuanli2333/Teacher-free-Knowledge-Distillation\n"
    )
    report = import_list(markdown, list_source("a/b"), catalog, sections, TODAY)
    got = {o.fields.line: (o.fields.title, o.venue, o.year, o.fields.arxiv) for o in report.outcomes}
    assert got == {
        3: ("BiBench: Benchmarking and Analyzing Network Binarization", None, 2023, "2301.11233"),
        7: ("BiPointNet: Binary Neural Network for Point Clouds", "ICLR", None, None),
        8: (
            "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers",
            "ICLR",
            2023,
            "2210.17323",
        ),
        9: (
            "ZeroQuant: Efficient and Affordable Post-Training Quantization for Large-Scale Transformers",
            "NeurIPS",
            2022,
            "2206.01861",
        ),
        12: ("Distilling the knowledge in a neural network", None, 2015, "1503.02531"),
        13: ("Ensemble Distribution Distillation", "ICLR", 2020, None),
        14: ("In Defense of Feature Mimicking for Knowledge Distillation", None, None, None),
        19: ("SDQ: Sparse Decomposed Quantization for LLM Inference", None, 2024, "2406.13868"),
    }
    by_line = {o.fields.line: o.fields for o in report.outcomes}
    assert by_line[7].code == [{"url": "https://github.com/htqin/BiPointNet", "framework": "pytorch"}]
    assert by_line[9].code == [{"url": "https://github.com/microsoft/DeepSpeed"}]
    assert by_line[19].authors == ["Geonhwa Jeong", "Tushar Krishna"]
    assert dict(report.skipped) == {
        5: "a list of names or links, not a paper",
        10: "link to the front page of a site, not a paper: http://mqbench.tech/",
        15: "no link",
    }
    assert (14, "malformed arXiv id left out, paper kept without it: arXiv:2011.0142") in report.notes


def test_rules_learnt_from_held_out_lists(root: Path) -> None:
    """One item per rule that the two held-out lists (gigwegbe, ChanChiChoi) taught."""
    catalog, _ = load_catalog(root)
    sections = SectionMap.load(paths.SECTIONS, catalog.vocabulary)
    markdown = (
        "# Papers\n\n"
        "- **[HAQ]** Hardware-Aware Automated Quantization with Mixed Precision | [`[pdf]`](https://arxiv.org/abs/1811.08886)\n"
        "- RNNPool: Efficient Non-linear Pooling for RAM Constrained Inference | [`[blog]`](https://www.microsoft.com/b/"
        "rnnpool) [`[pdf]`](https://arxiv.org/pdf/2002.11921.pdf)\n"
        "- Compiling KB-Sized Machine Learning Models to Tiny IoT Devices | [`[pdf]`](microsoft.com/r/pldi19-SeeDot.pdf)\n"
        "- Jaderberg, Max. [Speeding up convolutional neural networks with low rank expansions](http://www.robots.ox.ac.uk"
        "/j.pdf) .[J] arXiv preprint arXiv:1405.3866 (2014).\n"
        "- Yunchao Gong .[Compressing Deep Convolutional Networks using Vector Quantization]"
        "(https://arxiv.org/pdf/1412.06115) .[J] arXiv preprint arXiv:1412.06115\n"
        "- W. Wen. [Learning structured sparsity in deep neural networks.](https://papers.nips.cc/paper/6504.pdf) In"
        " Advances in Neural Information Processing Systems, pages 2074–2082, 2016.\n"
        "- Y.Wang. [Deepburning: automatic generation of fpga-based learning accelerators](http://papers.nips.cc/p.pdf)."
        " In Design Automation Conference, page 110, 2016.\n"
        "- J. L. Holi and J. N. Hwang. [Finite precision error analysis of neural network hardware implementations]. In"
        " Ijcnn-91- Seattle International Joint Conference on Neural Networks, pages 519–525 vol.1, 1993.\n"
        "- S. Liu. [Cambricon: An instruction set architecture for neural networks]. SIGARCH News, 44(3), June 2016.\n"
        "- [resources][handong1587/cnn-compression-acceleration](https://handong1587.github.io/deep_learning/c.html)\n"
        "- [TinyML: Machine Learning with TensorFlow Lite](https://www.amazon.com/TinyML-Learning/dp/1492052043)\n"
    )
    report = import_list(markdown, list_source("a/b"), catalog, sections, TODAY, category="deployment")
    got = {o.fields.line: (o.fields.title, o.venue, o.year, o.fields.arxiv) for o in report.outcomes}
    assert got == {
        3: ("HAQ: Hardware-Aware Automated Quantization with Mixed Precision", None, 2018, "1811.08886"),
        4: ("RNNPool: Efficient Non-linear Pooling for RAM Constrained Inference", None, 2020, "2002.11921"),
        5: ("Compiling KB-Sized Machine Learning Models to Tiny IoT Devices", None, None, None),
        6: ("Speeding up convolutional neural networks with low rank expansions", None, 2014, "1405.3866"),
        7: ("Compressing Deep Convolutional Networks using Vector Quantization", None, 2014, "1412.6115"),
        8: ("Learning structured sparsity in deep neural networks", None, 2016, None),
        9: ("Deepburning: automatic generation of fpga-based learning accelerators", "DAC", 2016, None),
        10: ("Finite precision error analysis of neural network hardware implementations", None, 1993, None),
        11: ("Cambricon: An instruction set architecture for neural networks", None, 2016, None),
    }
    by_line = {o.fields.line: o.fields for o in report.outcomes}
    assert by_line[5].url == "https://microsoft.com/r/pldi19-SeeDot.pdf" and by_line[9].authors == []
    assert "June" not in report.unknown_venues
    assert dict(report.skipped) == {
        12: "link text names a repository or list (handong1587/cnn-compression-acceleration), not a paper",
        13: "link to a shop, blog, video or social site, not a paper: https://www.amazon.com/TinyML-Learning/dp/1492052043",
    }


def test_an_item_of_many_tag_links_is_read_in_linear_time() -> None:
    """20,000 characters of `[[x](y)] ` took 1.5 s when each link searched the text before it for a quoted title."""
    item = Item(1, ("Papers",), ("[[x](https://a.org/y)] " * 1000)[: MAX_ITEM - 1])
    start = time.process_time()
    with pytest.raises(Skip):
        read_fields(item, lambda _: False)
    assert time.process_time() - start < 0.5
