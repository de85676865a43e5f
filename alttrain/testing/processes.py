"""Process helpers for tests that start servers: wait until a PID is gone."""

from __future__ import annotations

import time
from pathlib import Path


def process_gone(pid: int, within_s: float = 10.0) -> bool:
    """Whether process ``pid`` has exited (its /proc entry is gone) within ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.1)
    return False
