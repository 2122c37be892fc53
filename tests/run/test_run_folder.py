"""The run folder's lock: one writer per folder, refused at once, never stale after a kill."""

from __future__ import annotations

import csv
import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from incentives import run_folder
from incentives.run_folder import LOCK_FILE, FolderBusyError, LockUnsupportedWarning, claim, holder
from tests.conftest import ROOT, TINY

#: A process that claims the folder given as argv[1], says so, and sleeps until killed.
HOLD = textwrap.dedent(
    """
    import sys, time
    from incentives.run_folder import claim
    with claim(sys.argv[1]):
        print("held", flush=True)
        time.sleep(600)
    """
)


def hold(folder: Path) -> subprocess.Popen[str]:
    """A child process that holds ``folder``'s lock (returned once it does)."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``folder``: size, modification time and content."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_second_claim_refuses_at_once_naming_folder_and_pid(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text("{}")
    child = hold(tmp_path)
    try:
        before = snapshot(tmp_path)
        started = time.monotonic()
        with pytest.raises(FolderBusyError) as refused:
            claim(tmp_path)
        assert time.monotonic() - started < 2.0
        message = str(refused.value)
        assert "\n" not in message
        assert str(tmp_path) in message and f"process {child.pid}" in message
        assert "accepted:" in message
        assert snapshot(tmp_path) == before  # the refused claim wrote nothing
        busy = holder(tmp_path)
        assert busy is not None and busy.pid == child.pid
    finally:
        child.kill()
        child.wait()


def test_sigkilled_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    child = hold(tmp_path)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert (tmp_path / LOCK_FILE).exists()  # the file stays; no lock backs it
    assert holder(tmp_path) is None
    with claim(tmp_path) as lock:
        assert lock.locked
        busy = holder(tmp_path)
        assert busy is not None and busy.pid == os.getpid()
    assert holder(tmp_path) is None


def test_holder_creates_nothing_and_two_claims_in_one_process_conflict(tmp_path: Path) -> None:
    assert holder(tmp_path) is None
    assert not (tmp_path / LOCK_FILE).exists()
    lock = claim(tmp_path)
    with pytest.raises(FolderBusyError):
        claim(tmp_path)
    lock.release()
    lock.release()  # a second release is a no-op
    with claim(tmp_path):
        pass


def test_readers_never_make_a_claim_refuse(tmp_path: Path) -> None:
    """A reader testing the lock takes it for an instant: a claim waits that out."""
    poll = textwrap.dedent(
        """
        import sys, time
        from incentives.run_folder import holder
        end = time.monotonic() + float(sys.argv[2])
        while time.monotonic() < end:
            holder(sys.argv[1])
        """
    )
    claim(tmp_path).release()  # the lock file exists: the reader tests it every time
    reader = subprocess.Popen([sys.executable, "-c", poll, str(tmp_path), "3"], cwd=ROOT)
    try:
        time.sleep(0.5)
        for _ in range(50):
            claim(tmp_path).release()
    finally:
        reader.wait()


def test_filesystem_without_locks_warns_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(run_folder.fcntl, "flock", no_locks)
    with pytest.warns(LockUnsupportedWarning, match="cannot be locked") as warned:
        lock = claim(tmp_path)
    assert str(tmp_path) in str(warned[0].message)
    assert not lock.locked
    lock.release()
    assert holder(tmp_path) is None


def test_nfs_mount_that_locks_per_host_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_folder, "_mount_options", lambda path: ("nfs", {"local_lock=all"}))
    with pytest.warns(LockUnsupportedWarning, match="this host only"), claim(tmp_path) as lock:
        assert lock.locked


def test_mount_of_a_folder_is_found() -> None:
    mount = run_folder._mount_options(ROOT)
    assert mount is None or (isinstance(mount[0], str) and mount[1])


# --- through the real CLI -----------------------------------------------------------------


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "incentives.run.cli", *args]


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONHASHSEED": "0"}


def test_cli_refuses_a_held_folder_in_one_line_and_touches_nothing(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("seed: 0\n")
    (run_dir / "progress.csv").write_text("time/total_timesteps\n512\n")
    before = snapshot(run_dir)
    with claim(run_dir):
        done = subprocess.run(
            cli(*TINY, f"hydra.run.dir={run_dir}"),
            cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        after = snapshot(run_dir)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("incentives-train: error: ")
    assert str(run_dir) in lines[0] and f"process {os.getpid()}" in lines[0]
    before.pop(LOCK_FILE, None), after.pop(LOCK_FILE, None)  # ours, written by the claim
    assert after == before


def test_two_cli_runs_on_one_folder_one_refuses_other_logs_clean(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # long enough that the second run, started once the first holds the folder, gets to
    # its claim (its imports take seconds) while the first still trains
    args = (*TINY, "budget=24576", "eval.every=8192", f"hydra.run.dir={run_dir}")
    first = subprocess.Popen(
        cli(*args), cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while (busy := holder(run_dir)) is None or busy.pid != first.pid:
            assert first.poll() is None and time.monotonic() < deadline, first.stderr
            time.sleep(0.1)
        second = subprocess.run(
            cli(*args), cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert first.poll() is None, "the first run ended before the second claimed"
        _, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert second.returncode == 2, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and str(run_dir) in lines[0] and f"process {first.pid}" in lines[0]
    assert first.returncode == 0, err
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1
    assert [p.name for p in run_dir.glob("progress*.csv")] == ["progress.csv"]
    with (run_dir / "progress.csv").open(newline="") as handle:
        steps = [float(r["time/total_timesteps"]) for r in csv.DictReader(handle)]
    assert steps == sorted(steps) and steps[-1] == 24576
    assert holder(run_dir) is None


def test_cli_run_killed_with_sigkill_leaves_no_stale_lock(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = (*TINY, f"hydra.run.dir={run_dir}")
    first = subprocess.Popen(
        cli(*args), cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while (busy := holder(run_dir)) is None or busy.pid != first.pid:
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert holder(run_dir) is None
    again = subprocess.run(
        cli(*args), cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert (run_dir / "summary.json").is_file()


#: Run inside a fresh mount namespace: a small tmpfs, a CLI run in it, the disk filled
#: once its first checkpoint is written, then space freed and the same command again.
FILL_DISK = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    mount, command = sys.argv[1], json.loads(sys.argv[2])
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mount], check=True)
    run = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    index = os.path.join(mount, "run", "checkpoint.json")
    while not os.path.exists(index) and run.poll() is None:
        time.sleep(0.05)
    with open(os.path.join(mount, "ballast"), "wb") as ballast:
        try:
            while True:  # every free byte, so the run's next write fails
                ballast.write(b"\\0" * (1 << 20))
                ballast.flush()
        except OSError:
            pass
    _, full_err = run.communicate()
    with open(os.path.join(mount, "run", "checkpoint.json")) as handle:
        kept = json.load(handle)["num_timesteps"]
    os.remove(os.path.join(mount, "ballast"))
    again = subprocess.run(command, capture_output=True, text=True)
    with open(os.path.join(mount, "run", "summary.json")) as handle:
        summary = json.load(handle)
    print(json.dumps({"full_rc": run.returncode, "full_err": full_err, "kept": kept,
                      "again_rc": again.returncode, "again_err": again.stderr[-2000:],
                      "resumed_from": summary["resumed_from"],
                      "timesteps": summary["timesteps"]}))
    """
)


def test_a_full_disk_is_one_line_naming_the_folder_and_the_same_command_resumes(
    tmp_path: Path,
) -> None:
    """A real full filesystem (a small tmpfs in a mount namespace of our own) mid-run."""
    import json

    mount = tmp_path / "disk"
    mount.mkdir()
    run_dir = mount / "run"
    command = [
        sys.executable, "-m", "incentives.run.cli", *TINY, "budget=8192",
        "checkpoint.every=2048", "eval.every=0", f"hydra.run.dir={run_dir}",
    ]  # fmt: skip
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    done = subprocess.run(
        [*unshare, sys.executable, "-c", FILL_DISK, str(mount), json.dumps(command)],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0 and "Operation not permitted" in done.stderr:
        pytest.skip(f"no mount namespace here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    lines = result["full_err"].strip().splitlines()
    assert result["full_rc"] == 2 and len(lines) == 1, result["full_err"][-6000:]
    assert lines[0].startswith("incentives-train: error: cannot write in ")
    assert str(run_dir) in lines[0] and "No space left on device" in lines[0]
    assert "the same command resumes" in lines[0]
    assert result["again_rc"] == 0, result["again_err"]
    assert result["resumed_from"] == result["kept"] >= 2048
    assert result["timesteps"] >= 8192
