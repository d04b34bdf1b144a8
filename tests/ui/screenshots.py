"""Make the screenshots in docs/img/ from a small demo lab: ``python tests/ui/screenshots.py``.

Not a test (pytest does not collect it). It fills a temporary store with runs the way
the SDK would, serves it on loopback and photographs the main pages in Debian's
Chromium at 1280 px.
"""

from __future__ import annotations

import math
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import chromium  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from uiseed import USER  # noqa: E402

from helpers import LoopbackServer, make_settings  # noqa: E402
from lablink.core.lab import Lab  # noqa: E402

OUT = HERE.parent.parent / "docs" / "img"
DIFF = """diff --git a/train.py b/train.py
index 3b18e51..a9c4d2f 100644
--- a/train.py
+++ b/train.py
@@ -12,7 +12,7 @@ def main(cfg):
     model = resnet(depth=cfg.model.depth)
-    opt = SGD(model.parameters(), lr=cfg.lr)
+    opt = AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.05)
     for step, batch in enumerate(loader):
"""


def fill(lab: Lab) -> dict[str, str]:
    """Runs of a small image-classification sweep; returns ids to photograph."""
    rng = random.Random(7)
    t = lab.tracking
    diff = t.put_blob(iter([DIFF.encode()]))
    capture = {
        "git_commit": "9f2c1e7b4d0a6c3e8b5f1a2d7c4e9b0a3f6d8c21",
        "git_branch": "adamw-sweep",
        "git_remote": "git@github.com:example-lab/vision.git",
        "git_dirty": True,
        "git_diff_digest": diff,
        "command": ["python", "train.py", "--config", "configs/resnet50.yaml"],
        "host": "gpu-node-04",
        "python_version": "3.12.3",
        "packages": {"numpy": "2.0.1", "torch": "2.4.0", "torchvision": "0.19.0"},
        "gpus": ["NVIDIA A100-SXM4-80GB"] * 2,
    }
    ids: dict[str, str] = {}
    seq = 0
    for i, (lr, depth) in enumerate([(3e-4, 50), (1e-3, 50), (3e-3, 50), (1e-3, 101), (1e-2, 50)]):
        run = t.create_run(
            USER if i % 2 else "ana@example.org",
            "vision",
            f"resnet{depth}-lr{lr:g}",
            {
                "lr": lr,
                "model": {"depth": depth, "act": "gelu"},
                "batch": 256,
                "optimizer": "adamw",
            },
            ["baseline"] if i == 0 else ["sweep"],
            capture=capture,
        )
        ids[f"run{i}"] = run.id
        speed = 1 + 4 * lr / 1e-2
        steps = list(range(0, 2000, 4))
        now = time.time() - 3600
        loss = [2.3 * math.exp(-speed * s / 700) + 0.25 + rng.gauss(0, 0.04) for s in steps]
        if i == 4:
            loss = [v if s < 1400 else math.nan for v, s in zip(loss, steps, strict=True)]
        acc = [min(0.97, 0.1 + 0.85 * (1 - math.exp(-speed * s / 600))) for s in steps[::25]]
        for k in range(0, len(steps), 100):
            seq += 1
            batch = {
                "train/loss": {
                    "steps": steps[k : k + 100],
                    "times": [now + s for s in steps[k : k + 100]],
                    "values": loss[k : k + 100],
                },
                "sys/gpu_util": {
                    "steps": steps[k : k + 100],
                    "times": [now + s for s in steps[k : k + 100]],
                    "values": [85 + rng.gauss(0, 5) for _ in steps[k : k + 100]],
                },
            }
            t.log_batch(run.id, seq, batch)
        seq += 1
        t.log_batch(
            run.id,
            seq,
            {
                "val/acc": {
                    "steps": steps[::25],
                    "times": [now + s for s in steps[::25]],
                    "values": acc,
                }
            },
        )
        if i == 4:
            t.finish_run(USER, run.id, "failed", "FloatingPointError: loss is NaN at step 1400")
            t.note(USER, run.id, "lr=1e-2 diverges with AdamW; do not retry.", outcome="negative")
        elif i != 2:
            t.finish_run(USER, run.id, "finished")
    model = t.put_blob(iter([b"\0" * 4096]))
    t.add_artifact(ids["run0"], "checkpoints/model-final.pt", "model", model)
    t.note(USER, ids["run0"], "Best val/acc so far; baseline for the gate.", outcome="positive")
    t.create_run(USER, "nlp", "bert-base-finetune", {"lr": 2e-5})
    return ids


