"""Peak resident memory of this process, resettable between passes (Linux), so a benchmark can say how much
memory one pass over a folder needed and not only the largest figure since start-up."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak() -> bool:
    """Restart the kernel's high-water mark of resident memory at the current size; False where unsupported."""
    try:
        _CLEAR_REFS.write_text("5")  # Linux ≥ 4.0: "5" resets VmHWM
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """Peak resident memory since start-up or the last ``reset_peak``."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # since start-up only
    return peak if sys.platform == "darwin" else peak * 1024
