"""Rotating the bot's SSH key on every node, with no moment when the bot cannot log in.

The steps, each safe to run again: check that every node answers; make a new key next to
the old one (`ssh_ed25519.new`); add its public key to every node's authorized_keys over the
current connection; log in afresh with it to every node; only then swap the files (the old
key becomes `ssh_ed25519.old`) and remove the old public key from every node; last, delete
`ssh_ed25519.old`. A node that fails stops the rotation at that step, and running it again
goes on from there. A running bot reads its key file at each new connection, so it may stay
up throughout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nodes import NodeError, NodeTarget, SshPool
from nodes.hostkeys import fingerprint
from nodes.keyrotation import (
    KeyChange,
    KeyFiles,
    add_key,
    check_login,
    read_public_line,
    remove_key,
)
from services.audit import AuditAction, AuditService
from services.fleet import FleetService
from services.targets import target_of

Progress = Callable[[str], Awaitable[None]]
PARALLEL = 16  # nodes worked on at once
RERUN = "python main.py ssh-key rotate"
ADVICE = {  # what the operator does when a rotation stopped at a step
    "check": f"Nothing was changed. Bring these nodes back (or restore them), then run {RERUN}.",
    "add": (
        "The bot still logs in with its current key; the new one waits in ssh_ed25519.new. "
        f"Fix these nodes, then run {RERUN} again to go on."
    ),
    "login": (
        "The nodes refused a fresh login with the new key, so the bot still uses the current "
        "one. Check that sshd reads ~/.ssh/authorized_keys (AuthorizedKeysFile) there, then "
        f"run {RERUN} again."
    ),
    "remove": (
        "The bot already logs in with the new key. The old key is still authorized on these "
        f"nodes and kept in ssh_ed25519.old: run {RERUN} again when they answer."
    ),
}


class KeyFilesUnexpected(Exception):
    """The key files next to the bot's key are not in a state a rotation leaves."""


@dataclass(frozen=True, slots=True)
class Rotation:
    """How a rotation ended: finished, or stopped at a step because of these nodes."""

    finished: bool
    stopped_at: str = ""  # "check", "add", "login" or "remove"
    failed: dict[str, str] = field(default_factory=dict)  # node → reason
    seconds: float = 0.0


class SshKeyService:
    def __init__(
        self,
        fleet: FleetService,
        audit: AuditService,
        key_path: Path,
        *,
        connect_timeout: float = 10.0,
        command_timeout: float = 30.0,
    ) -> None:
        self._fleet = fleet
        self._audit = audit
        self._files = KeyFiles(key_path)
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout

    def _pool(self, key_path: Path) -> SshPool:
        return SshPool(
            key_path, connect_timeout=self._connect_timeout, command_timeout=self._command_timeout
        )

    def public_key(self) -> str:
        """The bot's SSH public key (one OpenSSH line), created on first use."""
        return SshPool.ensure_client_key(self._files.current)

    async def rotate(self, actor_id: int, progress: Progress) -> Rotation:
        """Rotate the key (or finish a rotation that stopped); progress gets one line per node
        and step, with its time. Never prints a private key. Audited as the actor's."""
        rotation = await self._rotate(progress)
        details = "finished" if rotation.finished else f"stopped at {rotation.stopped_at}"
        await self._audit.write(actor_id, AuditAction.SSH_KEY_ROTATE, "", details)
        return rotation

    async def _rotate(self, progress: Progress) -> Rotation:
        started = time.monotonic()
        files = self._files
        targets = [target_of(node) for node in await self._fleet.all()]
        if files.old.exists() and not files.new.exists():
            await progress("the keys were swapped by an earlier run: retiring the old key")
            return await self._retire(targets, started, progress)
        current = read_public_line(files.current)
        pool = self._pool(files.current)
        try:
            if files.new.exists():
                if files.old.exists() and read_public_line(files.old) != current:
                    raise KeyFilesUnexpected(
                        f"{files.new} and {files.old} both exist and {files.old} is not the "
                        f"current key: move them away and run again"
                    )
                new = read_public_line(files.new)
                await progress(f"going on with the new key {fingerprint(new)} from {files.new}")
            else:
                await progress(f"{len(targets)} nodes; the current key is {fingerprint(current)}")
                failed = await _each(targets, progress, "answers", lambda t: pool.run(t, "true"))
                if failed:
                    return _stopped("check", failed, started)
                new = files.create_new()
                await progress(f"new key {fingerprint(new)} written to {files.new}")
            failed = await _each(targets, progress, "", lambda t: _added(pool, t, new))
            if failed:
                return _stopped("add", failed, started)
        finally:
            await pool.close()
        failed = await _each(
            targets,
            progress,
            "logs in with the new key",
            lambda t: check_login(
                files.new,
                t,
                connect_timeout=self._connect_timeout,
                command_timeout=self._command_timeout,
            ),
        )
        if failed:
            return _stopped("login", failed, started)
        files.swap()
        await progress(f"swapped: {files.current} is the new key, the old one is {files.old}")
        return await self._retire(targets, started, progress)

    async def _retire(
        self, targets: Sequence[NodeTarget], started: float, progress: Progress
    ) -> Rotation:
        """Remove the old key (`.old`) from every node, logging in with the current one; then
        delete the file."""
        files = self._files
        old = read_public_line(files.old)
        if old != read_public_line(files.current):  # never remove the key the bot logs in with
            pool = self._pool(files.current)
            try:
                failed = await _each(targets, progress, "", lambda t: _removed(pool, t, old))
            finally:
                await pool.close()
            if failed:
                return _stopped("remove", failed, started)
        files.old.unlink()
        await progress(f"deleted {files.old}")
        return Rotation(True, seconds=time.monotonic() - started)


async def _added(pool: SshPool, target: NodeTarget, line: str) -> str:
    change: KeyChange = await add_key(pool, target, line)
    verb = "new key added to" if change.changed else "new key already in"
    return f"{verb} {change.file}"


async def _removed(pool: SshPool, target: NodeTarget, line: str) -> str:
    change: KeyChange = await remove_key(pool, target, line)
    verb = "old key removed from" if change.changed else "old key was not in"
    return f"{verb} {change.file}"


async def _each(
    targets: Sequence[NodeTarget],
    progress: Progress,
    done: str,
    action: Callable[[NodeTarget], Awaitable[object]],
) -> dict[str, str]:
    """Run action on every node, PARALLEL at once, reporting each with its time; the nodes
    that failed, with the reason. `done` is the line for success, or the action's own text."""
    gate = asyncio.Semaphore(PARALLEL)

    async def one(target: NodeTarget) -> tuple[str, str | None]:
        async with gate:
            started = time.monotonic()
            try:
                result = await action(target)
            except NodeError as error:
                await progress(f"{target.name}: FAILED, {error.reason} ({_took(started)})")
                return target.name, error.reason
            text = done or str(result)
            await progress(f"{target.name}: {text} ({_took(started)})")
            return target.name, None

    results = await asyncio.gather(*(one(target) for target in targets))
    return {name: reason for name, reason in results if reason is not None}


def _took(started: float) -> str:
    return f"{time.monotonic() - started:.2f} s"


def _stopped(step: str, failed: dict[str, str], started: float) -> Rotation:
    return Rotation(False, step, failed, time.monotonic() - started)