def fill_datasets(lab: Lab, folder: Path) -> str:
    """Two versions of a tabular dataset, the second with a drifted column."""
    import polars as pl

    from lablink.sdk.data import add

    rng = random.Random(11)
    for version, shift in ((1, 0.0), (2, 0.6)):
        tables = folder / f"events-v{version}"
        tables.mkdir()
        n = 5000
        pl.DataFrame(
            {
                "user_id": list(range(n)),
                "amount": [rng.lognormvariate(3 + shift, 0.5) for _ in range(n)],
                "latency_ms": [rng.gauss(120, 30) for _ in range(n)],
                "country": [rng.choice(["DE", "FR", "US", "JP"]) for _ in range(n)],
            }
        ).write_parquet(tables / "part-0.parquet")
        (tables / "README.md").write_text("one row per checkout event\n")
        add(
            tables,
            "checkout-events",
            message="first export" if version == 1 else "EU prices in cents",
            settings=lab.settings,
        )
    return "checkout-events"


def fill_review(lab: Lab, folder: Path) -> str:
    """Two versions of an image set, the second leaking one frame into val/, reviewed."""
    import dataclasses

    from PIL import Image

    from lablink.core.review_report import ReviewOptions
    from lablink.core.reviews import Reviewer
    from lablink.sdk.data import add

    lab.people.add_user("root", "kenji", "kenji@lab.org")
    ana = dataclasses.replace(lab.settings, user="ana")
    for version in (1, 2):
        root = folder / f"frames-v{version}"
        for split, count in (("train", 12), ("val", 4)):
            (root / split).mkdir(parents=True)
            for i in range(count):
                shade = (i * 19 + (0 if split == "train" else 120)) % 256
                Image.new("RGB", (48, 48), (shade, 90, 200 - shade // 2)).save(
                    root / split / f"{i:04d}.png"
                )
        if version == 2:
            (root / "val" / "0099.png").write_bytes((root / "train" / "0003.png").read_bytes())
        add(root, "frames", settings=ana, message=f"export {version}")
    options = ReviewOptions(splits={"train": "train/", "val": "val/"})
    lab.reviews.request(Reviewer("ana"), "frames@v2", options, reviewers=["kenji"])
    lab.reviews.comment(Reviewer("kenji"), "frames@v2", "val/0099.png is train/0003.png again")
    return "/datasets/frames/v/2/review"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        with Lab(make_settings(home, db=f"sqlite:///{home / 'lablink.db'}", user=USER)) as lab:
            ids = fill(lab)
            dataset = fill_datasets(lab, home)
            review = fill_review(lab, home)
            server = LoopbackServer(lab).start()
            try:
                with sync_playwright() as pw:
                    browser = chromium.launch(pw)
                    page = browser.new_page(
                        base_url=server.url, viewport={"width": 1280, "height": 800}
                    )
                    shots = [
                        ("projects", "/", False),
                        ("runs", "/p/vision?sel=" + ids["run0"] + "," + ids["run1"], False),
                        ("run", f"/r/{ids['run0']}?smooth=0.6", True),
                        (
                            "compare",
                            f"/compare?run={ids['run0']}&run={ids['run1']}&run={ids['run4']}",
                            True,
                        ),
                        ("dataset", f"/datasets/{dataset}", True),
                        ("review", review, True),
                    ]
                    for name, path, full in shots:
                        page.goto(path)
                        if page.locator("figure.chart").count():
                            page.wait_for_function(
                                "[...document.querySelectorAll('figure.chart')]"
                                ".every(f => f.dataset.points)"
                            )
                        if name == "run":
                            page.locator("details.diff summary").click()
                        page.screenshot(path=OUT / f"{name}.png", full_page=full)
                        print(f"wrote {OUT / f'{name}.png'}")
                    browser.close()
            finally:
                server.stop()


if __name__ == "__main__":
    main()
