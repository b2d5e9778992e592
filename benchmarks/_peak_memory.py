"""Peak extra resident memory of a call, for the benchmarks (Linux ``/proc``).

Reset the kernel's high-water mark with :func:`reset_peak`, read ``status_kib("VmRSS")``, make
the call, then ``status_kib("VmHWM")``: the difference is the call's peak extra memory,
allocator and temporaries included (tracemalloc does not see torch's allocations, and sampling
RSS misses short peaks). Run each measurement in a fresh process: ``ru_maxrss`` would not do
either, as a child inherits its parent's across ``fork``/``exec``.
"""

from __future__ import annotations


def status_kib(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``, ...)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> bool:
    """Set ``VmHWM`` to the current ``VmRSS`` (``echo 5 > /proc/self/clear_refs``, Linux >= 4.0);
    False where that file is not writable."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True
