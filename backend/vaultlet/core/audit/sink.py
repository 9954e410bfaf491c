"""Where a file audit device writes: a file, stdout, or nowhere (``discard``).

Each line is one ``os.write`` on a descriptor opened with ``O_APPEND``, so lines
from the threads of one worker and from several worker processes never
interleave or overwrite each other, and nothing is buffered in the process:
once ``write`` returns, the line is in the kernel's hands.
"""

from __future__ import annotations

import contextlib
import os
import threading

STDOUT = "stdout"
DISCARD = "discard"
_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


class FileSink:
    def __init__(self, path: str, mode: int):
        self.path = path
        self.mode = mode
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def write(self, line: bytes) -> None:
        if self.path == DISCARD:
            return
        # One lock around reopen and write: a descriptor closed by a reopen in another
        # thread could otherwise be reused for an unrelated file mid-write.
        with self._lock:
            fd = 1 if self.path == STDOUT else self._descriptor()
            written = os.write(fd, line)
        if written != len(line):
            raise OSError(f"short write to audit log {self.path}: {written} of {len(line)} bytes")

    def _descriptor(self) -> int:
        """The open file, reopened when the path no longer names it (rotated,
        deleted or replaced): an entry must land where operators look for it."""
        try:
            stat = os.stat(self.path)
            identity: tuple[int, int] | None = (stat.st_dev, stat.st_ino)
        except FileNotFoundError:
            identity = None
        if self._fd is not None and identity == self._identity:
            return self._fd
        self._close_locked()
        directory = os.path.dirname(self.path)
        if directory:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(self.path, _FLAGS, self.mode or 0o600)
        if self.mode:
            os.fchmod(fd, self.mode)
        stat = os.fstat(fd)
        self._fd, self._identity = fd, (stat.st_dev, stat.st_ino)
        return fd

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd, self._identity = None, None
