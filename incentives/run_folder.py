"""The run folder's protocol, shared by the runner that writes it and the analysis that reads it.

One process at a time writes a run folder. It **claims** the folder with an advisory lock
on ``<run folder>/.lock``, held while it trains (:func:`claim`, :class:`RunLock`), and
writes its process id and host into that file once it holds the lock. A second process
on the same folder refuses at once with :class:`FolderBusyError`, one line naming the
folder and the holder, having written nothing. The analysis asks :func:`holder` whether
a folder is being written, and leaves such a run out as *running*.

The lock is ``flock(2)`` on a file of the folder, so the operating system drops it when
the holder dies, however it dies: a ``SIGKILL``\\ed run leaves no stale lock (the
``.lock`` file stays, holding a pid that no lock backs; only the lock counts). The lock
belongs to the open file, not to the process: two claims in one process conflict too,
closing another descriptor of the file does not drop it (unlike ``fcntl``/``lockf``
record locks, which any ``close`` of the file in the process releases), and a child
forked while it is held shares it until it exits. Python opens files close-on-exec, so
a child that ``exec``\\s (``subprocess``, multiprocessing's spawn and forkserver, which
SB3's ``SubprocVecEnv`` uses) does not inherit it. Hydra's joblib, Ray and submitit
launchers run each job in a worker process, often reused for the next job: the job's
``train()`` takes the lock and releases it when it returns, so the lock is held by the
process that trains, for as long as it trains.

Network filesystems (what is known; Linux clients):

- NFSv4: byte-range locks are part of the protocol (the server holds them under a
  lease, renewed by the client; a client that dies loses them when the lease expires,
  90 s by default, so a crashed *host* leaves the folder claimed for up to a lease).
  Since Linux 2.6.12 the NFS client emulates ``flock`` with a whole-file POSIX lock, so
  the lock is seen by every client; a side effect is that, on NFS, ``flock`` and
  ``fcntl`` locks on the file conflict with each other, and a shared lock needs the
  file open for reading, an exclusive one for writing (this module opens it so).
- NFSv3: locks go through the separate NLM protocol (``lockd``/``rpc.statd`` on client
  and server). Without them a lock fails with ``ENOLCK``. A mount with ``nolock`` or
  ``local_lock=flock|all`` keeps locks on the client: they work between processes of
  one host and are *invisible to other hosts*; :func:`claim` warns when it sees such a
  mount (from ``/proc/self/mountinfo``).
- Filesystems without locks (some FUSE, 9p and SMB mounts, NFSv3 without ``lockd``)
  raise ``ENOLCK``, ``EOPNOTSUPP`` or ``ENOSYS``. Then :func:`claim` warns (one line:
  the folder, the reason, that a second run there would go unnoticed) and the run goes
  on **unlocked**, rather than refusing every run on that filesystem; :func:`holder`
  answers None there (it cannot tell).

A reader testing the lock takes a shared lock for an instant; a claim that finds the
lock taken retries for half a second before it refuses, so a reader never makes a run
refuse to start.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from incentives.errors import UserError

__all__ = [
    "LOCK_FILE",
    "FolderBusyError",
    "Holder",
    "LockUnsupportedWarning",
    "RunLock",
    "claim",
    "holder",
]

#: The lock file in a run folder.
LOCK_FILE = ".lock"
#: Errors of a filesystem that has no locks.
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}


class FolderBusyError(UserError):
    """A run folder another process is writing; the CLI prints it as one line, exit 2."""


class LockUnsupportedWarning(UserWarning):
    """The run folder's filesystem cannot lock (or locks only for this host)."""


@dataclass(frozen=True)
class Holder:
    """The process that holds a run folder: its pid and host, as it wrote them (None
    where it has not written them yet)."""

    pid: int | None
    host: str | None = None

    def __str__(self) -> str:
        """``process 1234``, with ``on host <h>`` when that is not this host.

        Example:
            >>> str(Holder(1234)), str(Holder(7, "node-does-not-exist"))
            ('process 1234', 'process 7 on host node-does-not-exist')
        """
        who = f"process {self.pid}" if self.pid is not None else "a process (pid not written yet)"
        if self.host and self.host != socket.gethostname():
            who += f" on host {self.host}"
        return who


