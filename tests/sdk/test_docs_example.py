"""The example at the top of docs/sdk.md runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "sdk.md"


def test_first_example_runs(tmp_path: Path) -> None:
    example = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert example is not None
    env = dict(os.environ, LABLINK_HOME=str(tmp_path / "home"))
    out = subprocess.run(
        [sys.executable, "-c", example.group(1)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    _run_id, status, points = out.stdout.split()
    assert status == "finished"
    assert 2 <= int(points) <= 100  # downsampled on the way out
