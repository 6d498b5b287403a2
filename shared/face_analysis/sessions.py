"""onnxruntime sessions: created once per process, on first use, shared by every caller.

Choosing execution providers and thread counts happens here and nowhere else, so detectors
and recognisers only say which file they run. CUDA is used when the installed onnxruntime
offers it (the GPU build); otherwise the CPU provider.
"""

from __future__ import annotations

import threading
from pathlib import Path

import onnxruntime as ort

_sessions: dict[tuple[str, int], ort.InferenceSession] = {}
_lock = threading.Lock()


def gpu_available() -> bool:
    """Whether onnxruntime offers CUDA in this process (reported by the health endpoint)."""
    return "CUDAExecutionProvider" in ort.get_available_providers()


def providers() -> list[str]:
    return ["CUDAExecutionProvider", "CPUExecutionProvider"] if gpu_available() else ["CPUExecutionProvider"]


def get_session(path: Path, intra_op_threads: int = 0) -> ort.InferenceSession:
    """The shared session for ``path`` (``intra_op_threads`` 0 lets onnxruntime decide)."""
    key = (str(path), intra_op_threads)
    with _lock:
        if key not in _sessions:
            options = ort.SessionOptions()
            options.intra_op_num_threads = intra_op_threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3  # warnings about unused initialisers are noise
            _sessions[key] = ort.InferenceSession(str(path), sess_options=options, providers=providers())
        return _sessions[key]
