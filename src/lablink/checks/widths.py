"""Column widths of the text lablink stores, in characters.

``store/schema.py`` declares its columns with these, the server's request fields and
the core's checks refuse (or, for captured fields, cut) anything longer, so a value
that passes a check always fits its column. Migrations keep their own literals: they
record the schema as it was.
"""

from __future__ import annotations

from lablink.checks.keys import MAX_KEY_LENGTH

# Names of projects, schema subjects and datasets (``checks/names.py``).
NAME = 200
PROJECT_NAME = NAME
RUN_ID = 32
RUN_NAME = 500
USER = 200
STATUS = 20
OUTCOME = 20
TAG = 200
PARAM_KEY = 500
METRIC_KEY = MAX_KEY_LENGTH
DIGEST = 80  # "sha256:" or "blake3:" and 64 hex digits
ARTIFACT_NAME = 1000
ARTIFACT_KIND = 100
INPUT_KIND = 50
INPUT_REF = 500

# Fields the SDK captures about a run's code and machine: cut to fit, never refused.
GIT_COMMIT = 64
GIT_BRANCH = 500
GIT_REMOTE = 2000
GIT_DIFF_DIGEST = DIGEST
HOST = 500
PYTHON_VERSION = 100
CAPTURED = {
    "git_commit": GIT_COMMIT,
    "git_branch": GIT_BRANCH,
    "git_remote": GIT_REMOTE,
    "git_diff_digest": GIT_DIFF_DIGEST,
    "host": HOST,
    "python_version": PYTHON_VERSION,
}
