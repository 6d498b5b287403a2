"""OpenVINO compiled models: read once per process, on first use, shared by every caller.

The OpenVINO counterpart of ``sessions.py``: choosing the device and the thread count happens
here and nowhere else, so a recogniser only says which file it runs and with what input shape.
An OpenVINO GPU device is used when the runtime offers one (an Intel GPU with its driver);
otherwise the CPU, with ``threads`` inference threads (``RECOGNIZER_THREADS``).

A compiled model is safe to share between threads, its infer requests are not: callers make
one request per call (microseconds), which also lets concurrent images embed in parallel.
"""

from __future__ import annotations

import threading
from pathlib import Path

import openvino as ov

_core: ov.Core | None = None
_compiled: dict[tuple[str, tuple[int, ...], int], ov.CompiledModel] = {}
_lock = threading.Lock()


def _get_core() -> ov.Core:
    global _core
    if _core is None:
        _core = ov.Core()
    return _core


def device() -> str:
    """``GPU`` when OpenVINO offers one in this process, else ``CPU``."""
    with _lock:
        devices = _get_core().available_devices
    return next((name for name in devices if name.startswith("GPU")), "CPU")


def get_compiled_model(path: Path, input_shape: tuple[int, ...], threads: int) -> ov.CompiledModel:
    """The shared compiled model of ``path`` (an IR ``.xml`` with its ``.bin`` beside it, or an ONNX
    file) with its input reshaped to ``input_shape`` (-1: a dynamic dimension, e.g. the batch)."""
    target = device()
    key = (str(path), input_shape, threads)
    with _lock:
        if key not in _compiled:
            core = _get_core()
            model = core.read_model(str(path))
            model.reshape({model.input(0): ov.PartialShape(list(input_shape))})
            config = {"INFERENCE_NUM_THREADS": threads} if target == "CPU" else {}
            _compiled[key] = core.compile_model(model, target, config)
        return _compiled[key]
