"""A subprocess run to completion while the resident memory of its whole process tree is polled.

Linux only: the tree is found through ``/proc/PID/task/*/children`` and each process's ``VmRSS``
read from ``/proc/PID/status``. The peak is the largest sum over the tree seen at one poll (pages
shared between processes count once per process: an upper bound).
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path

__all__ = ["run_measuring_memory"]

POLL_SECONDS = 0.02


def run_measuring_memory(argv: Sequence[str]) -> int:
    """Run ``argv`` with its output discarded; the peak resident bytes of its process tree.

    Raises ``RuntimeError`` with the end of its stderr if it fails.
    """
    with subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as process:
        peak = 0
        done = threading.Event()

        def poll() -> None:
            nonlocal peak
            while not done.wait(POLL_SECONDS):
                peak = max(peak, _tree_rss(process.pid))

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        assert process.stderr is not None
        errors = process.stderr.read()
        process.wait()
        done.set()
        poller.join()
    if process.returncode != 0:
        tail = errors.decode(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(argv)} exited with {process.returncode}: {tail}")
    return peak


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants; processes that just ended count 0."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        total += _rss(current)
        pending.extend(_children(current))
    return total


def _rss(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0  # a zombie has no VmRSS line


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found
