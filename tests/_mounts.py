"""Real full and read-only disks for the fault tests: a small tmpfs mounted on a temporary folder.

A full disk is a tmpfs of a few hundred kilobytes filled to the last byte: writes then fail with ENOSPC
from the kernel, exactly as on a full laptop disk. A read-only folder is a tmpfs mounted (or remounted)
read-only: EROFS, which even root cannot write through (root ignores `chmod`; a non-root user gets
`chmod 555` instead). Mounting needs root or CAP_SYS_ADMIN; where the machine refuses, the test that
needs it is skipped and says why.
"""

import os
import shutil
import subprocess
from contextlib import contextmanager

import pytest


def _mount(*args) -> str | None:
    """None if `mount args` worked, else why not."""
    if shutil.which("mount") is None:
        return "no mount command"
    proc = subprocess.run(["mount", *args], capture_output=True, text=True)
    return None if proc.returncode == 0 else (proc.stderr.strip() or f"mount exited {proc.returncode}")


@contextmanager
def tmpfs(path, size="1m", read_only=False):
    """Mount a tmpfs of `size` on `path` for the `with` block (skips the test if mounting is refused)."""
    path.mkdir(parents=True, exist_ok=True)
    problem = _mount("-t", "tmpfs", "-o", f"size={size}" + (",ro" if read_only else ""), "tmpfs", str(path))
    if problem:
        pytest.skip(f"a real full/read-only disk needs a tmpfs mount, refused here ({problem}); "
                    "run as root or with CAP_SYS_ADMIN")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount_read_only(path) -> None:
    problem = _mount("-o", "remount,ro", str(path))
    assert problem is None, problem


def fill(folder) -> int:
    """Write a filler file in `folder` until the disk refuses (ENOSPC); returns the bytes written."""
    written = 0
    with open(os.path.join(folder, "filler"), "wb", buffering=0) as f:
        try:
            while True:
                written += f.write(b"x" * 4096)
        except OSError:
            pass
    return written
