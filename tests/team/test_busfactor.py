"""The bus factor: DOA and the greedy truck factor, on real git repositories built here."""

from __future__ import annotations

import json
import math
import os
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from lablink.checks.truckfactor import FileHistory, doa, silos, truck_factor
from lablink.cli.main import app
from lablink.errors import InvalidInput
from lablink.team.busfactor import Point, analyse

ANA = ("Ana Lima", "ana@lab.org")
KENJI = ("Kenji Sato", "kenji@lab.org")
LUCIA = ("Lucia Rossi", "lucia@lab.org")
DAY = 86_400
T0 = 1_700_000_000


class Repo:
    """A git repository whose commits name their author and time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.clock = T0
        root.mkdir()
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, who: tuple[str, str] = ANA) -> None:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": who[0],
            "GIT_AUTHOR_EMAIL": who[1],
            "GIT_COMMITTER_NAME": who[0],
            "GIT_COMMITTER_EMAIL": who[1],
            "GIT_AUTHOR_DATE": f"@{self.clock} +0000",
            "GIT_COMMITTER_DATE": f"@{self.clock} +0000",
        }
        subprocess.run(["git", *args], cwd=self.root, env=env, check=True, capture_output=True)

    def commit(self, who: tuple[str, str], *paths: str, text: str = "") -> None:
        """Write (or append to) each path and commit them as ``who``, a day later."""
        self.clock += DAY
        for rel in paths:
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as fh:
                fh.write(f"{who[0]} {self.clock} {text}\n")
        self.git("add", "-A", who=who)
        self.git("commit", "-qm", f"{who[0]} changes {len(paths)}", who=who)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


# -- the arithmetic -------------------------------------------------------------------


def test_doa_is_the_papers_formula() -> None:
    assert doa(True, 3, 2) == pytest.approx(3.293 + 1.098 + 0.164 * 3 - 0.321 * math.log(3))
    assert doa(False, 1, 0) == pytest.approx(3.457)
    # a lone creator authors; a one-off contributor to a file with a long history does not
    history = FileHistory("ana", {"ana": 1, "kenji": 1})
    assert history.authors() == {"ana"}  # kenji: 3.457 - 0.321 ln 2 < 0.75 of ana's 4.33
    history = FileHistory("ana", {"ana": 1, "kenji": 12})
    assert history.authors() == {"kenji"}  # ana's 4.555 - 0.321 ln 13 falls below 3.293


def test_truck_factor_removes_the_biggest_author_until_half_is_orphaned() -> None:
    authors = {f"a{i}": {"ana"} for i in range(5)}
    authors |= {f"k{i}": {"kenji"} for i in range(3)}
    authors |= {"shared": {"ana", "lucia"}, "l0": {"lucia"}}
    tf = truck_factor(authors)
    # 10 files: all covered; without ana 5 remain covered (0.5, not below); without kenji 2
    assert tf.factor == 2
    assert tf.removed == (("ana", 6), ("kenji", 3))
    assert tf.coverage == (1.0, 0.5, 0.2)
    assert truck_factor({"x": set(), "y": set()}).factor == 0  # nobody knows anything


@given(
    st.dictionaries(
        st.text("abcdefgh", min_size=1, max_size=3),
        st.sets(st.sampled_from(["ana", "kenji", "lucia", "omar", "wei"]), max_size=3),
        min_size=1,
        max_size=40,
    )
)
def test_truck_factor_invariants(authors: dict[str, set[str]]) -> None:
    tf = truck_factor(authors)
    gone: set[str] = set()
    for (who, _), before in zip(tf.removed, tf.coverage, strict=False):
        covered = sum(1 for devs in authors.values() if devs - gone)
        assert before == covered / len(authors) >= 0.5
        gone.add(who)
    left = sum(1 for devs in authors.values() if devs - gone) / len(authors)
    assert left < 0.5 or not set().union(*authors.values()) - gone
    # each removal took a developer with the most files still counted
    remaining = {d for devs in authors.values() for d in devs}
    for who, n in tf.removed:
        counts = {d: sum(1 for devs in authors.values() if d in devs) for d in remaining}
        assert n == counts[who] == max(counts.values())
        remaining.discard(who)


def test_silos_are_folders_one_person_authors_alone() -> None:
    authors = {"data/a": {"ana"}, "data/b": {"ana"}, "src/x": {"ana"}, "src/y": {"kenji"}}
    assert silos(authors, ["data/", "src/"]) == {"data/": "ana"}


# -- real repositories ----------------------------------------------------------------


def test_a_repository_with_known_authorship(repo: Repo) -> None:
    for i in range(4):
        repo.commit(ANA, f"src/model{i}.py")
    repo.commit(ANA, "src/model0.py", "src/model1.py")
    for i in range(3):
        repo.commit(KENJI, f"data/load{i}.py")
    repo.commit(LUCIA, "README.md")
    repo.commit(KENJI, "src/model3.py")  # one change to a file ana made: ana still authors

    report = analyse(repo.root)
    assert report.commits == 10
    assert report.authors["src/model3.py"] == ["Ana Lima <ana@lab.org>"]
    assert report.authors["data/load0.py"] == ["Kenji Sato <kenji@lab.org>"]
    # 8 files: ana authors 4, kenji 3, lucia 1; without ana 4/8 are covered, without kenji 1/8
    assert report.overall.factor == 2
    assert [who for who, _ in report.overall.removed] == [
        "Ana Lima <ana@lab.org>",
        "Kenji Sato <kenji@lab.org>",
    ]
    assert report.folders["src/"].factor == 1 and report.folders["data/"].factor == 1
    assert report.silos == {"src/": "Ana Lima <ana@lab.org>", "data/": "Kenji Sato <kenji@lab.org>"}
    assert len(report.timeline) == 8 and report.timeline[-1] == Point(repo.clock, 2, 8)
    assert report.timeline[0] == Point(T0 + 2 * DAY, 1, 2)  # two of ana's files by then

    only_src = analyse(repo.root / "src", path="src")
    assert only_src.overall.files == 4 and only_src.overall.factor == 1


def test_renames_carry_history_and_deleted_files_do_not_count(repo: Repo) -> None:
    repo.commit(ANA, "old.py")
    repo.commit(ANA, "old.py")
    repo.commit(KENJI, "gone.py")
    repo.clock += DAY
    repo.git("mv", "old.py", "new.py", who=KENJI)
    repo.git("rm", "-q", "gone.py", who=KENJI)
    repo.git("commit", "-qm", "move", who=KENJI)
    report = analyse(repo.root)
    assert set(report.authors) == {"new.py"}
    # ana created it and changed it twice; kenji's rename is one change
    assert report.authors["new.py"] == ["Ana Lima <ana@lab.org>"]


def test_aliases_of_one_person_are_merged(repo: Repo) -> None:
    repo.commit(ANA, "a.py")
    repo.commit(("Ana Lima", "ana.lima@gmail.com"), "b.py")  # same name, private e-mail
    repo.commit(("ana", "ana@lab.org"), "c.py")  # same e-mail, short name
    (repo.root / ".mailmap").write_text("Kenji Sato <kenji@lab.org> <k@old.example>\n")
    repo.commit(("ks", "k@old.example"), "d.py")
    report = analyse(repo.root)
    people = {a for authors in report.authors.values() for a in authors}
    assert people == {"Ana Lima <ana@lab.org>", "Kenji Sato <kenji@lab.org>"}
    assert report.aliases == {
        "Ana Lima <ana@lab.org>": ["Ana Lima <ana.lima@gmail.com>", "ana <ana@lab.org>"]
    }


def test_since_keeps_only_recent_knowledge(repo: Repo) -> None:
    for i in range(3):
        repo.commit(ANA, f"m{i}.py")
    repo.clock += 400 * DAY
    repo.commit(KENJI, "m0.py")
    recent = analyse(repo.root, since=f"@{repo.clock - 30 * DAY}")
    assert recent.commits == 1
    # m0 is kenji's now (no creator in the window); m1 and m2 have no recent author
    assert recent.authors == {"m0.py": ["Kenji Sato <kenji@lab.org>"], "m1.py": [], "m2.py": []}
    assert recent.overall.factor == 0  # only a third of the files are covered at all


def test_bad_places_are_clear_errors(repo: Repo, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no commits"):
        analyse(repo.root)
    repo.commit(ANA, "a.py")
    with pytest.raises(InvalidInput, match="no files under 'nothing'"):
        analyse(repo.root, path="nothing")
    with pytest.raises(InvalidInput, match="outside the repository"):
        analyse(repo.root, path="../etc")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(InvalidInput, match="git rev-parse failed"):
        analyse(plain)


# -- the command ----------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)


def test_the_command_prints_json_and_writes_html(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        repo.commit(ANA, f"src/m{i}.py")
    repo.commit(KENJI, "data/x.py")
    monkeypatch.setenv("LABLINK_HOME", str(tmp_path / "home"))
    page = tmp_path / "bf.html"
    args = ["busfactor", "--repo", str(repo.root), "--json", "--html", str(page)]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["truck_factor"] == 1 and data["files"] == 4
    assert data["silos"]["src/"] == "Ana Lima <ana@lab.org>"
    parser = _Tags()
    parser.feed(page.read_text())
    assert {"svg", "polyline", "table"} <= set(parser.tags)

    table = CliRunner().invoke(app, ["busfactor", "--repo", str(repo.root), "--no-store"])
    assert "truck factor 1" in table.stdout and "without Ana Lima" in table.stdout

    bad = CliRunner().invoke(app, ["busfactor", "--repo", str(repo.root), "--since", "soon"])
    assert bad.exit_code == 1 and "2y, 18mo" in bad.stderr


def test_the_store_names_datasets_and_projects_held_alone(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lablink
    from lablink.sdk import data as sdk_data

    repo.commit(ANA, "train.py")
    monkeypatch.setenv("LABLINK_HOME", str(tmp_path / "home"))
    raw = tmp_path / "raw.csv"
    for who, text in (("ana@lab.org", "x\n1\n"), ("ana@lab.org", "x\n2\n")):
        monkeypatch.setenv("LABLINK_USER", who)
        raw.write_text(text)
        sdk_data.add(raw, "images", profile=False)
    for who, tags in (("ana@lab.org", []), ("kenji@lab.org", ["baseline"])):
        monkeypatch.setenv("LABLINK_USER", who)
        with lablink.init(project="vision", tags=tags):
            lablink.dataset("images@v2")
    args = ["busfactor", "--repo", str(repo.root), "--json"]
    data = json.loads(CliRunner().invoke(app, args, catch_exceptions=False).stdout)
    found = {(h["kind"], h["name"]): h for h in data["store"]}
    images = found["dataset", "images"]
    assert images["silo"] and images["people"] == {"ana@lab.org": 2}
    assert images["last_user"] == "kenji@lab.org"
    vision = found["project", "vision"]
    assert not vision["silo"] and vision["people"] == {"ana@lab.org": 1, "kenji@lab.org": 1}
    assert vision["baseline_owners"] == ["kenji@lab.org"]