def _read_holder(fd: int) -> Holder:
    """The pid and host a holder wrote into the lock file (``<pid>\\n<host>\\n``)."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        text = ""
    lines = text.splitlines()
    pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
    host = lines[1].strip() if len(lines) > 1 and lines[1].strip() else None
    return Holder(pid, host)


def _mount_options(path: Path) -> tuple[str, set[str]] | None:
    """The filesystem type and options of the mount that holds ``path`` (Linux), or None."""
    try:
        table = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return None
    target = os.path.realpath(path)
    best: tuple[int, str, set[str]] | None = None
    for line in table.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 6 or len(tail) < 3:
            continue
        point = fields[4].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) > best[0]):
            options = set(fields[5].split(",")) | set(tail[2].split(","))
            best = (len(point), tail[0], options)
    return None if best is None else (best[1], best[2])


def _host_only_locks(path: Path) -> str | None:
    """Why locks in ``path`` are seen by this host only (an NFS mount that keeps them on
    the client), or None."""
    mount = _mount_options(path)
    if mount is None or not mount[0].startswith("nfs"):
        return None
    fstype, options = mount
    for option in ("nolock", "local_lock=flock", "local_lock=all"):
        if option in options:
            return f"{fstype} mounted with {option}"
    return None


class RunLock:
    """The claim on one run folder: ``with RunLock(run_dir): ...`` or :func:`claim`.

    ``acquire`` takes the lock or raises :class:`FolderBusyError` (having written nothing);
    ``release`` (or leaving the ``with``) gives it back. ``locked`` is False after a
    release, and on a filesystem without locks (where the run goes on with a warning).
    """

    def __init__(self, run_dir: Path | str, *, wait_s: float = 0.5) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.wait_s = wait_s
        self.locked = False
        self._fd: int | None = None
        self._owner = os.getpid()

    def acquire(self) -> RunLock:
        """Claim the folder (it must exist); return self."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already claimed by this RunLock")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:  # perhaps a reader's instant test
                    time.sleep(0.02)
                    continue
                busy = _read_holder(fd)
                os.close(fd)
                raise FolderBusyError(
                    f"run folder {str(self.run_dir)!r} is being written by {busy}; accepted: "
                    "wait for that run to end (or stop it), or another folder "
                    "(hydra.run.dir=...)"
                ) from None
            except OSError as error:
                os.close(fd)
                if error.errno not in _NO_LOCKS:
                    raise
                warnings.warn(
                    f"run folder {str(self.run_dir)!r} cannot be locked ({error.strerror}): "
                    "the run goes on, but a second run on this folder would not be noticed",
                    LockUnsupportedWarning,
                    stacklevel=2,
                )
                self._fd = -1
                return self
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{socket.gethostname()}\n".encode(), 0)
        os.fsync(fd)  # so that a reader on another NFS client sees the pid
        self._fd, self.locked, self._owner = fd, True, os.getpid()
        reason = _host_only_locks(self.run_dir)
        if reason:
            warnings.warn(
                f"run folder {str(self.run_dir)!r} is locked for this host only ({reason}): "
                "a run on another host would not see this one",
                LockUnsupportedWarning,
                stacklevel=2,
            )
        return self

    def release(self) -> None:
        """Give the folder back (the pid is cleared first); a no-op when not held."""
        fd, self._fd, self.locked = self._fd, None, False
        if fd is None or fd < 0:
            return
        try:
            if os.getpid() == self._owner:  # a forked child must not unlock its parent's
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self if self._fd is not None else self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"RunLock({str(self.run_dir)!r}, locked={self.locked})"


def claim(run_dir: Path | str) -> RunLock:
    """Claim ``run_dir`` (which must exist) for this process: the held :class:`RunLock`.

    Raises :class:`FolderBusyError` when another process holds it.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with claim(folder):
        ...     holder(folder).pid == os.getpid()
        True
        >>> holder(folder) is None
        True
    """
    return RunLock(run_dir).acquire()


def holder(run_dir: Path | str) -> Holder | None:
    """Who is writing ``run_dir``, or None when nobody is (or the filesystem cannot tell).

    Creates nothing and does not claim the folder: it takes a shared lock for an instant,
    which a claim waits out.
    """
    path = Path(run_dir) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no lock file: never claimed (or not readable: cannot tell)
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            held = _read_holder(fd)
            if held.pid is None:  # locked an instant ago: its pid is on the way
                time.sleep(0.05)
                held = _read_holder(fd)
            return held
        except OSError:
            return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
