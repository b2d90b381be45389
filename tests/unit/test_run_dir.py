"""`make up` and its run directory against other local users (issue 22, finding 9): a run directory it
did not make is used only when it is provably ours, and nothing inside it is followed through a
symbolic link. Run as root here, "another user" is uid 65534 (nobody), or a directory everyone can
write to; the ops functions are called on temporary directories (no stack is started)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hometax_decrypt.ops import rundir, stack, tls
from hometax_decrypt.ops.config import StackConfig
from tests.support.stack import ROOT, free_port

NOBODY = 65534


def _cfg(run_dir: Path, **env: str) -> StackConfig:
    return StackConfig.from_env({"HOMETAX_RUN_DIR": str(run_dir), "HOMETAX_INSTANCES": "2", **env})


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _victim(tmp_path: Path) -> Path:
    """A directory outside the run directory with a file that must survive untouched."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep me\n")
    os.chmod(victim / "precious", 0o600)
    return victim


def _up(run_dir: Path, command: str = "up") -> subprocess.CompletedProcess:
    """`make up`'s command on ``run_dir``; nginx "missing", so nothing can start in any case."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMETAX_")}
    env.update(
        HOMETAX_RUN_DIR=str(run_dir),
        HOMETAX_LISTEN="127.0.0.1",
        HOMETAX_HTTPS_PORT=str(free_port()),
        HOMETAX_HTTP_PORT=str(free_port()),
        HOMETAX_NGINX="/nonexistent/nginx",
    )
    return subprocess.run(
        [sys.executable, "-m", "hometax_decrypt.ops.stack", command],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- the run directory itself ----------------------------------------------------------------------


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a directory of another user")
def test_a_run_dir_of_another_user_is_refused_with_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir(mode=0o755)
    os.chown(run, NOBODY, NOBODY)
    r = _up(run)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "belongs to another user" in r.stderr and str(run) in r.stderr
    assert os.listdir(run) == []  # nothing written into it
    with pytest.raises(rundir.UnsafeDirectory, match="belongs to another user"):
        stack.prepare_run_dir(_cfg(run))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a directory of another user")
def test_down_does_not_signal_a_pid_planted_in_a_run_dir_of_another_user(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (run / "nginx.pid").write_text(f"{sleeper.pid}\n")
        (run / "stack.json").write_text(f'{{"apps": [], "supervisord_pid": {sleeper.pid}}}')
        os.chown(run, NOBODY, NOBODY)
        r = _up(run, "down")
        assert r.returncode == 1 and "belongs to another user" in r.stderr
        assert sleeper.poll() is None  # not killed
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777])
def test_a_run_dir_others_can_write_to_is_refused(tmp_path, mode):
    run = tmp_path / "run"
    run.mkdir()
    os.chmod(run, mode)
    with pytest.raises(rundir.UnsafeDirectory, match="writable by other users"):
        stack.prepare_run_dir(_cfg(run))
    assert os.listdir(run) == []


def test_a_run_dir_that_is_a_symlink_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / "run").symlink_to(target)
    cfg = _cfg(tmp_path / "run")
    assert cfg.run_dir == tmp_path.resolve() / "run"  # seen as the link, not as its target
    with pytest.raises(rundir.UnsafeDirectory, match="symbolic link"):
        stack.prepare_run_dir(cfg)
    assert os.listdir(target) == []


def test_a_parent_everyone_can_write_to_needs_the_sticky_bit(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # anyone could rename our run directory away and put theirs there
    with pytest.raises(rundir.UnsafeDirectory, match="without the sticky bit"):
        stack.prepare_run_dir(_cfg(shared / "run"))
    os.chmod(shared, 0o1777)  # as /tmp: only the owner of an entry can rename it
    stack.prepare_run_dir(_cfg(shared / "run"))
    assert _mode(shared / "run") == 0o700 and os.lstat(shared / "run").st_uid == os.geteuid()


def test_a_new_run_dir_gets_the_documented_modes(tmp_path):
    cfg = _cfg(tmp_path / "a" / "run")
    stack.prepare_run_dir(cfg)
    tls.ensure_certificate(cfg)
    run = cfg.run_dir
    modes = {p: _mode(run / p) for p in ("", "tmp", "metrics", "sock", "logs", "nginx-tmp", "tls")}
    assert modes == {
        "": 0o700,
        "tmp": 0o700,
        "metrics": 0o700,
        "sock": 0o750,
        "logs": 0o750,
        "nginx-tmp": 0o750,
        "tls": 0o700,
    }
    assert {_mode(p) for p in (run / "logs").iterdir()} == {0o640}
    assert {p.name for p in (run / "logs").iterdir()} >= {"app-1.log", "app-2.log", "nginx-error.log"}
    assert (_mode(run / "tls" / "selfsigned.key"), _mode(run / "tls" / "selfsigned.crt")) == (0o600, 0o644)
    assert [p.name for p in (run / "tls").iterdir() if p.name.startswith(".")] == []  # no leftovers
    # with nginx's workers as another user: the run and socket directories open to their group
    stack.prepare_run_dir(cfg, gid=NOBODY)
    assert (_mode(run), os.lstat(run).st_gid) == (0o750, NOBODY)
    assert (_mode(run / "sock"), os.lstat(run / "sock").st_gid) == (0o750, NOBODY)
    rundir.write_file(run / "nginx.conf", "x")
    assert _mode(run / "nginx.conf") == 0o600


# -- symbolic links planted inside ------------------------------------------------------------------


def test_a_metrics_symlink_does_not_get_its_target_emptied(tmp_path):
    victim = _victim(tmp_path)
    cfg = _cfg(tmp_path / "run")
    cfg.run_dir.mkdir(mode=0o700)
    (cfg.run_dir / "metrics").symlink_to(victim)
    stack.prepare_run_dir(cfg)
    assert (victim / "precious").read_text() == "keep me\n"
    assert stat.S_ISDIR(os.lstat(cfg.metrics_dir).st_mode) and os.listdir(cfg.metrics_dir) == []
    # and a link inside the metrics directory is removed, not what it points to
    (cfg.metrics_dir / "counter_1.db").write_bytes(b"old")
    (cfg.metrics_dir / "link").symlink_to(victim / "precious")
    (cfg.metrics_dir / "dirlink").symlink_to(victim)
    stack.prepare_run_dir(cfg)
    assert os.listdir(cfg.metrics_dir) == []
    assert (victim / "precious").read_text() == "keep me\n"


def test_a_planted_key_is_not_served_and_not_followed(tmp_path):
    victim = _victim(tmp_path)
    cfg = _cfg(tmp_path / "run")
    stack.prepare_run_dir(cfg)
    cert, key = cfg.cert_paths()
    cert.parent.mkdir(mode=0o700)
    planted_key = victim / "precious"
    key.symlink_to(planted_key)
    cert.write_text("planted certificate\n")
    tls.ensure_certificate(cfg)
    assert planted_key.read_text() == "keep me\n" and _mode(planted_key) == 0o600  # not written through
    assert stat.S_ISREG(os.lstat(key).st_mode) and _mode(key) == 0o600
    assert b"PRIVATE KEY" in key.read_bytes() and b"BEGIN CERTIFICATE" in cert.read_bytes()
    made = key.read_bytes()
    tls.ensure_certificate(cfg)  # a pair of ours is kept
    assert key.read_bytes() == made


@pytest.mark.parametrize("plant", ["other_owner", "readable_by_others", "directory_link"])
def test_a_key_we_cannot_vouch_for_is_replaced(tmp_path, plant):
    cfg = _cfg(tmp_path / "run")
    stack.prepare_run_dir(cfg)
    tls.ensure_certificate(cfg)
    cert, key = cfg.cert_paths()
    planted = b"-----BEGIN PRIVATE KEY-----\nplanted\n-----END PRIVATE KEY-----\n"
    if plant == "directory_link":  # tls -> a directory holding someone's pair
        victim = _victim(tmp_path)
        (victim / key.name).write_bytes(planted)
        os.chmod(victim / key.name, 0o600)
        (victim / cert.name).write_text("theirs\n")
        os.rename(cert.parent, tmp_path / "old-tls")
        cert.parent.symlink_to(victim)
    else:
        key.write_bytes(planted)
        if plant == "other_owner":
            if os.geteuid() != 0:
                pytest.skip("needs root to make a file of another user")
            os.chown(key, NOBODY, NOBODY)
        else:
            os.chmod(key, 0o644)
    tls.ensure_certificate(cfg)
    assert stat.S_ISDIR(os.lstat(cert.parent).st_mode)
    assert key.read_bytes() != planted and os.lstat(key).st_uid == os.geteuid() and _mode(key) == 0o600
    if plant == "directory_link":
        assert (victim / key.name).read_bytes() == planted  # the link's target untouched


def test_planted_log_and_pid_links_are_replaced_not_followed(tmp_path):
    victim = _victim(tmp_path)
    cfg = _cfg(tmp_path / "run")
    stack.prepare_run_dir(cfg)
    for name in ("nginx-error.log", "nginx-access.log", "app-1.log", "supervisord.log"):
        (cfg.log_dir / name).unlink()
        (cfg.log_dir / name).symlink_to(victim / "precious")
    (cfg.run_dir / "nginx.pid").symlink_to(victim / "precious")
    (cfg.run_dir / "sock").rmdir()
    (cfg.run_dir / "sock").symlink_to(victim)
    stack.prepare_run_dir(cfg)
    assert (victim / "precious").read_text() == "keep me\n" and _mode(victim / "precious") == 0o600
    for name in ("nginx-error.log", "nginx-access.log", "app-1.log", "supervisord.log"):
        assert stat.S_ISREG(os.lstat(cfg.log_dir / name).st_mode) and _mode(cfg.log_dir / name) == 0o640
    assert not os.path.lexists(cfg.run_dir / "nginx.pid")
    assert stat.S_ISDIR(os.lstat(cfg.run_dir / "sock").st_mode)
    assert sorted(os.listdir(victim)) == ["precious"]
    rundir.write_file(cfg.state_file, "{}")  # written by rename: a link there is replaced
    (cfg.state_file).unlink()
    cfg.state_file.symlink_to(victim / "precious")
    rundir.write_file(cfg.state_file, "{}")
    assert (victim / "precious").read_text() == "keep me\n" and cfg.state_file.read_text() == "{}"


def test_a_second_start_accepts_nginx_temp_dirs_given_to_its_workers(tmp_path):
    victim = _victim(tmp_path)
    cfg = _cfg(tmp_path / "run")
    stack.prepare_run_dir(cfg, gid=NOBODY)
    body = cfg.run_dir / "nginx-tmp" / "body"
    body.mkdir(mode=0o700)  # as nginx's master makes it ...
    if os.geteuid() == 0:
        os.chown(body, NOBODY, -1)  # ... and gives it to its workers' user
    (cfg.run_dir / "nginx-tmp" / "proxy").symlink_to(victim)
    stack.prepare_run_dir(cfg, gid=NOBODY)
    assert body.is_dir() and not os.path.lexists(cfg.run_dir / "nginx-tmp" / "proxy")
    assert sorted(os.listdir(victim)) == ["precious"]
