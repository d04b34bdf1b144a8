"""Idle-GPU rules fed by a stand-in NVML source: only the GPUs the run's processes use
count, judged over the whole window."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest
from watch_support import FakeNvml

from helpers import LoopbackServer, wait_for
from lablink.core.gpu_watch import gpus_in_use
from lablink.core.lab import Lab
from lablink.sdk.connect import make_transport
from lablink.sdk.gpu import GB, GpuSampler
from lablink.sdk.system import SystemSampler
from lablink.sdk.transport import Transport

RULE = {"rules": {"gpu": {"gpu_util_below": 10, "for": "2s"}}}


def test_the_sampler_marks_the_gpus_of_the_process_tree() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        fake = FakeNvml(
            [5.0, 97.0, 1.0, 50.0],
            {0: {os.getpid(): 2 * GB}, 1: {child.pid: GB}, 2: {1: 4 * GB}, 3: {os.getpid(): None}},
        )
        sample = GpuSampler(fake).sample()
    finally:
        child.kill()
        child.wait()
    assert sample["sys/gpu0/util"] == 5.0 and sample["sys/gpu0/run_mem_gb"] == 2.0
    assert sample["sys/gpu1/run_procs"] == 1.0  # a child (a data-parallel worker) counts
    assert sample["sys/gpu2/run_procs"] == 0.0 and "sys/gpu2/run_mem_gb" not in sample
    assert sample["sys/gpu3/run_procs"] == 1.0 and "sys/gpu3/run_mem_gb" not in sample  # N/A


def test_gpus_in_use() -> None:
    keys = {
        "sys/gpu0/util": (3.0, 100.0),
        "sys/gpu0/run_procs": (1.0, 100.0),
        "sys/gpu1/util": (2.0, 100.0),
        "sys/gpu1/run_procs": (0.0, 100.0),
        "sys/gpu2/util": (2.0, 100.0),
        "sys/gpu2/run_procs": (1.0, 10.0),  # left the GPU long ago
    }
    assert gpus_in_use(keys, 50.0) == {0: 3.0}
    no_process_list = {"sys/gpu0/util": (3.0, 100.0), "sys/gpu1/util": (60.0, 100.0)}
    assert gpus_in_use(no_process_list, 50.0) == {0: 3.0, 1: 60.0}


@pytest.fixture(params=["direct-tick", "http-server"])
def gpu_transport(
    request: pytest.FixtureRequest,
    make_lab: Callable[..., Lab],
    serve: Callable[[Lab], LoopbackServer],
) -> Iterator[Transport]:
    lab = make_lab()
    settings = lab.settings
    if request.param == "http-server":
        settings = dataclasses.replace(settings, server=serve(lab).url)
    else:  # the embedded store: the watchdog's loop runs here instead of in a server
        lab.watchdog.start()
    transport = make_transport(settings)
    yield transport
    transport.close()


def heartbeats(
    transport: Transport, run_id: str, sampler: SystemSampler, stop: threading.Event
) -> None:
    seq = 0
    while not stop.wait(0.1):
        transport.heartbeat(run_id, sampler.sample(), seq)
        seq += 1


def test_an_idle_gpu_of_the_run_opens_an_incident(gpu_transport: Transport) -> None:
    transport = gpu_transport
    run = transport.create_run("gpu", "idle", {}, [], None, {"watch": RULE})
    fake = FakeNvml(
        [3.0, 95.0, 0.0],  # gpu0: ours and idle; gpu1: ours and busy; gpu2: a neighbour's
        {0: {os.getpid(): 2 * GB}, 1: {os.getpid(): 2 * GB}, 2: {1: 8 * GB}},
    )
    sampler = SystemSampler(gpu_source=fake)
    stop = threading.Event()
    beat = threading.Thread(target=heartbeats, args=(transport, run.id, sampler, stop))
    beat.start()
    try:
        [incident] = wait_for(lambda: transport.list_incidents(True, run.id, 10), 60, "gpu_idle")
    finally:
        stop.set()
        beat.join(30)
        sampler.close()
    assert (incident.kind, incident.rule, incident.action) == ("gpu_idle", "gpu", "alert")
    assert list(incident.evidence["gpus"]) == ["0"]  # not the busy one, not the neighbour's
    assert incident.evidence["gpus"]["0"]["max"] < 10 and incident.evidence["window_seconds"] == 2
    assert fake.closed
    assert transport.get_run(run.id).status == "running"  # alert only: nothing stopped
