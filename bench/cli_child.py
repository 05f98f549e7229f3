"""Run one contacts-pipeline command in this process, then record its exit code and peak RSS.

    python bench/cli_child.py RESULT.json validate FILE --report OUT

``run.py`` starts this in a fresh interpreter (with ``PYTHONPATH`` naming the tree to measure), so the
peak covers the interpreter, the imports and the command, as ``/usr/bin/time -v`` would report for
``contacts-pipeline validate ...``; the parent times it. A wrapper rather than ``os.wait4``, because the
peak is then read the same way on every platform.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def peak_rss_mb() -> float | None:
    """The process's high-water mark of resident memory in MB, or None where it cannot be read."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    if sys.platform == "win32":
        return _windows_peak_mb()
    import resource  # POSIX only, hence not at the top

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, kilobytes elsewhere


def _windows_peak_mb() -> float | None:
    import ctypes
    from ctypes import wintypes

    class Counters(ctypes.Structure):
        _fields_ = [
            ("cb", wintypes.DWORD),
            ("PageFaultCount", wintypes.DWORD),
            ("PeakWorkingSetSize", ctypes.c_size_t),
            ("WorkingSetSize", ctypes.c_size_t),
            ("QuotaPeakPagedPoolUsage", ctypes.c_size_t),
            ("QuotaPagedPoolUsage", ctypes.c_size_t),
            ("QuotaPeakNonPagedPoolUsage", ctypes.c_size_t),
            ("QuotaNonPagedPoolUsage", ctypes.c_size_t),
            ("PagefileUsage", ctypes.c_size_t),
            ("PeakPagefileUsage", ctypes.c_size_t),
        ]

    counters = Counters()
    counters.cb = ctypes.sizeof(counters)
    windll = ctypes.windll  # type: ignore[attr-defined]
    if not windll.psapi.GetProcessMemoryInfo(
        windll.kernel32.GetCurrentProcess(), ctypes.byref(counters), counters.cb
    ):
        return None
    return counters.PeakWorkingSetSize / 1024 / 1024


def main() -> int:
    result, args = Path(sys.argv[1]), sys.argv[2:]
    # Imported here, after the interpreter started, so the CLI's imports count in the peak.
    from pipeline.cli import main as cli

    sys.argv = ["contacts-pipeline", *args]
    try:
        cli()
        code = 0
    except SystemExit as exit_:  # click always ends this way
        code = exit_.code if isinstance(exit_.code, int) else 1
    peak = peak_rss_mb()
    result.write_text(json.dumps({"exit_code": code, "peak_rss_mb": None if peak is None else round(peak)}))
    return code


if __name__ == "__main__":
    sys.exit(main())
