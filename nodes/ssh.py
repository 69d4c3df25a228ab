"""A pool of pinned-host-key asyncssh connections, one per node, with bounded channels."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from nodes.errors import HostKeyChanged, NodeError
from nodes.hostkeys import algorithm, same_key
from nodes.target import NodeTarget

log = logging.getLogger(__name__)

_Key = tuple[str, str, int, str, str]
STDERR_LIMIT = 300
KEEPALIVE_COUNT_MAX = 3
REFUSAL_RETRIES = 8  # a refused channel is asked for again this often, backing off ~3 s in all
REFUSAL_BACKOFF = 0.02
OUTPUT_LIMIT = 4 << 20  # bytes of stdout a call reads: a 10,000-peer dump is about 2 MB
STDERR_LIMIT_BYTES = 64 << 10
READ_CHUNK = 64 << 10
SCAN_ALGORITHMS = ("ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-256")


def _trim(text: str) -> str:
    """One printable line of at most STDERR_LIMIT characters."""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= STDERR_LIMIT else text[: STDERR_LIMIT - 1] + "…"


@dataclass(slots=True)
class _Call:
    """One command to run, and what it is doing now (for a timeout's message)."""

    command: str
    stdin: str | None
    limit: int
    phase: str = "waiting for a free SSH channel"


class _TooLong(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


async def _collect(process: asyncssh.SSHClientProcess[bytes], limit: int) -> tuple[bytes, bytes]:
    """The command's stdout (at most `limit` bytes) and stderr (at most STDERR_LIMIT_BYTES),
    read at once so neither can fill the channel's window and stall the other. More than
    that closes the channel and raises _TooLong."""

    async def read(stream: asyncssh.SSHReader[bytes], most: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while chunk := await stream.read(READ_CHUNK):
            size += len(chunk)
            if size > most:
                process.close()  # the node's output stops here; the other stream ends too
                raise _TooLong(most)
            chunks.append(chunk)
        return b"".join(chunks)

    out, err = await asyncio.gather(
        read(process.stdout, limit),
        read(process.stderr, STDERR_LIMIT_BYTES),
        return_exceptions=True,
    )
    for result in (out, err):
        if isinstance(result, BaseException):
            raise result
    assert isinstance(out, bytes) and isinstance(err, bytes)
    return out, err


def _result(
    target: NodeTarget,
    process: asyncssh.SSHClientProcess[bytes],
    out: bytes,
    err: bytes,
) -> str:
    """The finished command's stdout as text, or the NodeError that says why not."""
    status = process.exit_status
    if status is None:
        # No exit status: the channel closed under the command (its connection was lost or
        # closed) or a signal killed it. It may not have run, or run only in part: never
        # report that as success.
        signal = process.exit_signal
        if signal is not None:
            raise NodeError(target.name, f"command killed by {_trim(signal[0])}")
        raise NodeError(target.name, "connection lost while the command ran")
    if status != 0:
        stderr = _trim(err.decode("utf-8", "replace"))
        reason = f"command failed (exit {status})"
        raise NodeError(target.name, f"{reason}: {stderr}" if stderr else reason)
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise NodeError(target.name, "output is not UTF-8 text") from None


def _connect_reason(exc: BaseException) -> str:
    """A short human reason for a failed connection."""
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return "host key changed/not trusted"
    if isinstance(exc, asyncssh.PermissionDenied):
        return "authentication failed (is the bot's key in authorized_keys?)"
    if isinstance(exc, TimeoutError):
        return "connection timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host name not resolved"
    if isinstance(exc, asyncssh.DisconnectError):
        return f"ssh disconnected: {_trim(exc.reason)}"
    if isinstance(exc, asyncssh.Error):
        return f"ssh error: {_trim(exc.reason)}"
    if isinstance(exc, OSError):
        return f"cannot connect: {exc.strerror or type(exc).__name__}"
    return f"cannot connect: {type(exc).__name__}"


class SshPool:
    """Runs commands on nodes over one reused SSH connection per node.

    on_connect, if given, runs as a background task after every new connection (the first
    and each reconnect), e.g. to reconcile the node; its errors are logged, never raised.
    """

    def __init__(
        self,
        client_key_path: Path,
        *,
        connect_timeout: float = 10.0,
        command_timeout: float = 30.0,
        keepalive_interval: float = 15.0,
        max_channels: int = 8,
        output_limit: int = OUTPUT_LIMIT,
        on_connect: Callable[[NodeTarget], Awaitable[None]] | None = None,
    ) -> None:
        self._client_key_path = client_key_path
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._keepalive_interval = keepalive_interval
        self._max_channels = max_channels
        self._conns: dict[_Key, asyncssh.SSHClientConnection] = {}
        self._locks: dict[_Key, asyncio.Lock] = {}
        self._channels: dict[_Key, asyncio.Semaphore] = {}
        self._on_connect = on_connect
        self._hooks: set[asyncio.Task[None]] = set()
        self._output_limit = output_limit
        self._down: dict[str, str] = {}  # node name → why the health probes marked it down

    @staticmethod
    def ensure_client_key(path: Path) -> str:
        """Create an ed25519 key at path (0600) if missing; return its OpenSSH public line."""
        if path.exists():
            key = asyncssh.read_private_key(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            key = asyncssh.generate_private_key("ssh-ed25519", comment="vpnservice")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(key.export_private_key("openssh"))
            log.info("created SSH client key %s", path)
        return key.export_public_key("openssh").decode("ascii").strip()

    async def scan_host_key(
        self, host: str, port: int = 22, *, name: str | None = None, prefer: str | None = None
    ) -> str:
        """The server's host key (of type `prefer` if it has one, else ed25519 first) as one
        OpenSSH public key line."""
        node = name or f"{host}:{port}"
        algorithms = [prefer] if prefer is not None else []
        algorithms += [alg for alg in SCAN_ALGORITHMS if alg != prefer]
        try:
            async with asyncio.timeout(self._connect_timeout):
                key = await asyncssh.get_server_host_key(
                    host, port, server_host_key_algs=algorithms, config=[]
                )
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise NodeError(node, _connect_reason(exc)) from None
        if key is None:
            raise NodeError(node, "server sent no host key")
        key.set_comment(None)
        return key.export_public_key("openssh").decode("ascii").strip()

    def set_down(self, name: str, reason: str | None) -> None:
        """Mark the node called name down: its calls fail at once with NodeError, except those
        made with even_if_down (probes, reconciles, restores), so its return is noticed. None
        marks it up again."""
        if reason is None:
            self._down.pop(name, None)
        else:
            self._down[name] = reason

    async def run(
        self,
        target: NodeTarget,
        command: str,
        *,
        stdin: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - part of the pool's API
        limit: int | None = None,
        even_if_down: bool = False,
    ) -> str:
        """Run command on the node and return its stdout; any failure is a NodeError.

        One deadline (timeout, else the pool's command timeout) covers the whole call: the wait
        for a free channel, the connection, the command and its output, of which at most
        `limit` bytes (else the pool's output limit) are read. A node marked down fails at
        once unless even_if_down."""
        if target.host_key is None:
            raise NodeError(target.name, "host key not pinned")
        down = self._down.get(target.name)
        if down is not None and not even_if_down:
            raise NodeError(target.name, f"node is down ({down})")
        key: _Key = (target.name, target.host, target.port, target.username, target.host_key)
        seconds = self._command_timeout if timeout is None else timeout
        channels = self._channels.setdefault(key, asyncio.Semaphore(self._max_channels))
        call = _Call(command, stdin, self._output_limit if limit is None else limit)
        try:
            async with asyncio.timeout(seconds):
                async with channels:
                    return await self._run(key, target, call)
        except TimeoutError:
            raise NodeError(target.name, f"timed out after {seconds:g}s {call.phase}") from None

    @asynccontextmanager
    async def tunnel(
        self, target: NodeTarget, remote_port: int, *, even_if_down: bool = False
    ) -> AsyncIterator[int]:
        """A port on the bot's loopback that leads, through the node's SSH connection, to
        remote_port on the node's own loopback (a service that listens only there, like
        Xray's API); closed on exit. Failures to open it are a NodeError."""
        if target.host_key is None:
            raise NodeError(target.name, "host key not pinned")
        down = self._down.get(target.name)
        if down is not None and not even_if_down:
            raise NodeError(target.name, f"node is down ({down})")
        key: _Key = (target.name, target.host, target.port, target.username, target.host_key)
        try:
            async with asyncio.timeout(self._command_timeout):
                conn = await self._connection(key, target)
                listener = await conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", remote_port)
        except TimeoutError:
            raise NodeError(target.name, "timed out opening a tunnel") from None
        except (asyncssh.Error, OSError) as exc:
            raise NodeError(target.name, f"cannot open a tunnel: {_connect_reason(exc)}") from None
        try:
            yield listener.get_port()
        finally:
            listener.close()

    async def _run(self, key: _Key, target: NodeTarget, call: _Call) -> str:
        """One command on a channel of the node's connection (the caller holds the channel)."""
        # asyncssh sends EOF only after a non-empty input: without one the command's stdin
        # would stay open and anything reading it would wait until the deadline.
        source: dict[str, object] = (
            {"input": call.stdin.encode()} if call.stdin else {"stdin": asyncssh.DEVNULL}
        )
        reconnected = False
        for refusal in range(REFUSAL_RETRIES + 1):
            call.phase = "connecting"
            conn = await self._connection(key, target)
            call.phase = "running the command"
            try:
                process = await conn.create_process(call.command, encoding=None, **source)
                try:
                    out, err = await _collect(process, call.limit)
                    await process.wait_closed()
                finally:
                    process.close()
            except _TooLong as exc:
                raise NodeError(target.name, f"printed more than {exc.limit} bytes") from None
            except asyncssh.ChannelOpenError as exc:
                # Never close the shared connection here: other commands are running on
                # it, and closing it would cut them off mid-way.
                if not conn.is_closed():
                    # The server refused this session (e.g. sshd's MaxSessions is reached
                    # because it has not yet freed the slots of sessions that just ended):
                    # the command never started, so wait a moment and ask again.
                    if refusal == REFUSAL_RETRIES:
                        reason = f"cannot open channel: {_trim(exc.reason)}"
                        raise NodeError(target.name, reason) from None
                    await asyncio.sleep(min(REFUSAL_BACKOFF * 2**refusal, 1.0))
                    continue
                if exc.code == asyncssh.OPEN_REQUEST_SESSION_FAILED or reconnected:
                    # the exec request may have reached the node before the connection
                    # went: the command's outcome is unknown, so it must not be retried
                    raise NodeError(target.name, "connection lost") from None
                # The connection closed before the channel opened: the command never
                # started, so reconnect and try once more.
                reconnected = True
                continue
            except (asyncssh.Error, OSError) as exc:
                if conn.is_closed() or isinstance(exc, asyncssh.DisconnectError | OSError):
                    self._forget(key, conn)
                reason = f"connection lost: {_connect_reason(exc)}"
                raise NodeError(target.name, reason) from None
            if process.exit_status is None and process.exit_signal is None:
                self._forget_if_closed(key, conn)
            return _result(target, process, out, err)
        raise AssertionError("unreachable")

    async def _connection(self, key: _Key, target: NodeTarget) -> asyncssh.SSHClientConnection:
        conn = self._conns.get(key)
        if conn is not None and not conn.is_closed():
            return conn
        async with self._locks.setdefault(key, asyncio.Lock()):
            conn = self._conns.get(key)
            if conn is not None and not conn.is_closed():
                return conn
            if conn is not None:
                log.info("node %s: connection closed, reconnecting", target.name)
                self._forget(key, conn)
            conn = await self._connect(target)
            self._conns[key] = conn
            if self._on_connect is not None:
                task = asyncio.create_task(self._run_hook(self._on_connect, target))
                self._hooks.add(task)
                task.add_done_callback(self._hooks.discard)
            return conn

    @staticmethod
    async def _run_hook(hook: Callable[[NodeTarget], Awaitable[None]], target: NodeTarget) -> None:
        """Run the on_connect hook; its failures are logged, never raised."""
        try:
            await hook(target)
        except NodeError as exc:
            log.warning("node %s: on_connect hook failed: %s", target.name, exc.reason)
        except Exception:
            log.exception("node %s: on_connect hook crashed", target.name)

    async def _connect(self, target: NodeTarget) -> asyncssh.SSHClientConnection:
        assert target.host_key is not None
        try:
            pinned = asyncssh.import_public_key(target.host_key)
        except (asyncssh.KeyImportError, ValueError):
            raise NodeError(target.name, "pinned host key is not a valid public key") from None
        try:
            # asyncssh's connect_timeout covers TCP, kex and auth; the outer one is a guard.
            async with asyncio.timeout(self._connect_timeout + 1):
                conn = await asyncssh.connect(
                    target.host,
                    target.port,
                    username=target.username,
                    client_keys=[str(self._client_key_path)],
                    known_hosts=([pinned], [], []),
                    config=[],
                    agent_path=None,
                    password=None,
                    preferred_auth="publickey",
                    connect_timeout=self._connect_timeout,
                    keepalive_interval=self._keepalive_interval,
                    keepalive_count_max=KEEPALIVE_COUNT_MAX,
                )
        except (asyncssh.HostKeyNotVerifiable, asyncssh.KeyExchangeFailed) as exc:
            # the caller logs the NodeError (one line per failed node and call)
            offered = await self._offered_key(target)
            if offered is None or same_key(offered, target.host_key):
                raise NodeError(target.name, _connect_reason(exc)) from None
            raise HostKeyChanged(target.name, offered) from None
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise NodeError(target.name, _connect_reason(exc)) from None
        log.info("node %s: connected to %s:%d", target.name, target.host, target.port)
        return conn

    async def _offered_key(self, target: NodeTarget) -> str | None:
        """The host key the node presents now, of the pinned key's type if it has one; None
        when it cannot be read."""
        assert target.host_key is not None
        try:
            first = algorithm(target.host_key)
            return await self.scan_host_key(
                target.host, target.port, name=target.name, prefer=first
            )
        except (NodeError, ValueError):
            return None

    def _forget(self, key: _Key, conn: asyncssh.SSHClientConnection) -> None:
        if self._conns.get(key) is conn:
            del self._conns[key]
        conn.close()

    def _forget_if_closed(self, key: _Key, conn: asyncssh.SSHClientConnection) -> None:
        if conn.is_closed():
            self._forget(key, conn)

    def drop(self, name: str) -> None:
        """Close the connection(s) to the node called name; the next run reconnects."""
        for key in [k for k in self._conns if k[0] == name]:
            self._conns.pop(key).close()

    async def close(self) -> None:
        """Cancel running on_connect hooks and close every connection."""
        hooks = list(self._hooks)
        for task in hooks:
            task.cancel()
        await asyncio.gather(*hooks, return_exceptions=True)
        conns = list(self._conns.values())
        self._conns.clear()
        for conn in conns:
            conn.close()
        for conn in conns:
            await conn.wait_closed()
