"""Docs benchmark: ``lablink docs build`` over a large store.

Fills an embedded store (in a temporary git repository) with ``--runs`` runs over 20
projects (configs, metric summaries, tags, notes: every tenth run negative), ``--versions``
dataset versions over 20 datasets that the runs read, and ``--models`` model artifacts,
then times, each as its own ``lablink`` process as a user runs them:

- ``docs build`` into an empty folder (the issue's target: 10,000 runs, 200 versions and
  50 models in at most 10 s);
- ``docs build`` again with nothing changed, and ``docs check``;
- the reference in the same run: a process that reads the same facts through the SDK
  (``lablink.sdk.docs_facts.gather``) and renders nothing.

Run with ``python benchmarks/docs_build.py [--runs 10000 --versions 200 --models 50]``.
Prints figures, never asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lablink.core.lab import Lab
from lablink.settings import Settings

PROJECTS = 20
DATASETS = 20
USER = "bench@lab.org"
GATHER = (
    "from pathlib import Path; from lablink.settings import Settings; "
    "from lablink.sdk.docs_facts import gather; "
    "facts = gather(Settings.load(), None, Path('docs/lab')); print(len(facts.runs))"
)


def fill(settings: Settings, runs: int, versions: int, models: int) -> None:
    """Runs, dataset versions and model artifacts, written through the core use cases."""
    with Lab(settings) as lab:
        refs = []
        for i in range(versions):
            dataset, version = f"set{i % DATASETS}", i // DATASETS + 1
            digest = lab.tracking.put_blob(io.BytesIO(f"{dataset} v{version}".encode()))
            refs.append((f"{dataset}@v{version}", digest))
        _fill_versions(lab, versions)
        model_every = max(1, runs // models) if models else 0
        made = 0
        for i in range(runs):
            project = f"p{i % PROJECTS:02d}"
            config = {"lr": 10 ** -(1 + i % 4), "width": 32 * (1 + i % 3), "seed": i % 5}
            tags = ["baseline"] if i < PROJECTS else [f"q{i % 7}"]
            run = lab.tracking.create_run(USER, project, f"r{i}", config, tags)
            lab.tracking.set_summary(run.id, {"val/acc": 0.5 + (i % 97) / 200, "val/loss": 1.0})
            ref, digest = refs[i % len(refs)] if refs else (None, None)
            if ref:
                lab.tracking.add_input(run.id, "dataset", ref, digest)
            if i % 10 == 3:
                lab.tracking.note(USER, run.id, f"lr {config['lr']} diverged", "negative")
            if model_every and i % model_every == 0 and made < models:
                blob = lab.tracking.put_blob(io.BytesIO(f"weights {i}".encode()))
                lab.tracking.add_artifact(run.id, "model.pt", "model", blob)
                made += 1
            lab.tracking.finish_run(USER, run.id)


def _fill_versions(lab: Lab, versions: int) -> None:
    """Dataset versions through the SDK's data push (the embedded remote)."""
    from lablink.sdk import data as sdk_data

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data.csv"
        for i in range(versions):
            dataset, version = f"set{i % DATASETS}", i // DATASETS + 1
            folder.write_text(f"x,y\n{i},{version}\n")
            parents = [f"{dataset}@v{version - 1}"] if version > 1 else []
            sdk_data.add(
                folder,
                dataset,
                message=f"export {version}",
                parents=parents,
                profile=False,
                settings=lab.settings,
            )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[tuple[float, float], str]:
    """Wall and CPU seconds of ``cmd``, and its output. The CPU figure is the one to
    read on a loaded machine: other processes stretch the wall clock, not it."""
    start, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return (elapsed, children_cpu() - cpu), done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument(
        "--keep", help="folder that keeps the filled store between runs (filled if empty)"
    )
    args = parser.parse_args()

    # With --keep, the filled store lives on in that folder and later runs reuse it, so
    # the build can be timed again when the machine is quiet.
    keep = Path(args.keep) if args.keep else None
    with contextlib.nullcontext(keep) if keep else tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        repo = base / "repo"
        env = {**os.environ, "LABLINK_HOME": str(base / "home"), "LABLINK_USER": USER}
        if not (repo / ".git").exists():
            repo.mkdir(parents=True)
            subprocess.run(["git", "init", "-q", str(repo)], check=True)
            # The fill is preparation, not the measurement: without an fsync per write
            # it takes minutes instead of tens of minutes.
            settings = Settings.load(
                {"home": env["LABLINK_HOME"], "durability": "process"}, environ={}, cwd=repo
            )
            start = time.perf_counter()
            fill(settings, args.runs, args.versions, args.models)
            print(
                f"store: {args.runs:,} runs, {args.versions} dataset versions, "
                f"{args.models} models (filled in {time.perf_counter() - start:.1f} s)"
            )
        else:
            print(f"store: reused from {base}")
        shutil.rmtree(repo / "docs" / "lab", ignore_errors=True)
        lablink = [sys.executable, "-m", "lablink.cli"]
        ref, _ = timed([sys.executable, "-c", GATHER], repo, env)
        build, out = timed([*lablink, "docs", "build"], repo, env)
        pages = sum(1 for line in out.splitlines() if line.startswith("wrote "))
        again, _ = timed([*lablink, "docs", "build"], repo, env)
        check, _ = timed([*lablink, "docs", "check"], repo, env)
        print(f"{'what':<40}{'seconds':>10}{'CPU s':>10}{'ratio':>14}")
        rows = [
            ("reference: read the facts, no rendering", ref),
            (f"docs build, empty folder ({pages} pages)", build),
            ("docs build, nothing changed", again),
            ("docs check", check),
        ]
        for name, (seconds, cpu) in rows:
            print(f"{name:<40}{seconds:>10.2f}{cpu:>10.2f}{seconds / ref[0]:>14.2f}")
        wall, cpu = build
        verdict = "met" if wall <= 10 else ("NOT met" if cpu > 10 else "met in CPU time only")
        print(f"target: docs build <= 10 s; {verdict}")


if __name__ == "__main__":
    main()
