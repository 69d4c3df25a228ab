"""The naive transport many bots use: a fresh `ssh` client process for every command."""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path

from bench.probe import PROBE
from nodes import NodeError, NodeTarget, PeerSpec, SshPool, WireGuard
from nodes.commands import add_peer_command, interface_name, remove_peer_command

STDERR_LIMIT = 300


class SshPerCommand(SshPool):
    """SshPool's `run` done by spawning `ssh ... 'cmd'`: one TCP connection, key exchange and
    login per command. `limit` caps how many ssh processes run at once per node (like the
    pool's channel limit; without a cap sshd's MaxStartups starts refusing connections)."""

    def __init__(self, client_key_path: Path, known_hosts_dir: Path, *, limit: int = 8) -> None:
        super().__init__(client_key_path)
        self._key_path = client_key_path
        self._known_dir = known_hosts_dir
        self._known: dict[tuple[str, int, str], Path] = {}
        self._limit = limit
        self._slots: dict[str, asyncio.Semaphore] = {}

    def _known_hosts(self, target: NodeTarget) -> Path:
        assert target.host_key is not None
        cache_key = (target.host, target.port, target.host_key)
        path = self._known.get(cache_key)
        if path is None:
            host = target.host if target.port == 22 else f"[{target.host}]:{target.port}"
            path = self._known_dir / f"known_hosts-{len(self._known)}"
            path.write_text(f"{host} {target.host_key}\n")
            self._known[cache_key] = path
        return path

    def argv(self, target: NodeTarget, command: str) -> list[str]:
        """The ssh command line that runs `command` on the node."""
        return [
            "ssh",
            "-F", "/dev/null",
            "-i", str(self._key_path),
            "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={self._known_hosts(target)}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=10",
            "-o", "LogLevel=ERROR",
            "-p", str(target.port),
            f"{target.username}@{target.host}",
            command,
        ]  # fmt: skip

    async def run(
        self,
        target: NodeTarget,
        command: str,
        *,
        stdin: str | None = None,
        timeout: float | None = None,
        limit: int | None = None,
        even_if_down: bool = False,
    ) -> str:
        if target.host_key is None:
            raise NodeError(target.name, "host key not pinned")
        seconds = 30.0 if timeout is None else timeout
        slots = self._slots.setdefault(target.name, asyncio.Semaphore(self._limit))
        with PROBE.timing("ssh"):
            async with slots:
                return await self._spawn(target, command, stdin, seconds)

    async def _spawn(
        self, target: NodeTarget, command: str, stdin: str | None, limit: float
    ) -> str:
        proc = await asyncio.create_subprocess_exec(
            *self.argv(target, command),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(limit):
                out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise NodeError(target.name, f"command timed out after {limit:g}s") from None
        if proc.returncode != 0:
            detail = " ".join(err.decode(errors="replace").split())[:STDERR_LIMIT]
            raise NodeError(target.name, f"command failed (exit {proc.returncode}): {detail}")
        return out.decode()


def wg_quick_save(iface: str) -> str:
    """`wg-quick save`, as such bots run it; one at a time per node (it writes a fixed
    temporary file), under a lock of the naive side's own."""
    quoted = shlex.quote(iface)
    return f"flock -w 120 /run/lock/naive-wg-{quoted}.lock wg-quick save {quoted}"


class NaiveWireGuard(WireGuard):
    """nodes.WireGuard's methods and exact command strings, each run by its own `ssh` process;
    a peer change is `wg set ... && wg-quick save` in one command, one save per change."""

    def __init__(self, client_key_path: Path, known_hosts_dir: Path, *, limit: int = 8) -> None:
        self.transport = SshPerCommand(client_key_path, known_hosts_dir, limit=limit)
        super().__init__(self.transport)

    def describe(self, target: NodeTarget) -> str:
        """The command line of one naive call, for the report."""
        return shlex.join(self.transport.argv(target, "wg show IFACE dump"))

    async def add_peer(self, target: NodeTarget, peer: PeerSpec) -> None:
        command = f"{add_peer_command(target, peer)} && {wg_quick_save(interface_name(target))}"
        await self.transport.run(target, command, stdin=peer.preshared_key + "\n")

    async def remove_peer(self, target: NodeTarget, public_key: str) -> None:
        save = wg_quick_save(interface_name(target))
        command = f"{remove_peer_command(target, public_key)} && {save}"
        await self.transport.run(target, command)
