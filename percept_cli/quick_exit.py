"""Leave the process at once when a command is done, without tearing torch and OpenVINO down.

Why: after the work is written, Python's normal shutdown frees every module, tensor and plugin of torch and
OpenVINO one by one. That costs about 0.35 s, a sixth of a warm one-photo ``percept stylize``, and the user
waits for it. Everything else a normal exit does still happens, in its order: non-daemon threads are joined
(``threading._shutdown``, which also stops idle thread pools such as OpenVINO's telemetry sender), then the
``atexit`` handlers run (logging, temporary folders, Ray, loader workers), and stdout/stderr and C stdio are
flushed.
Outputs are renamed into place before a command returns, so nothing is left half-written. Where nothing heavy
was imported, or this Python has no ``threading._shutdown``, the normal exit runs instead.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

HEAVY_MODULES = ("torch", "openvino", "onnxruntime")


def exit_now(code: int) -> NoReturn:
    """Exit with ``code``: quickly (``os._exit`` after the atexit handlers) where that is safe, else normally."""
    join_threads = getattr(threading, "_shutdown", None)
    if join_threads is None or not any(m in sys.modules for m in HEAVY_MODULES):
        sys.exit(code)
    join_threads()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: started with the stream closed
                stream.flush()
        except (OSError, ValueError):  # a closed pipe: the normal exit would not write either
            pass
    _flush_c_stdio()
    os._exit(code)


def _flush_c_stdio() -> None:
    """What C libraries printed through their own stdio buffers (a normal exit flushes those too)."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass
