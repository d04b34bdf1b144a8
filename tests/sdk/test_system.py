"""System metrics and GPU names, with and without NVML (a stand-in module plays the GPU)."""

from __future__ import annotations

import os
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from lablink.sdk import capture, gpu, system


def fake_nvml(gpus: list[str], fail_init: bool = False) -> types.ModuleType:
    """A module with the parts of pynvml lablink calls."""
    nvml = types.ModuleType("pynvml")
    state = {"inits": 0}

    def init() -> None:
        if fail_init:
            raise RuntimeError("NVML Shared Library Not Found")
        state["inits"] += 1

    def shutdown() -> None:
        state["inits"] -= 1

    def util(handle: int) -> Any:
        return types.SimpleNamespace(gpu=40 + handle, memory=10)

    def memory(handle: int) -> Any:
        return types.SimpleNamespace(used=(handle + 1) * 2**30, total=80 * 2**30)

    nvml.nvmlInit = init  # type: ignore[attr-defined]
    nvml.nvmlShutdown = shutdown  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetCount = lambda: len(gpus)  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetHandleByIndex = lambda i: i  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetName = lambda h: gpus[h]  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetUtilizationRates = util  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetMemoryInfo = memory  # type: ignore[attr-defined]
    nvml.state = state  # type: ignore[attr-defined]
    return nvml


def test_samples_cpu_ram_and_every_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = fake_nvml(["NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"])
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    sampler = system.SystemSampler()
    try:
        sample = sampler.sample()
    finally:
        sampler.close()
    assert sample["sys/gpu0/util"] == 40.0 and sample["sys/gpu1/util"] == 41.0
    assert sample["sys/gpu1/mem_used_gb"] == 2.0
    assert sample["sys/cpu_percent"] >= 0 and 0 < sample["sys/ram_percent"] <= 100
    assert sample["sys/ram_used_gb"] > 0
    assert nvml.state["inits"] == 0  # type: ignore[attr-defined]


def test_gpu_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(["A100", "H100"]))
    assert capture.gpu_names() == ["A100", "H100"]


def test_no_driver_means_no_gpu_keys_and_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(["x"], fail_init=True))
    sampler = system.SystemSampler()
    try:
        sample = sampler.sample()
    finally:
        sampler.close()
    assert not any(key.startswith("sys/gpu") for key in sample)
    assert "sys/cpu_percent" in sample
    assert capture.gpu_names() == []


def test_without_a_driver_the_bindings_are_not_even_imported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(gpu, "NVIDIA_PROC", str(tmp_path / "no-driver"))
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    assert gpu.open_nvml() is None
    assert "pynvml" not in sys.modules


def test_installed_packages_match_importlib_metadata() -> None:
    import importlib.metadata

    def norm(name: str) -> str:
        return name.lower().replace("-", "_").replace(".", "_")

    expected = {norm(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    found = {norm(k): v for k, v in capture.installed_packages().items()}
    assert found["lablink"] == expected["lablink"] and found == expected


def test_installed_packages_sees_a_distribution_installed_after_the_first_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    (site / "alpha-1.0.dist-info").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(site)])
    first = capture.installed_packages()
    first["mutated"] = "by the caller"
    assert capture.installed_packages() == {"alpha": "1.0"}
    (site / "beta-2.5.dist-info").mkdir()
    os.utime(site, ns=(1, os.stat(site).st_mtime_ns + 1_000_000))
    assert capture.installed_packages() == {"alpha": "1.0", "beta": "2.5"}
    shutil.rmtree(site / "alpha-1.0.dist-info")
    os.utime(site, ns=(1, os.stat(site).st_mtime_ns + 1_000_000))
    assert capture.installed_packages() == {"beta": "2.5"}
