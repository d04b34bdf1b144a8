"""Fill the ``demo`` project with real runs made through the SDK.

Every run below is real training code calling ``lablink.init``, ``run.log``,
``run.summary`` and ``run.note``, exactly as a user's script would: a learning-rate
sweep over three seeds, an ablation written up as a negative result, and a run whose
learning rate is so high that the loss diverges and the training code raises.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from lablink.demo.train import Split, load_iris, split, train
from lablink.settings import Settings

PROJECT = "demo"
SEEDS = (0, 1, 2)
LEARNING_RATES = (0.05, 0.2, 0.8)
BASELINE_LR = 0.2
EPOCHS = 60
VAL_FRACTION = 0.3
DATASET = "iris@v1"
# The demo's watchdog policy: a NaN or infinite loss opens an incident on its batch.
WATCH = {"rules": {"loss": {"metric": "train/loss", "nan": True}}}


@dataclasses.dataclass(frozen=True)
class DemoRun:
    """What the demo made: one line of its report."""

    id: str
    name: str
    status: str
    val_acc: float | None
    note: str = ""


Reporter = Callable[[DemoRun], None]


def existing_runs(settings: Settings) -> int:
    """How many runs the demo project already has (0 when it does not exist)."""
    from lablink.sdk.client import Client

    with Client(settings=settings) as client:
        for project in client.projects():
            if project.name == PROJECT:
                return project.run_count
    return 0


def _config(
    lr: float, seed: int, weight_decay: float = 0.0, standardize: bool = True
) -> dict[str, Any]:
    return {
        "model": "softmax-regression",
        "optimizer": {"name": "gd", "lr": lr, "weight_decay": weight_decay},
        "epochs": EPOCHS,
        "seed": seed,
        "data": {"name": "iris", "val_fraction": VAL_FRACTION, "standardize": standardize},
    }


def _tracked_training(
    settings: Settings,
    name: str,
    config: dict[str, Any],
    tags: list[str],
    data: Split,
    after: Callable[[Any, dict[str, float]], None] | None = None,
    started: list[str] | None = None,
) -> tuple[str, dict[str, float]]:
    """One training run inside ``lablink.init``; the SDK records everything.

    ``after`` runs inside the tracked block once training is done (to add a note);
    ``started`` receives the run id as soon as the run exists.
    """
    import lablink

    optimizer = config["optimizer"]
    with lablink.init(
        project=PROJECT, name=name, config=config, tags=tags, settings=settings, watch=WATCH
    ) as run:
        run_id = run.id
        lablink.dataset(DATASET, settings=settings)  # recorded as this run's input
        if started is not None:
            started.append(run_id)
        final = train(
            data,
            lr=optimizer["lr"],
            epochs=config["epochs"],
            seed=config["seed"],
            weight_decay=optimizer["weight_decay"],
            on_epoch=lambda epoch, metrics: run.log(metrics, step=epoch),
        )
        run.summary["val/acc"] = final["val/acc"]
        run.summary["val/loss"] = final["val/loss"]
        if after is not None:
            after(run, final)
    return run_id, final


def populate(settings: Settings, report: Reporter | None = None) -> list[DemoRun]:
    """Train the demo runs and return what was made, reporting each as it finishes."""
    x, y = load_iris(_iris_version(settings) / "iris.csv")
    made: list[DemoRun] = []

    def done(item: DemoRun) -> None:
        made.append(item)
        if report is not None:
            report(item)

    baseline_acc = 0.0
    for lr in LEARNING_RATES:
        for seed in SEEDS:
            name = f"softmax-lr{lr}-s{seed}"
            tags = ["lr-sweep"] + (["baseline"] if lr == BASELINE_LR else [])
            data = split(x, y, seed, VAL_FRACTION)
            run_id, final = _tracked_training(settings, name, _config(lr, seed), tags, data)
            if lr == BASELINE_LR and seed == 0:
                baseline_acc = final["val/acc"]
            done(DemoRun(run_id, name, "finished", final["val/acc"]))
    done(_negative_result(settings, split(x, y, 0, VAL_FRACTION), baseline_acc))
    done(_diverging_run(settings, split(x, y, 0, VAL_FRACTION, standardize=False)))
    return made


def _iris_version(settings: Settings) -> Path:
    """The bundled Iris CSV as ``iris@v1`` (checked by schema ``iris``); its local copy.

    Also ``iris@v2``, made from it: the same flowers re-exported in millimetres, whose
    dataset page shows four drifted columns. Nothing is added when ``iris`` exists.
    """
    from lablink.errors import NotFound
    from lablink.sdk.data import add, dataset, session

    with session(settings) as (remote, _):
        try:
            remote.log("iris")
        except NotFound:
            folder = Path(settings.home) / "demo-data"
            cm, mm = folder / "iris-v1", folder / "iris-v2"
            cm.mkdir(parents=True, exist_ok=True)
            mm.mkdir(parents=True, exist_ok=True)
            with resources.as_file(resources.files("lablink.demo").joinpath("iris.csv")) as csv:
                shutil.copyfile(csv, cm / "iris.csv")
            _register_schema(settings, cm / "iris.csv")
            message = "Fisher's Iris: 150 rows, 4 features, 3 species"
            add(cm, "iris", message=message, schema="iris", settings=settings)
            _in_millimetres(cm / "iris.csv", mm / "iris.csv")
            message = "re-export from the lab sheet: lengths in mm, not cm"
            add(mm, "iris", message=message, parents=[DATASET], settings=settings)
    return Path(dataset(DATASET, settings=settings, record=False).path)


def _register_schema(settings: Settings, csv: Path) -> None:
    """Schema ``iris``, inferred from the data as `lablink schema infer` does."""
    from lablink.checks.infer import infer_files
    from lablink.core.schemas import Schemas
    from lablink.store import open_store

    store = open_store(settings.db, durability=settings.durability)
    try:
        schema = infer_files([csv], "iris")
        Schemas(store).register("iris", schema, settings.user, description="inferred from iris@v1")
    finally:
        store.close()


def _in_millimetres(source: Path, dest: Path) -> None:
    lines = source.read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        *numbers, species = line.split(",")
        out.append(",".join([*(f"{float(n) * 10:g}" for n in numbers), species]))
    dest.write_text("\n".join(out) + "\n", encoding="utf-8")


def _negative_result(settings: Settings, data: Split, baseline_acc: float) -> DemoRun:
    """Strong L2 regularisation: trained, measured, and written up as a negative result."""
    name = "softmax-wd1.0-s0"

    def write_up(run: Any, final: dict[str, float]) -> None:
        run.note(
            f"weight_decay=1.0 gives val/acc {final['val/acc']:.3f} against "
            f"{baseline_acc:.3f} without it (same seed): four features and 105 examples "
            "do not overfit, so L2 only adds bias. Not worth pursuing.",
            outcome="negative",
        )

    config = _config(BASELINE_LR, 0, weight_decay=1.0)
    run_id, final = _tracked_training(settings, name, config, ["ablation"], data, write_up)
    return DemoRun(run_id, name, "finished", final["val/acc"], "negative result")


def _diverging_run(settings: Settings, data: Split) -> DemoRun:
    """Raw (unstandardised) features with lr=20: the loss diverges and training raises."""
    name = "softmax-raw-lr20-s0"
    config = _config(20.0, 0, standardize=False)
    started: list[str] = []
    try:
        _tracked_training(settings, name, config, ["ablation"], data, started=started)
    except FloatingPointError as exc:
        # The SDK has recorded the run as failed, with this traceback; the demo goes on.
        return DemoRun(started[0], name, "failed", None, f"diverged: {exc}")
    raise RuntimeError(f"demo run {name} was meant to diverge but converged")
