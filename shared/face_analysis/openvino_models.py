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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openvino as ov

_core: ov.Core | None = None
_compiled: dict[tuple[str, tuple[int, ...], int, bool, bool], ov.CompiledModel] = {}
_lock = threading.Lock()
_first_inference_lock = threading.Lock()
_inferred: set[int] = set()   # ids of the compiled models that have run once in this process


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


def get_compiled_model(path: Path, input_shape: tuple[int, ...], threads: int,
                       rgb_pixels_in: bool = False, full_precision: bool = False) -> ov.CompiledModel:
    """The shared compiled model of ``path`` (an IR ``.xml`` with its ``.bin`` beside it, or an ONNX
    file) with its input reshaped to ``input_shape`` (-1: a dynamic dimension, e.g. the batch).

    ``rgb_pixels_in``: the model, whose input is float BGR planes (N, 3, H, W), takes uint8 RGB
    pixels (N, H, W, 3) instead; the conversion runs inside the compiled graph, several times
    cheaper than NumPy or ``cv2.dnn.blobFromImage`` on a 1280x960 image.

    ``full_precision``: float32 arithmetic even where the CPU offers bfloat16 (OpenVINO's default
    there, ~2x faster). A detector needs it: its landmarks place the recogniser's chip, and
    bfloat16 moved them enough to change embeddings by cosine up to 0.09 (measured on dev faces).
    """
    target = device()
    key = (str(path), input_shape, threads, rgb_pixels_in, full_precision)
    with _lock:
        if key not in _compiled:
            core = _get_core()
            model = core.read_model(str(path))
            model.reshape({model.input(0): ov.PartialShape(list(input_shape))})
            if rgb_pixels_in:
                model = _with_rgb_pixels_in(model)
            config: dict[str, object] = {"INFERENCE_NUM_THREADS": threads} if target == "CPU" else {}
            if full_precision:
                config["INFERENCE_PRECISION_HINT"] = "f32"
            _compiled[key] = core.compile_model(model, target, config)
        return _compiled[key]


@contextmanager
def infer_request(model: ov.CompiledModel) -> Iterator[ov.InferRequest]:
    """A new infer request of ``model``, to infer and read its outputs inside the ``with`` block.

    A model's first inference in the process runs alone (one lock for all models). The first
    inference initialises function-local statics of OpenVINO's Python binding that take the GIL;
    two threads making it at once deadlock, one holding the GIL and waiting on the static's
    guard, the other holding the guard and waiting for the GIL. That hung the detection service
    for good on the first two images of a burst (py-spy: both request threads in
    ``data_dispatcher``'s ``get_request_tensor``, one in ``__cxa_guard_acquire``); 3 of 30 fresh
    processes hung with two threads detecting at once. Later inferences run in parallel as before.
    """
    if id(model) in _inferred:
        yield model.create_infer_request()
        return
    with _first_inference_lock:
        yield model.create_infer_request()
        _inferred.add(id(model))


def _with_rgb_pixels_in(model: ov.Model) -> ov.Model:
    steps = ov.preprocess.PrePostProcessor(model)
    steps.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")) \
        .set_color_format(ov.preprocess.ColorFormat.RGB)
    steps.input().model().set_layout(ov.Layout("NCHW"))
    steps.input().preprocess().convert_element_type(ov.Type.f32).convert_color(ov.preprocess.ColorFormat.BGR)
    return steps.build()
