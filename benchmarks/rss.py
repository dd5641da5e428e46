"""Peak memory of the current process, read the same way by both benchmark workers.

Stdlib only: ``benchmarks/peer/run_peer.py`` imports it from the peer's own virtualenv.
"""

from __future__ import annotations


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB (``VmHWM``).

    Not ``ru_maxrss``: after fork + exec that keeps the parent's high-water mark, so a worker
    started by a large driver would report the driver's size.
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")
