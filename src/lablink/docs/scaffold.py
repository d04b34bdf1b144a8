"""``lablink init``: the files a repository needs to track, gate and document its work."""

from __future__ import annotations

from pathlib import Path

from lablink.errors import InvalidInput

LABLINK_TOML = """\
# lablink settings for this repository; every key is optional (see docs/settings.md).
# Values here apply to everyone who works in the repository; LABLINK_* and flags win.

[lablink]
# server = "https://lablink.example.org"   # talk to a shared server instead of ~/.lablink
# system_metrics = true                     # sample CPU, RAM and GPU with heartbeats

[gate]
# baseline = "tags.main"                    # runs a pull request is compared with (CI
#                                           # passes runs of the commit as the candidate)
# metrics = ["val/acc:max"]
# margin = 0.0
# alpha = 0.05

[capture]
# exclude = ["secrets/*", "*.env"]          # files never captured with a run
"""

# How CI and the dev container install a project: lablink and pytest, then the project
# itself when it is a package, and its requirements when it lists them.
INSTALL = (
    "pip install lablink pytest"
    " && if [ -f pyproject.toml ] || [ -f setup.py ]; then pip install -e .; fi"
    " && if [ -f requirements.txt ]; then pip install -r requirements.txt; fi"
)

WORKFLOW = """\
# lablink: run the tests, gate the candidate runs against the baseline, post the gate's
# report on the pull request, and fail when the generated lab docs (docs/lab) are stale.
name: lablink
on:
  pull_request:
  push:
    branches: [main]
permissions:
  contents: read
  pull-requests: write
jobs:
  lablink:
    runs-on: ubuntu-latest
    env:
      LABLINK_SERVER: ${{ secrets.LABLINK_SERVER }}
      LABLINK_TOKEN: ${{ secrets.LABLINK_TOKEN }}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - name: Install
        run: @INSTALL@
      - name: Tests
        run: if [ -d tests ]; then python -m pytest -q; fi
      - name: Gate
        # the candidate: runs made from this commit (the baseline is in lablink.toml)
        run: >-
          lablink gate --report gate-report.md
          --candidate "git.commit = '${{ github.event.pull_request.head.sha || github.sha }}'"
      - name: Post the gate report
        if: always() && github.event_name == 'pull_request' && hashFiles('gate-report.md') != ''
        env:
          GH_TOKEN: ${{ github.token }}
        run: gh pr comment ${{ github.event.pull_request.number }} --body-file gate-report.md
      - name: Lab docs are current
        run: lablink docs check
"""

GITLAB_CI = """\
# lablink: run the tests, gate the candidate runs against the baseline, post the gate's
# report on the merge request, and fail when the generated lab docs (docs/lab) are stale.
# Set LABLINK_SERVER and LABLINK_TOKEN (masked) and, to post the report, a project access
# token with the api scope as LABLINK_GITLAB_TOKEN, in Settings > CI/CD > Variables.
lablink:
  image: python:3.12
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
  script:
    - @INSTALL@
    - if [ -d tests ]; then python -m pytest -q; fi
    - lablink gate --report gate-report.md --candidate "git.commit = '$CI_COMMIT_SHA'"
    - lablink docs check
  after_script:
    - |
      if [ -n "$CI_MERGE_REQUEST_IID" ] && [ -n "$LABLINK_GITLAB_TOKEN" ] && [ -f gate-report.md ]; then
        python -c 'import json,sys; print(json.dumps({"body": open("gate-report.md").read()}))' > note.json
        curl --fail --silent --show-error --request POST \\
          --header "PRIVATE-TOKEN: $LABLINK_GITLAB_TOKEN" --header "Content-Type: application/json" \\
          --data @note.json \\
          "$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"
      fi
  artifacts:
    when: always
    paths: [gate-report.md]
"""

DEVCONTAINER = """\
{
  "name": "lablink project",
  "build": {"dockerfile": "Dockerfile", "context": ".."},
  "postCreateCommand": "@INSTALL@",
  "containerEnv": {"LABLINK_SERVER": "${localEnv:LABLINK_SERVER}"},
  "forwardPorts": [8500],
  "customizations": {
    "vscode": {"extensions": ["ms-python.python"]}
  }
}
"""

