"""Xray in the network lab: the xray-core wheel as node server and as client, a real TLS site
as the Reality handshake target, and a plain TLS prober."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.netlab import Lab, _ns, wait_port

SITE_NAME = "www.example.test"
SOCKS_PORT = 1080
_RUN_XRAY = "import sys, xray; xray.startFromJSON(open(sys.argv[1]).read())"

_SITE = """
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.set_alpn_protocols(["h2", "http/1.1"])
ctx.load_cert_chain(sys.argv[3], sys.argv[4])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2]))); srv.listen(64)
def serve(conn):
    try:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1024)
            tls.sendall(b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok")
    except OSError:
        pass
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""

_SOCKS_FETCH = """
import socket, struct, sys
host, port, timeout = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=timeout) as s:
    s.settimeout(timeout)
    s.sendall(b"\\x05\\x01\\x00"); assert s.recv(2) == b"\\x05\\x00"
    s.sendall(b"\\x05\\x01\\x00\\x01" + socket.inet_aton(host) + struct.pack("!H", port))
    reply = s.recv(10); assert reply[:2] == b"\\x05\\x00", reply
    print(s.makefile().readline().strip())
"""

_ECHO = """
import socket, sys, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2]))); srv.listen(64)
def echo(conn):
    with conn:
        while data := conn.recv(4096):
            conn.sendall(data)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=echo, args=(conn,), daemon=True).start()
"""

_STREAM = """
import socket, struct, sys
host, port = sys.argv[2], int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
s.sendall(b"\\x05\\x01\\x00"); assert s.recv(2) == b"\\x05\\x00"
s.sendall(b"\\x05\\x01\\x00\\x01" + socket.inet_aton(host) + struct.pack("!H", port))
reply = s.recv(10); assert reply[:2] == b"\\x05\\x00", reply
s.settimeout(4)
replies = s.makefile("rb")
for line in sys.stdin:
    try:
        s.sendall(line.encode())
        answer = replies.readline().decode().strip()
    except OSError:
        answer = ""
    print(answer or "closed", flush=True)
"""

_TLS_PROBE = """
import hashlib, socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as raw:
    with ctx.wrap_socket(raw, server_hostname=sys.argv[3]) as tls:
        print(hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest())
"""


def _self_signed(directory: Path) -> tuple[Path, Path, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SITE_NAME)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SITE_NAME)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    crt, pem = directory / "site.crt", directory / "site.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return crt, pem, fingerprint


def add_tls_site(lab: Lab, host: int = 40) -> tuple[str, str]:
    """A real TLS 1.3 site on the lab's bridge (the Reality handshake target) serving a
    self-signed certificate for SITE_NAME on port 443; returns (address, SHA-256 of the
    certificate)."""
    ip, ns = lab.ip(host), f"{lab.tag}-s{host}"
    lab.attach(ns, ip)
    crt, key, fingerprint = _self_signed(lab.dir)
    subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-c", _SITE, ip, "443", str(crt), str(key)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_port(ns, ip, 443)
    return ip, fingerprint


class XrayProcess:
    """One xray-core (the PyPI wheel) instance running a config file inside a namespace."""

    def __init__(self, ns: str, config: Path, log: Path) -> None:
        self.ns, self.config, self.log = ns, config, log
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, port: int, host: str = "127.0.0.1") -> None:
        """Start it and wait until `port` answers; a node's Xray a moment more: a fresh Reality
        listener first probes its handshake target (a client's SOCKS inbound does not)."""
        self.stop()
        with self.log.open("ab") as out:
            self._proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, sys.executable, "-c", _RUN_XRAY, str(self.config)],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_port(self.ns, host, port)
        except RuntimeError:
            raise RuntimeError(f"xray did not start (exit {self._proc.poll()})") from None
        if self.serves_reality():
            time.sleep(1.5)

    def serves_reality(self) -> bool:
        """Whether the config has a Reality inbound (a node's), not only a client's SOCKS."""
        inbounds = json.loads(self.config.read_text()).get("inbounds", [])
        return any(
            inbound.get("streamSettings", {}).get("security") == "reality" for inbound in inbounds
        )

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None


def client_config(link: str, socks_port: int = SOCKS_PORT, source: str = "") -> str:
    """An Xray client config built only from a vless:// link: a SOCKS inbound on loopback and
    the VLESS + Reality outbound the link describes (sent from the address `source` if given)."""
    parts = urlsplit(link)
    assert parts.scheme == "vless", link
    query = {key: values[0] for key, values in parse_qs(parts.query, strict_parsing=True).items()}
    assert query["security"] == "reality" and query["encryption"] == "none", query
    outbound = {
        "tag": "proxy",
        "protocol": "vless",
        "settings": {
            "address": parts.hostname,
            "port": parts.port,
            "id": unquote(parts.username or ""),
            "encryption": "none",
            "flow": query["flow"],
        },
        "streamSettings": {
            "network": "raw" if query.get("type", "tcp") == "tcp" else query["type"],
            "security": "reality",
            "realitySettings": {
                "serverName": query["sni"],
                "fingerprint": query.get("fp", "chrome"),
                "password": query["pbk"],
                "shortId": query.get("sid", ""),
                "spiderX": query.get("spx", ""),
            },
        },
    }
    if source:
        outbound["sendThrough"] = source
    inbound = {
        "tag": "socks",
        "listen": "127.0.0.1",
        "port": socks_port,
        "protocol": "socks",
        "settings": {"udp": False},
    }
    return json.dumps(
        {"log": {"loglevel": "warning"}, "inbounds": [inbound], "outbounds": [outbound]}
    )


def socks_fetch(lab: Lab, host: str, port: int, *, timeout: float = 8) -> str | None:
    """Through the client's SOCKS proxy, the first line `host:port` sends (the lab's target
    sends the source address it sees); None when the connection gets nothing."""
    try:
        proc = _ns(
            lab.client.ns, sys.executable, "-c", _SOCKS_FETCH, str(SOCKS_PORT), host, str(port),
            str(timeout), check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def tls_probe(lab: Lab, host: str, port: int, server_name: str) -> str:
    """SHA-256 of the certificate a plain TLS client sees at host:port (SNI server_name)."""
    proc = _ns(lab.client.ns, sys.executable, "-c", _TLS_PROBE, host, str(port), server_name)
    return proc.stdout.strip()


def start_echo(lab: Lab, port: int) -> subprocess.Popen[bytes]:
    """An echo server on the lab's target host at `port` (stop it with terminate())."""
    ns = f"{lab.tag}-tg"
    server = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-c", _ECHO, lab.target_ip, str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_port(ns, lab.target_ip, port)
    return server


class OpenStream:
    """One connection held open through a client's SOCKS proxy to an echo server: each
    `echoes()` sends a line on it and tells whether the same line came back."""

    def __init__(self, lab: Lab, socks_port: int, host: str, port: int) -> None:
        self._proc = subprocess.Popen(
            ["ip", "netns", "exec", lab.client.ns, sys.executable, "-c", _STREAM,
             str(socks_port), host, str(port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self._sent = 0

    def echoes(self) -> bool:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._sent += 1
        line = f"line {self._sent}"
        try:
            self._proc.stdin.write(line + "\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            return False
        return self._proc.stdout.readline().strip() == line

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait()


def add_client_address(lab: Lab, host: int) -> str:
    """A second address on the client (another user's device, behind another NAT)."""
    address = lab.ip(host)
    _ns(lab.client.ns, "ip", "addr", "add", f"{address}/32", "dev", "eth0")
    return address
