"""``lablink docs build`` and ``docs check`` against a store filled by real SDK runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from doctools import Cli, LabRepo, add_run

import lablink
from helpers import LoopbackServer, make_settings
from lablink.core.lab import Lab
from lablink.docs.keep import merge


def _page(repo: LabRepo, prefix: str) -> str:
    [path] = [p for p in repo.snapshot() if p.startswith(prefix)]
    return (repo.docs / path).read_text(encoding="utf-8")


def test_build_writes_every_page_from_the_store(lab_repo: LabRepo) -> None:
    out = Cli()("docs", "build", "--project", "vision")
    files = lab_repo.snapshot()
    assert "wrote docs/lab/index.md" in out.stdout
    assert {"index.md", "HISTORY.md", "lineage.md", "experiments/vision.md"} <= set(files)
    assert {"datasets/tiny.md", "datasets/tiny-clean.md"} <= set(files)
    assert len([p for p in files if p.startswith("models/vision/")]) == 3

    log = (lab_repo.docs / "experiments/vision.md").read_text()
    negative = log.split("## Negative results")[1].split("## Runs by question")[0]
    assert "removing batchnorm collapses training" in negative
    assert "batchnorm=false" in negative  # what was tried, against the baseline
    assert re.search(r"val/acc 0\.82\d* ± 0\.001 \(n=3\)", log)  # spread over the seeds
    assert "tiny-clean@v1" in log and "### ablation" in log and "### baseline" in log

    card = _page(lab_repo, "models/vision/base-s0")
    for section in ("Model details", "Intended use", "Factors", "Metrics", "Ethical"):
        assert f"## {section}" in card
    assert "val/acc/indoor" in card  # per-group metrics in the subgroup section
    assert "(../../datasets/tiny-clean.md)" in card

    sheet = (lab_repo.docs / "datasets/tiny-clean.md").read_text()
    assert "## Motivation" in sheet and "tiny@v1" in sheet and "base-s2" in sheet

    history = (lab_repo.docs / "HISTORY.md").read_text()
    assert "collapses training" in history.split("## Dead ends")[1]
    assert "may help\n  at longer schedules" in history.split("## Open hypotheses")[1]

    index = (lab_repo.docs / "index.md").read_text()
    assert "(experiments/vision.md)" in index and "(datasets/tiny.md)" in index


def test_two_builds_from_one_store_are_byte_identical(lab_repo: LabRepo) -> None:
    Cli()("docs", "build")
    first = lab_repo.snapshot()
    (lab_repo.docs / "index.md").unlink()  # rewritten, not merely left alone
    out = Cli()("docs", "build")
    assert out.stdout.strip() == "wrote docs/lab/index.md"
    assert lab_repo.snapshot() == first
    assert Cli()("docs", "build").stdout.strip() == "docs/lab is up to date"


def test_lineage_is_a_mermaid_graph_that_parses(lab_repo: LabRepo) -> None:
    Cli()("docs", "build")
    text = (lab_repo.docs / "lineage.md").read_text()
    [graph] = re.findall(r"```mermaid\n(.*?)```", text, re.DOTALL)
    lines = graph.strip().splitlines()
    assert lines[0] == "flowchart LR"
    node = re.compile(r'^  (\w+)(\[\(".*"\)\]|\[".*"\]|\{\{".*"\}\})$')
    edge = re.compile(r"^  (\w+) --> (\w+)$")
    declared, edges = set(), []
    for line in lines[1:]:
        if match := node.match(line):
            assert '"' not in match.group(2)[2:-2].strip('(){}"'), line
            declared.add(match.group(1))
        else:
            match = edge.match(line)
            assert match, f"not a node or an edge: {line!r}"
            edges.append(match.groups())
    assert all(a in declared and b in declared for a, b in edges)
    assert ("d_tiny_v1", "d_tiny_clean_v1") in edges  # raw → derived
    assert any(a == "d_tiny_clean_v1" and b.startswith("r_") for a, b in edges)  # → runs
    assert sum(1 for a, b in edges if b.startswith("m_")) == 3  # → models


def test_hand_written_blocks_survive_a_rebuild(lab_repo: LabRepo) -> None:
    Cli()("docs", "build")
    sheet = lab_repo.docs / "datasets/tiny.md"
    mine = "Exported from the lab's sensor logs by Ana."
    text = re.sub(
        r"(<!-- lablink:keep motivation -->\n).*?(<!-- /lablink:keep -->)",
        lambda m: m.group(1) + mine + "\n" + m.group(2),
        sheet.read_text(),
        flags=re.DOTALL,
    )
    sheet.write_text(text)
    add_run("later", {"lr": 0.2}, 0.7)
    Cli()("docs", "build")
    rebuilt = sheet.read_text()
    assert mine in rebuilt
    assert "later" in (lab_repo.docs / "experiments/vision.md").read_text()
    Cli()("docs", "check")  # the kept text is not staleness


def test_a_block_the_template_dropped_is_kept_at_the_end() -> None:
    old = "<!-- lablink:keep gone -->\nmy words\n<!-- /lablink:keep -->\n"
    merged = merge("# page\n", old)
    assert merged.endswith("<!-- lablink:keep gone -->\nmy words\n<!-- /lablink:keep -->\n")


def test_check_goes_red_when_the_store_moves_on(lab_repo: LabRepo) -> None:
    cli = Cli()
    cli("docs", "check", code=1)  # nothing built yet
    cli("docs", "build", "--project", "vision")
    assert "up to date" in cli("docs", "check").stdout
    add_run("later", {"lr": 0.2}, 0.7)
    out = cli("docs", "check", code=1)
    assert "stale: docs/lab/experiments/vision.md" in out.stderr
    assert "lablink docs build" in out.stderr
    cli("docs", "build")
    cli("docs", "check")
    (lab_repo.docs / "lineage.md").write_text("edited by hand\n")
    assert "stale: docs/lab/lineage.md" in cli("docs", "check", code=1).stderr


def test_check_names_pages_no_longer_built(lab_repo: LabRepo) -> None:
    Cli()("docs", "build")
    orphan = lab_repo.docs / "experiments/old.md"
    orphan.write_text((lab_repo.docs / "experiments/vision.md").read_text())
    assert "stale: docs/lab/experiments/old.md" in Cli()("docs", "check", code=1).stderr
    assert "removed docs/lab/experiments/old.md" in Cli()("docs", "build").stdout
    assert not orphan.exists()


def test_bad_input_is_a_clear_error(
    lab_repo: LabRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = Cli()("docs", "build", "--project", "nope", code=1)
    assert "no project nope" in out.stderr and "vision" in out.stderr
    assert not lab_repo.docs.exists()
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    assert "not inside a git repository" in Cli()("docs", "build", code=1).stderr


def test_a_server_gives_the_same_docs_as_the_embedded_store(lab_repo: LabRepo) -> None:
    Cli()("docs", "build")
    with Lab(make_settings(lab_repo.home)) as lab:
        server = LoopbackServer(lab).start()
        try:
            assert "up to date" in Cli()("--server", server.url, "docs", "check").stdout
        finally:
            server.stop()


def test_model_cards_give_the_interval_over_seeds_and_the_gates_passed(
    lab_repo: LabRepo,
) -> None:
    import numpy as np
    import scipy.stats as sps

    # the three baseline seeds against a second config with three seeds of its own
    for seed in range(3):
        config = {"lr": 0.1, "width": 2, "seed": seed}
        with lablink.init(project="vision", name=f"wide-s{seed}", config=config) as run:
            run.log({"val/acc": 0.83 + 0.002 * seed}, step=0)
            (lab_repo.root / "model.bin").write_text(f"wide weights {seed}")
            run.log_artifact(str(lab_repo.root / "model.bin"), kind="model")
    gate = Cli()(
        "gate",
        "--baseline",
        "tags.baseline",
        "--candidate",
        "params.width = 2",
        "--metric",
        "val/acc:max",
        "--margin",
        "0.05",
        "--record",
    )
    assert "PASS" in gate.stdout
    Cli()("docs", "build", "--project", "vision")

    card = _page(lab_repo, "models/vision/base-s0")
    seeds = np.array([0.820, 0.821, 0.822])  # val/acc at the last step of base-s0..2
    low, high = sps.t.interval(0.95, 2, loc=seeds.mean(), scale=sps.sem(seeds))
    row = next(line for line in card.splitlines() if line.startswith("| val/acc |"))
    assert f"[{low:.4g}, {high:.4g}]" in row
    assert "_No gate verdict recorded" in card  # the baseline was not a candidate

    with lablink.Client() as client:
        [wide] = [r for r in client.runs("vision") if r.name == "wide-s0"]
        # a gate record is no metric: it adds no column to the run's metrics
        assert "gate/val/acc" not in wide.metrics
        assert wide.summary["gate/val/acc"]["verdict"] == "PASS"
        assert wide.summary["gate/val/acc"]["baseline"] == "tags.baseline"
    card = _page(lab_repo, "models/vision/wide-s0")
    gates = card.split("## Gate verdicts")[1].split("##")[0]
    assert re.search(r"\| val/acc \| PASS \| tags\.baseline \| 0\.0\d+ \[", gates)
    assert "3 vs 3" in gates


def test_a_team_template_replaces_lablinks_own(lab_repo: LabRepo) -> None:
    templates = lab_repo.docs / "templates"
    templates.mkdir(parents=True)
    (templates / "model_card.md.j2").write_text(
        "# {{ artifact.name }} of {{ run.name }}\n\n"
        "Owner: {{ run.user }}; lr {{ fmt(run.config.lr) }}.\n\n"
        "{{ metrics }}\n\n"
        '{{ keep("risks", "Who could be harmed.") }}\n'
    )
    Cli()("docs", "build", "--project", "vision")
    card = _page(lab_repo, "models/vision/base-s1")
    assert card.startswith("<!-- generated by `lablink docs build`")  # the marker is kept
    assert "# model.bin of base-s1" in card and "lr 0.1." in card
    assert "| val/acc |" in card and "<!-- lablink:keep risks -->" in card
    assert "## Intended use" not in card
    assert "## Composition" in (lab_repo.docs / "datasets/tiny.md").read_text()  # others: own
    assert "up to date" in Cli()("docs", "check").stdout
    assert not any(p.startswith("templates/") and p.endswith(".md") for p in lab_repo.snapshot())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# {{ run.name }\n", "model_card.md.j2 line 1: unexpected '}'"),
        ("# {{ run.nmae }}\n", "has no attribute 'nmae'"),
        ("# {{ run.__class__.__mro__ }}\n", "unsafe"),  # the sandbox
    ],
)
def test_a_broken_template_is_named_and_nothing_is_written(
    lab_repo: LabRepo, text: str, message: str
) -> None:
    Cli()("docs", "build")
    before = lab_repo.snapshot()
    (lab_repo.docs / "templates").mkdir()
    (lab_repo.docs / "templates/model_card.md.j2").write_text(text)
    out = Cli()("docs", "build", code=1)
    assert message in out.stderr
    assert "templates/model_card.md.j2" in out.stderr
    after = lab_repo.snapshot()
    del after["templates/model_card.md.j2"]
    assert after == before


def test_datasheets_and_lineage_give_the_data_review_state(lab_repo: LabRepo) -> None:
    from lablink.settings import Settings

    me = Settings.load({}).user
    Cli()("review", "request", "tiny-clean@v1")
    Cli()("review", "approve", "tiny-clean@v1", "--note", "checked the dropped rows")
    Cli()("docs", "build")
    sheet = (lab_repo.docs / "datasets/tiny-clean.md").read_text()
    review = sheet.split("## Review")[1].split("## ")[0]
    assert f"| tiny-clean@v1 | approved by {me} |" in review
    raw = (lab_repo.docs / "datasets/tiny.md").read_text()
    assert "`lablink review request tiny@v1`" in raw.split("## Review")[1]
    lineage = (lab_repo.docs / "lineage.md").read_text()
    assert f"review: approved by {me}" in lineage
    assert "| tiny@v1 | raw | - | not reviewed |" in lineage