DOCKERFILE = """\
# The dev container: Python and git; the project and lablink are installed on creation
# (devcontainer.json's postCreateCommand), so the image does not go stale with them.
FROM python:3.12-slim
RUN apt-get update \\
    && apt-get install -y --no-install-recommends git \\
    && rm -rf /var/lib/apt/lists/*
"""

DOCS_README = """\
# Lab documentation

`lablink docs build` writes this folder from the lablink store: experiment logs,
data lineage, model cards, datasheets and `HISTORY.md`. Edit only inside
`<!-- lablink:keep NAME -->` blocks; everything else is regenerated, and CI runs
`lablink docs check` to fail when these pages are stale.

Decisions live in `decisions/` as files: `lablink decision add "Title" --why "..."`.
"""

WORKFLOW = WORKFLOW.replace("@INSTALL@", INSTALL)
GITLAB_CI = GITLAB_CI.replace("@INSTALL@", INSTALL)
DEVCONTAINER = DEVCONTAINER.replace("@INSTALL@", INSTALL.replace('"', '\\"'))

FILES = {
    "lablink.toml": LABLINK_TOML,
    ".github/workflows/lablink.yml": WORKFLOW,
    ".gitlab-ci.yml": GITLAB_CI,
    ".devcontainer/devcontainer.json": DEVCONTAINER,
    ".devcontainer/Dockerfile": DOCKERFILE,
    "docs/lab/README.md": DOCS_README,
    "docs/lab/decisions/.gitkeep": "",
}


def find_repo(start: Path) -> Path:
    """The root of the git repository around ``start``.

    Raises:
        InvalidInput: ``start`` is not inside a git repository.
    """
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    raise InvalidInput(
        f"{start} is not inside a git repository",
        "lab docs live in a repository: run `git init` first, or cd into one",
    )


def init_repo(root: Path, *, force: bool = False) -> tuple[list[str], list[str]]:
    """Write the scaffold into ``root``; existing files are kept unless ``force``.

    Returns the paths written and the paths left as they were.

    Raises:
        InvalidInput: a path the scaffold needs is a folder (or under a file).
    """
    for rel in FILES:
        target = root / rel
        blocked = [p for p in (target, *target.parents) if p.is_relative_to(root)]
        if target.is_dir() or any(p.is_file() for p in blocked[1:]):
            raise InvalidInput(f"cannot write {rel}: something else is in the way")
    written, kept = [], []
    for rel, text in FILES.items():
        target = root / rel
        if target.exists() and not force:
            kept.append(rel)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(rel)
    return written, kept


CI_FILES = (".github/workflows/lablink.yml", ".gitlab-ci.yml")
CI_STEPS = ("lablink gate", "lablink docs check")


def check_repo(root: Path) -> list[str]:
    """What ``root`` lacks for a new teammate's one-command start, each with its fix.

    An empty list means the repository has everything ``init`` would give it: settings
    that load, a dev container, a CI file running the gate and the docs check, a gate
    baseline, and built lab docs.
    """
    from lablink.core.gate.options import resolve_options
    from lablink.settings import Settings

    lacks = []
    toml = root / "lablink.toml"
    if not toml.is_file():
        lacks.append("no lablink.toml: `lablink init` writes one with commented defaults")
    else:
        try:
            settings = Settings.load(environ={}, cwd=root)
        except InvalidInput as err:
            lacks.append(f"lablink.toml does not load: {err.message}")
        else:
            try:
                # CI names the candidate (the commit's runs); the rest must be set here
                resolve_options(settings.project_config, candidate="git.commit = 'ci'")
            except InvalidInput as err:
                lacks.append(f"the gate is not configured: {err.message} ({err.hint})")
    for rel in (".devcontainer/devcontainer.json", ".devcontainer/Dockerfile"):
        if not (root / rel).is_file():
            lacks.append(f"no {rel}: `lablink init` writes the dev container")
    ci = [rel for rel in CI_FILES if (root / rel).is_file()]
    if not ci:
        lacks.append(
            "no CI file runs the gate: `lablink init` writes "
            + " and ".join(CI_FILES)
            + " (keep the one your forge uses)"
        )
    for rel in ci:
        text = (root / rel).read_text(encoding="utf-8", errors="replace")
        for step in CI_STEPS:
            if step not in text:
                lacks.append(f"{rel} does not run `{step}`: add the step (see `lablink init`)")
    if not (root / "docs/lab/index.md").is_file():
        lacks.append("docs/lab has not been built: run `lablink docs build` and commit it")
    return lacks
