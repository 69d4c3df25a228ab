"""The node-side lock that serialises config saves: in a directory only root may enter, so a
local user of the node can neither take it first (stalling every save) nor swap it for a link."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodes import PeerSpec, SshPool, WireGuard
from nodes.commands import LOCK_DIR, lock_file, locked
from nodes.keys import generate_preshared_key, generate_private_key, public_key
from tests.netlab import LAB_USER_UID, Lab, LabNode, require_root_lab, unavailable
from tests.nodes_support import RecordingPool, target_of


@pytest.fixture(scope="module")
def lab(key_path: Path) -> Iterator[Lab]:
    require_root_lab()
    with Lab() as lab:
        lab.add_node("l1", authorized_key=SshPool.ensure_client_key(key_path))
        yield lab


def a_peer() -> PeerSpec:
    return PeerSpec(public_key(generate_private_key()), generate_preshared_key(), ("10.8.0.9/32",))


@pytest.mark.root
async def test_the_save_lock_is_in_a_root_only_directory(
    pool: RecordingPool, node: LabNode
) -> None:
    target = target_of(node)
    wireguard = WireGuard(pool)
    await wireguard.add_peer(target, a_peer())
    await wireguard.saved(target)
    directory = Path(LOCK_DIR)
    info = directory.lstat()
    assert directory.is_dir() and not directory.is_symlink()
    assert (info.st_uid, info.st_mode & 0o777) == (0, 0o700)
    assert Path(lock_file(node.interface)).exists()
    assert not Path(f"/run/lock/vpnservice-wg-{node.interface}.lock").exists()


@pytest.mark.root
@pytest.mark.timeout(60)
async def test_an_unprivileged_local_user_cannot_stall_the_saves(
    pool: RecordingPool, node: LabNode
) -> None:
    """A local user takes every lock they can reach, the old world-writable place included;
    the bot's save still goes through at once."""
    paths = [f"/run/lock/vpnservice-wg-{node.interface}.lock", lock_file(node.interface)]
    holders = [
        subprocess.Popen(
            ["flock", "-n", path, "sleep", "60"],
            user=LAB_USER_UID,
            stderr=subprocess.DEVNULL,
        )
        for path in paths
    ]
    try:
        time.sleep(0.5)
        assert holders[0].poll() is None, "the old place could be taken by anyone"
        assert holders[1].wait(5) != 0, "the lock directory is closed to the user"
        started = time.monotonic()
        wireguard, peer = WireGuard(pool), a_peer()
        await wireguard.add_peer(target_of(node), peer)
        await wireguard.saved(target_of(node))
        assert time.monotonic() - started < 5
        assert f"PublicKey = {peer.public_key}" in node.config_path.read_text()
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()
        Path(paths[0]).unlink(missing_ok=True)


@pytest.fixture
def lock_dir(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        unavailable("changing a directory's owner needs root")
    return tmp_path / "vpnservice"


def run_save(lock_dir: Path) -> subprocess.CompletedProcess[str]:
    """A locked script (as the save runs) with its lock directory moved to lock_dir."""
    command = locked("wg7", "echo saved").replace(LOCK_DIR, str(lock_dir))
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30)


def test_the_save_makes_the_lock_directory_0700(lock_dir: Path) -> None:
    assert run_save(lock_dir).stdout == "saved\n"
    assert lock_dir.stat().st_mode & 0o777 == 0o700
    assert (lock_dir / "wg-wg7.lock").exists()
    assert run_save(lock_dir).stdout == "saved\n"


@pytest.mark.parametrize("unsafe", ["world-writable", "someone else's", "a link"])
def test_the_save_refuses_an_unsafe_lock_directory(lock_dir: Path, unsafe: str) -> None:
    real = lock_dir.with_name("real")
    real.mkdir(mode=0o700)
    if unsafe == "world-writable":
        lock_dir.mkdir()
        lock_dir.chmod(0o777)
    elif unsafe == "someone else's":
        lock_dir.mkdir(mode=0o700)
        os.chown(lock_dir, LAB_USER_UID, LAB_USER_UID)
    else:
        lock_dir.symlink_to(real)
    done = run_save(lock_dir)
    assert done.returncode == 9
    assert done.stdout == ""
    assert "unsafe or missing" in done.stderr and "0700 directory" in done.stderr
    assert not (real / "wg-wg7.lock").exists()
    shutil.rmtree(real)
