"""Per-process CPU seconds and peak RSS of a tree of processes, sampled from /proc (Linux).

A thread walks /proc every `interval` seconds and remembers, for every descendant of the given
root processes, its command line, start time, CPU (user + system) and peak resident set (VmHWM,
the kernel's own high-water mark, so a peak between two samples is not missed). CPU of a process
that exits between two samples is counted up to its last sample (at most `interval` short).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
BOOT = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))


@dataclass
class Seen:
    pid: int
    cmdline: str
    started: float  # epoch seconds
    cpu_at_first_sight: float
    cpu: float = 0.0
    peak_rss: int = 0  # bytes
    last_seen: float = 0.0


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, CPU seconds, start time in epoch seconds) of a live process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS, BOOT + int(fields[19]) / TICKS


def _peak_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy since boot (every core; idle and iowait left out)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICKS  # user..steal, less idle and iowait


class ProcessWatch:
    """Sample the descendants of `roots` (and the roots) until stopped; also the whole machine's
    busy CPU (`machine`: (time, busy CPU seconds since boot, watched CPU seconds) each sample), so
    a bench can tell its own load from other work on the machine."""

    def __init__(self, roots: list[int], interval: float = 0.2):
        self.roots, self.interval = set(roots), interval
        self.seen: dict[tuple[int, float], Seen] = {}
        self.machine: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="procwatch", daemon=True)

    def __enter__(self) -> ProcessWatch:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (found := _stat(int(entry))):
                stats[int(entry)] = found
        wanted = set(self.roots) & stats.keys()
        grew = True
        while grew:  # every descendant, however deep
            more = {pid for pid, (ppid, _, _) in stats.items() if ppid in wanted} - wanted
            wanted |= more
            grew = bool(more)
        now = time.time()
        for pid in wanted:
            _, cpu, started = stats[pid]
            key = (pid, started)
            if key not in self.seen:
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                # a process first seen long after it started (the roots) counts its CPU from now
                self.seen[key] = Seen(pid, cmdline, started, cpu if now - started > 2 * self.interval + 1 else 0.0)
            item = self.seen[key]
            item.cpu, item.last_seen = cpu, now
            item.peak_rss = max(item.peak_rss, _peak_rss(pid))
        self.machine.append((now, _machine_busy(), sum(s.cpu for s in self.seen.values())))

    def cores_busy(self, start: float, end: float) -> tuple[float, float]:
        """Cores busy on average between two times: (the whole machine, the watched processes)."""
        inside = [m for m in self.machine if start <= m[0] <= end]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return float("nan"), float("nan")
        (t0, busy0, own0), (t1, busy1, own1) = inside[0], inside[-1]
        return (busy1 - busy0) / (t1 - t0), (own1 - own0) / (t1 - t0)

    def total_cpu(self) -> float:
        """CPU seconds of every watched process since the watch began."""
        return sum(s.cpu - s.cpu_at_first_sight for s in self.seen.values())
