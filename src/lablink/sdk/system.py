"""System metrics sampled with each heartbeat and logged as ``sys/*``.

``sys/cpu_percent``, ``sys/ram_used_gb`` and ``sys/ram_percent`` come from psutil;
``sys/gpu{i}/util`` (percent) and ``sys/gpu{i}/mem_used_gb`` from nvidia-ml-py when an
NVIDIA driver is present. Without one the GPU keys are silently absent.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)

GB = 1024**3


def open_nvml() -> ModuleType | None:
    """``pynvml``, initialised, or None when the package or the driver is missing.

    The caller calls ``nvmlShutdown()`` when done (NVML counts its initialisations).
    """
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...: no GPU here
        return None
    return pynvml  # type: ignore[no-any-return]


class SystemSampler:
    """Samples CPU, RAM and GPUs; one per run, used from its background thread."""

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        psutil.cpu_percent(interval=None)  # starts the interval the first sample reads
        self._nvml = open_nvml()
        self._gpus: list[Any] = []
        if self._nvml is not None:
            try:
                count = self._nvml.nvmlDeviceGetCount()
                self._gpus = [self._nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
            except Exception as exc:
                logger.warning("lablink: cannot read the GPUs: %s", exc)

    def sample(self) -> dict[str, float]:
        """One reading of every metric; a metric that fails to read is left out."""
        out: dict[str, float] = {}
        try:
            out["sys/cpu_percent"] = float(self._psutil.cpu_percent(interval=None))
            memory = self._psutil.virtual_memory()
            out["sys/ram_used_gb"] = (memory.total - memory.available) / GB
            out["sys/ram_percent"] = float(memory.percent)
        except Exception as exc:  # a sandbox without /proc, say
            logger.debug("lablink: cannot sample CPU/RAM: %s", exc)
        for i, handle in enumerate(self._gpus):
            nvml = self._nvml
            assert nvml is not None
            try:
                out[f"sys/gpu{i}/util"] = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                out[f"sys/gpu{i}/mem_used_gb"] = nvml.nvmlDeviceGetMemoryInfo(handle).used / GB
            except Exception as exc:
                logger.debug("lablink: cannot sample GPU %d: %s", i, exc)
        return out

    def close(self) -> None:
        """Release NVML."""
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception as exc:
                logger.debug("lablink: nvmlShutdown failed: %s", exc)
            self._nvml = None
            self._gpus = []
