"""System metrics sampled with each heartbeat and logged as ``sys/*``.

``sys/cpu_percent``, ``sys/ram_used_gb`` and ``sys/ram_percent`` come from psutil;
``sys/gpu{i}/util`` (percent) and ``sys/gpu{i}/mem_used_gb`` from nvidia-ml-py when an
NVIDIA driver is present, with ``sys/gpu{i}/run_procs`` and ``run_mem_gb`` marking the
GPUs this run uses (``sdk/gpu.py``). Without a driver the GPU keys are silently absent.
"""

from __future__ import annotations

import logging

from lablink.sdk.gpu import GB, GpuSampler, NvmlSource, PynvmlSource

logger = logging.getLogger(__name__)


class SystemSampler:
    """Samples CPU, RAM and GPUs; one per run, used from its background thread.

    Args:
        gpu_source: where GPU readings come from (``lablink.sdk.gpu``); default: the
            NVIDIA driver, if there is one.
    """

    def __init__(self, gpu_source: NvmlSource | None = None) -> None:
        import psutil

        self._psutil = psutil
        psutil.cpu_percent(interval=None)  # starts the interval the first sample reads
        source = gpu_source if gpu_source is not None else PynvmlSource.open()
        self._gpu = GpuSampler(source) if source is not None else None

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
        if self._gpu is not None:
            out.update(self._gpu.sample())  # per GPU, marking the run's own
        return out

    def close(self) -> None:
        """Release NVML."""
        if self._gpu is not None:
            self._gpu.close()
            self._gpu = None
