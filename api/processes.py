"""Whether a process id still names a running process (for files that carry a worker's pid)."""

from __future__ import annotations

import os


def exists(pid: int) -> bool:
    """True while `pid` runs (a zombie not yet reaped counts), also when it is another user's."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
