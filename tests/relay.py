"""Loopback TCP middlemen for the tests: a relay they cut and restore (the bot reaches Telegram
or the database through it, so taking it down is an outage and bringing it up on the same port
is the way back), and tiny HTTP CONNECT and SOCKS5 proxies."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import socket
import struct


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Relay:
    """127.0.0.1:`port` → `target_host`:`target_port` while up; while down nothing listens
    there (connection refused) and every open connection is cut."""

    def __init__(self, target_host: str, target_port: int, port: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def up(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._relay, "127.0.0.1", self.port, reuse_address=True
        )

    async def stop(self) -> None:
        """Stop listening and cut every connection, as a pulled cable would."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._open):
            transport = writer.transport
            with contextlib.suppress(OSError):
                sock = transport.get_extra_info("socket")
                if sock is not None:  # RST instead of a polite FIN
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        self._open.clear()
        if server is not None:
            await server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, upstream_writer}
        try:
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        finally:
            self._open -= {writer, upstream_writer}
            for end in (writer, upstream_writer):
                end.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ConnectionError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        writer.write_eof()


class ConnectProxy:
    """An HTTP proxy that knows CONNECT (what the bot's proxy connector sends, whatever the
    URL), with an optional user and password. `hosts` maps names to addresses, so a name that
    does not resolve on this machine still reaches its target through the proxy; `seen` lists
    every HOST:PORT asked for."""

    def __init__(
        self, hosts: dict[str, str], user: str | None = None, password: str | None = None
    ) -> None:
        self.hosts = hosts
        self.credentials = (user, password or "") if user is not None else None
        self.seen: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, target, _ = head[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
            given = {k.lower(): v for k, v in headers.items()}.get("proxy-authorization")
            if self.credentials is not None:
                token = base64.b64encode(":".join(self.credentials).encode()).decode()
                if given != f"Basic {token}":
                    writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                    return
            if method != "CONNECT":
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                return
            host, port = target.rsplit(":", 1)
            self.seen.append(target)
            upstream = await asyncio.open_connection(self.hosts.get(host, host), int(port))
        except (OSError, ValueError, asyncio.IncompleteReadError):
            writer.transport.abort()
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await _join(reader, writer, *upstream)


class Socks5Proxy:
    """A SOCKS5 proxy (RFC 1928, CONNECT) with an optional user and password (RFC 1929);
    `hosts` and `seen` as ConnectProxy's."""

    def __init__(
        self, hosts: dict[str, str], user: str | None = None, password: str | None = None
    ) -> None:
        self.hosts = hosts
        self.credentials = (user, password) if user is not None else None
        self.seen: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            version, count = await reader.readexactly(2)
            methods = await reader.readexactly(count)
            wanted = 2 if self.credentials is not None else 0
            if version != 5 or wanted not in methods:
                writer.write(b"\x05\xff")
                return
            writer.write(bytes([5, wanted]))
            if self.credentials is not None:
                _, length = await reader.readexactly(2)
                user = (await reader.readexactly(length)).decode()
                (length,) = await reader.readexactly(1)
                password = (await reader.readexactly(length)).decode()
                if (user, password) != self.credentials:
                    writer.write(b"\x01\x01")
                    return
                writer.write(b"\x01\x00")
            _, command, _, kind = await reader.readexactly(4)
            if kind == 1:
                host = socket.inet_ntop(socket.AF_INET, await reader.readexactly(4))
            elif kind == 4:
                host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
            else:
                (length,) = await reader.readexactly(1)
                host = (await reader.readexactly(length)).decode()
            (port,) = struct.unpack("!H", await reader.readexactly(2))
            if command != 1:
                writer.write(b"\x05\x07\x00\x01\0\0\0\0\0\0")
                return
            self.seen.append(f"{host}:{port}")
            upstream = await asyncio.open_connection(self.hosts.get(host, host), port)
        except (OSError, ValueError, asyncio.IncompleteReadError):
            writer.transport.abort()
            return
        writer.write(b"\x05\x00\x00\x01\0\0\0\0\0\0")
        await _join(reader, writer, *upstream)


async def _join(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    upstream_reader: asyncio.StreamReader,
    upstream_writer: asyncio.StreamWriter,
) -> None:
    try:
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
    finally:
        writer.transport.abort()
        upstream_writer.transport.abort()
