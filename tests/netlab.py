"""Real nodes for tests: sshd and WireGuard in network namespaces on a private bridge."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import NoReturn

import pytest

log = logging.getLogger(__name__)

PREFIX = "vpnl"  # every namespace/link this module creates starts with it (or with "vl"/"wl")
WG_ENV = {"WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD": "1"}
TARGET_PORT = 8081
LAB_USER = "vpnlab"  # a non-root login on bare nodes (no sudo installed)
LAB_USER_UID = 4242
NETNS_ETC = Path("/etc/netns")
# a node's own /etc entries (`ip netns exec` mounts them over the host's): WireGuard's configs,
# node-setup.sh's sysctl file, the grace firewall's kept file
NODE_ETC = ("wireguard", "sysctl.d", "vpnservice")
WG_RUN = Path("/var/run/wireguard")
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
TOOLS = ("ip", "wg", "wg-quick", "wireguard-go", "ssh-keygen", "iptables", "resolvconf", "zbarimg")

_TARGET_SERVER = """
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2]))); srv.listen(64)
while True:
    conn, peer = srv.accept()
    with conn:
        conn.sendall(peer[0].encode() + b"\\n")
"""

_FETCH = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])) as s:
    s.settimeout(float(sys.argv[3]))
    print(s.makefile().readline().strip())
"""


def require_root_lab() -> None:
    """Skip (or fail when CI is set) unless root, namespaces and the lab's tools are here."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not Path(SSHD).exists():
        missing.append("sshd")
    problems = []
    if os.geteuid() != 0:
        problems.append("needs root")
    if missing:
        problems.append("missing tools: " + ", ".join(missing))
    if not Path("/dev/net/tun").exists():
        problems.append("no /dev/net/tun")
    if problems:
        unavailable("network lab unavailable: " + "; ".join(problems))


def unavailable(reason: str) -> NoReturn:
    """Skip a test whose tools or rights are missing here; fail instead when CI is set, since
    CI installs everything the tests need and runs as root."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _run(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def _ns(
    ns: str, *argv: str, check: bool = True, env: bool = False
) -> subprocess.CompletedProcess[str]:
    prefix = ["env", *(f"{k}={v}" for k, v in WG_ENV.items())] if env else []
    return _run("ip", "netns", "exec", ns, *prefix, *argv, check=check)


def _outer(ns: str) -> str:
    """The root-namespace end of ns's veth."""
    return f"vl{ns.removeprefix(PREFIX).replace('-', '')}"[:15]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_netns(ns: str) -> None:
    pids = _run("ip", "netns", "pids", ns, check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    _run("ip", "link", "del", _outer(ns), check=False)  # synchronous, unlike the netns's end
    _run("ip", "netns", "del", ns, check=False)
    shutil.rmtree(NETNS_ETC / ns, ignore_errors=True)


def wait_port(ns: str, host: str, port: int, timeout: float = 10) -> None:
    script = (
        "import socket,sys,time\n"
        "end = time.monotonic() + float(sys.argv[3])\n"
        "while True:\n"
        "    try:\n"
        "        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()\n"
        "        break\n"
        "    except OSError:\n"
        "        if time.monotonic() > end: sys.exit(1)\n"
        "        time.sleep(0.05)\n"
    )
    _ns(ns, sys.executable, "-c", script, host, str(port), str(timeout))


def clean_stale() -> None:
    """Remove namespaces, bridges and sockets left by labs whose process is gone."""
    for line in _run("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(rf"{PREFIX}(\d+)-\w+", name)
        if m and not _pid_alive(int(m.group(1))):
            _kill_netns(name)
    for line in _run("ip", "-o", "link", "show", "type", "bridge", check=False).stdout.splitlines():
        m = re.search(r"^\d+: (vlb(\d+)):", line)
        if m and not _pid_alive(int(m.group(2))):
            _run("ip", "link", "del", m.group(1), check=False)
    for tmp in Path(tempfile.gettempdir()).glob(f"{PREFIX}*-*"):
        m = re.fullmatch(rf"{PREFIX}(\d+)-\w+", tmp.name)
        if m and tmp.is_dir() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(tmp, ignore_errors=True)
    for sock in WG_RUN.glob("w[lc]*-*.sock") if WG_RUN.exists() else []:
        m = re.fullmatch(r"w[lc](\d+)-\d+\.sock", sock.name)
        if m and not _pid_alive(int(m.group(1))):
            sock.unlink(missing_ok=True)


def _free_subnet() -> int:
    used = _run("ip", "-4", "-o", "addr", "show", check=False).stdout
    start = os.getpid() % 200
    for i in range(250):
        third = (start + i) % 250 + 1
        if f" 10.213.{third}." not in used:
            return third
    raise RuntimeError("no free 10.213.X.0/24 subnet for the lab")


def _genkey() -> tuple[str, str]:
    private = _run("wg", "genkey").stdout.strip()
    public = subprocess.run(
        ["wg", "pubkey"], input=private, capture_output=True, text=True, check=True
    ).stdout.strip()
    return private, public


class LabNode:
    """One node: a namespace with sshd and a WireGuard interface brought up by wg-quick."""

    def __init__(self, lab: Lab, name: str, index: int, ip: str) -> None:
        self.lab = lab
        self.name = name
        self.ns = f"{lab.tag}-n{index}"
        self.ip = ip
        self.ssh_port = 22
        self.interface = f"wl{os.getpid()}-{index}"
        self.public_key = ""
        self.host_key = ""
        self.listen_port = 0
        self.endpoint = ""
        self.dir = lab.dir / self.ns
        # Where bootstrap uploads node-setup.sh: per node, since /usr/local/sbin is the host's.
        self.script_path = str(self.dir / "vpnservice-node-setup")
        # a command sshd is started through (e.g. into a mount namespace of its own), if any
        self.sshd_prefix: tuple[str, ...] = ()
        self._sshd: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        """The node's wg-quick config as seen from the root namespace."""
        return NETNS_ETC / self.ns / "wireguard" / f"{self.interface}.conf"

    @property
    def sysctl_path(self) -> Path:
        """The sysctl file node-setup.sh writes, as seen from the root namespace."""
        return NETNS_ETC / self.ns / "sysctl.d" / "90-vpnservice.conf"

    def exec(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run a command inside the node's namespace (not checked)."""
        return _ns(self.ns, *argv, check=False)

    def wg_quick(self, action: str) -> subprocess.CompletedProcess[str]:
        """`wg-quick up|down IFACE` on the node, with the userspace fallback allowed."""
        return _ns(self.ns, "wg-quick", action, self.interface, env=True)

    def nat_rules(self) -> list[str]:
        """Every MASQUERADE rule in the namespace (nftables and iptables)."""
        nft = _ns(self.ns, "nft", "list", "ruleset", check=False).stdout.splitlines()
        ipt = _ns(self.ns, "iptables-save", "-t", "nat", check=False).stdout.splitlines()
        return [line.strip() for line in nft + ipt if "masquerade" in line.lower()]

    def sysctl(self, name: str) -> str:
        """A sysctl value inside the node's namespace."""
        return _ns(self.ns, "sysctl", "-n", name).stdout.strip()

    def wipe(self) -> None:
        """Rebuild the machine: WireGuard, its config, NAT, sysctl file gone; new SSH host key."""
        for pid in _run("ip", "netns", "pids", self.ns, check=False).stdout.split():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().strip() == "wireguard-go":
                    os.kill(int(pid), signal.SIGKILL)
        for _ in range(100):
            if _ns(self.ns, "ip", "link", "show", "dev", self.interface, check=False).returncode:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"{self.interface} still exists after killing wireguard-go")
        (WG_RUN / f"{self.interface}.sock").unlink(missing_ok=True)
        for sub in NODE_ETC:
            for path in (NETNS_ETC / self.ns / sub).iterdir():
                path.unlink()
        _ns(self.ns, "nft", "flush", "ruleset", check=False)
        _ns(self.ns, "iptables", "-t", "nat", "-F", check=False)
        _ns(self.ns, "ip6tables", "-t", "nat", "-F", check=False)
        _ns(self.ns, "sysctl", "-qw", "net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0")
        Path(self.script_path).unlink(missing_ok=True)
        self.new_host_key()
        self.public_key = ""
        self.listen_port = 0

    def new_host_key(self) -> str:
        """Give sshd a new host key (as a reinstall, or an impostor, would) and restart it;
        returns the new key's OpenSSH line."""
        self.stop_sshd()
        for name in ("host_ed25519", "host_ed25519.pub"):
            (self.dir / name).unlink(missing_ok=True)
        self._host_key()
        self.start_sshd()
        return self.host_key

    def host_key_fingerprint(self) -> str:
        """`SHA256:… (ED25519)` of the node's host key, from `ssh-keygen -lf`."""
        words = _run("ssh-keygen", "-lf", str(self.dir / "host_ed25519.pub")).stdout.split()
        return f"{words[1]} {words[-1]}"

    def wg_dump(self) -> str:
        """`wg show IFACE dump` on the node."""
        return _ns(self.ns, "wg", "show", self.interface, "dump").stdout

    def start_sshd(self) -> None:
        """Start sshd on the node's bridge address and wait until it accepts connections."""
        if self._sshd is not None and self._sshd.poll() is None:
            return
        log_file = (self.dir / "sshd.log").open("ab")
        config = str(self.dir / "sshd_config")
        self._sshd = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, *self.sshd_prefix, SSHD, "-D", "-e", "-f", config],
            stdout=log_file,
            stderr=log_file,
        )
        log_file.close()
        wait_port(self.ns, self.ip, self.ssh_port)

    def use_plain_root_home(self, home: Path) -> None:
        """Give the node's root an empty home, as on a fresh server, and restart its sshd.

        sshd runs every command through root's login shell, which sources ~/.bashrc; this
        machine's /root/.bashrc runs `pyenv init` (~80 ms per SSH command, and a minute's wait
        when a session killed by a lab's teardown left pyenv's rehash lock behind), which a
        real node does not. `ip netns exec` mounts /etc/netns/NS/passwd over /etc/passwd.
        Every node gets one from the start; this gives another."""
        self._plain_root_home(home)
        self.stop_sshd()
        self.start_sshd()

    def _plain_root_home(self, home: Path) -> None:
        """Root's home in the node's own /etc/passwd (the host's until it has one)."""
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        own = NETNS_ETC / self.ns / "passwd"
        lines = []
        for line in (own if own.exists() else Path("/etc/passwd")).read_text().splitlines():
            fields = line.split(":")
            if fields[0] == "root" and len(fields) == 7:
                fields[5] = str(home)
            lines.append(":".join(fields))
        own.write_text("\n".join(lines) + "\n")
        own.chmod(0o644)

    def stop_sshd(self) -> None:
        """Kill sshd and every SSH session it serves, as if the node's sshd died."""
        if self._sshd is not None:
            self._sshd.kill()
            self._sshd.wait()
            self._sshd = None
        for pid in _run("ip", "netns", "pids", self.ns, check=False).stdout.split():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().startswith("sshd"):
                    os.kill(int(pid), signal.SIGKILL)

    def _setup(
        self, wg_subnet: str, wg_subnet6: str | None, listen_port: int, authorized_key: str
    ) -> None:
        self.dir.mkdir()
        for sub in NODE_ETC:
            (NETNS_ETC / self.ns / sub).mkdir(parents=True)
        self.lab.attach(self.ns, self.ip)
        _ns(self.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        net = ipaddress.ip_interface(wg_subnet).network
        _ns(self.ns, "iptables", "-t", "nat", "-A", "POSTROUTING", "-s", str(net), "-o", "eth0",
            "-j", "MASQUERADE")  # fmt: skip
        addresses = [wg_subnet]
        if wg_subnet6:
            _ns(self.ns, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
            addresses.append(wg_subnet6)
        private, self.public_key = _genkey()
        self.listen_port = listen_port
        self.endpoint = f"{self.ip}:{listen_port}"
        self.config_path.write_text(
            "[Interface]\n"
            f"Address = {', '.join(addresses)}\n"
            f"ListenPort = {listen_port}\n"
            f"PrivateKey = {private}\n"
        )
        self.config_path.chmod(0o600)
        _ns(self.ns, "wg-quick", "up", self.interface, env=True)
        self._plain_root_home(self.dir / "root-home")  # before sshd: its sessions see it
        self._ssh_service(authorized_key)

    def _setup_bare(self, authorized_key: str) -> None:
        self.dir.mkdir()
        # `ip netns exec` bind-mounts only the /etc/netns/NS entries that exist when it runs:
        # create them before sshd starts, so its sessions write the node's own files.
        for sub in NODE_ETC:
            (NETNS_ETC / self.ns / sub).mkdir(parents=True)
        # a non-root login without sudo, seen only inside this node (its own /etc/passwd)
        passwd = Path("/etc/passwd").read_text().rstrip("\n") + "\n"
        passwd += f"{LAB_USER}:x:{LAB_USER_UID}:65534:lab user:/tmp:/bin/sh\n"
        (NETNS_ETC / self.ns / "passwd").write_text(passwd)
        self._plain_root_home(self.dir / "root-home")  # as a fresh server's: see above
        self.lab.attach(self.ns, self.ip)
        _ns(self.ns, "ip", "route", "add", "default", "via", self.lab.ip(1))
        _ns(self.ns, "sysctl", "-qw", "net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0")
        self._ssh_service(authorized_key)

    def _host_key(self) -> None:
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f",
             str(self.dir / "host_ed25519"))  # fmt: skip
        self.host_key = " ".join((self.dir / "host_ed25519.pub").read_text().split()[:2])

    def _ssh_service(self, authorized_key: str) -> None:
        # sshd: own host key, key-only login, sessions see the namespace's /etc/wireguard;
        # SetEnv lets wg-quick started over SSH fall back to wireguard-go (no kernel module).
        self._host_key()
        (self.dir / "authorized_keys").write_text(authorized_key.strip() + "\n")
        (self.dir / "sshd_config").write_text(
            f"ListenAddress {self.ip}\nPort {self.ssh_port}\n"
            f"HostKey {self.dir / 'host_ed25519'}\n"
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}\n"
            f"PidFile {self.dir / 'sshd.pid'}\n"
            "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nStrictModes no\nMaxSessions 10\nMaxStartups 100:30:200\n"
            "SetEnv " + " ".join(f"{k}={v}" for k, v in WG_ENV.items()) + "\n"
            "LogLevel ERROR\n"
        )
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        self.start_sshd()


class LabClient:
    """The user's device: a namespace where a client .conf is brought up with wg-quick."""

    def __init__(self, lab: Lab, ip: str) -> None:
        self.lab = lab
        self.ns = f"{lab.tag}-cl"
        self.ip = ip
        self.interface = ""
        self._count = 0
        self._conf: Path | None = None

    def up(self, conf_text: str) -> None:
        """Bring conf_text up with wg-quick in the client namespace (one at a time)."""
        self.down()
        self._count += 1
        self.interface = f"wc{os.getpid()}-{self._count}"
        self._conf = self.lab.dir / f"{self.interface}.conf"
        self._conf.write_text(conf_text)
        self._conf.chmod(0o600)
        _ns(self.ns, "wg-quick", "up", str(self._conf), env=True)

    def down(self) -> None:
        """Take the client's interface down if one is up."""
        if self._conf is not None:
            _ns(self.ns, "wg-quick", "down", str(self._conf), check=False)
            self._conf = None

    def fetch_source_ip(self, timeout: float = 5, host: str | None = None) -> str | None:
        """Ask the target host (or another, see Lab.add_host) which source address it sees;
        None if unreachable."""
        try:
            proc = _run(
                "ip", "netns", "exec", self.ns, sys.executable, "-c", _FETCH,
                host or self.lab.target_ip, str(self.lab.target_port), str(timeout),
                check=False, timeout=timeout + 5,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return None
        return (proc.stdout.strip() or None) if proc.returncode == 0 else None

    def latest_handshake(self) -> int:
        """Unix time of the last handshake with the (first) peer, 0 if none."""
        out = _ns(self.ns, "wg", "show", self.interface, "latest-handshakes").stdout.split()
        return int(out[1]) if len(out) >= 2 else 0

    def exec(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run a command inside the client's namespace (not checked)."""
        return _ns(self.ns, *argv, check=False)


LAB_LOCK = Path(tempfile.gettempdir()) / "vpnservice-lab.lock"


@contextlib.contextmanager
def _host_lock() -> Iterator[None]:
    """Labs of different processes (pytest-xdist workers, two checkouts testing at once) run
    side by side: every name a lab creates carries its pid (namespaces, links, the bridge,
    /var/run/wireguard sockets, /etc/netns entries, its temporary directory) and a node's users
    and homes are its own (`ip netns exec` mounts /etc/netns/NS/passwd). What they do share is
    the choice of a free bridge subnet and the sweep of labs whose process is gone: one process
    at a time does those, under this lock."""
    fd = os.open(LAB_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock


class Lab:
    """A private 'internet' bridge with a target host, a client and nodes added on demand."""

    def __init__(self) -> None:
        self.tag = f"{PREFIX}{os.getpid()}"
        self.bridge = f"vlb{os.getpid()}"
        self.nodes: list[LabNode] = []
        self.namespaces: list[str] = []
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.tag}-"))
        self.subnet = 0
        self.target_ip = ""
        self.target_port = TARGET_PORT
        self.client: LabClient

    def ip(self, host: int) -> str:
        """An address on the lab's bridge subnet."""
        return f"10.213.{self.subnet}.{host}"

    def __enter__(self) -> Lab:
        require_root_lab()
        try:
            with _host_lock():
                clean_stale()
                self.close()  # a lab of a previous run of this same pid
                self._setup()  # its bridge holds the subnet from here on
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _setup(self) -> None:
        self.dir.mkdir(exist_ok=True)
        self.subnet = _free_subnet()
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{self.ip(1)}/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        self.target_ip = self.ip(2)
        self.attach(f"{self.tag}-tg", self.target_ip)
        server = subprocess.Popen(
            ["ip", "netns", "exec", f"{self.tag}-tg", sys.executable, "-c", _TARGET_SERVER,
             self.target_ip, str(self.target_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._server = server
        wait_port(f"{self.tag}-tg", self.target_ip, self.target_port)
        self.client = LabClient(self, self.ip(3))
        # The client reaches only the nodes' endpoints directly (host routes added per node):
        # a route to the bridge subnet would beat wg-quick's 0.0.0.0/0 and bypass the tunnel.
        self.attach(self.client.ns, self.client.ip, prefix=32)
        (NETNS_ETC / self.client.ns).mkdir(parents=True, exist_ok=True)
        # wg-quick's DNS= runs resolvconf: without this file it would rewrite the host's.
        (NETNS_ETC / self.client.ns / "resolv.conf").write_text("")

    def attach(self, ns: str, ip: str, *, prefix: int = 24) -> None:
        """Create namespace ns with eth0 = ip/prefix on the bridge and lo up."""
        _run("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        outer = _outer(ns)
        # A namespace's devices die asynchronously after `ip netns del`: a lab closed a moment
        # ago in this same process (same names) may still hold this one.
        _run("ip", "link", "del", outer, check=False)
        _run("ip", "link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _run("ip", "link", "set", outer, "master", self.bridge, "up")
        _ns(ns, "ip", "link", "set", "lo", "up")
        # wireguard-go's tun would get an IPv6 link-local that `wg-quick save` then writes
        # into the config as an Address; kernel WireGuard links get none, so do the same.
        _ns(ns, "sysctl", "-qw", "net.ipv6.conf.default.addr_gen_mode=1", check=False)
        _ns(ns, "ip", "addr", "add", f"{ip}/{prefix}", "dev", "eth0")
        _ns(ns, "ip", "link", "set", "eth0", "up")

    def add_host(self, host: int) -> str:
        """Another host on the bridge, behind no node, that answers on target_port with the
        source address it sees, like the target; returns its address."""
        ip, ns = self.ip(host), f"{self.tag}-h{host}"
        self.attach(ns, ip)
        subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", _TARGET_SERVER, ip,
             str(self.target_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_port(ns, ip, self.target_port)
        return ip

    def add_node(
        self,
        name: str,
        *,
        wg_subnet: str = "10.8.0.1/24",
        wg_subnet6: str | None = None,
        listen_port: int = 51820,
        authorized_key: str,
    ) -> LabNode:
        """A new node namespace with sshd, forwarding, NAT and a WireGuard interface up."""
        index = len(self.nodes) + 1
        node = LabNode(self, name, index, self.ip(10 + index))
        self.nodes.append(node)
        node._setup(wg_subnet, wg_subnet6, listen_port, authorized_key)
        _ns(self.client.ns, "ip", "route", "add", f"{node.ip}/32", "dev", "eth0")
        return node

    def add_bare_node(self, name: str, *, authorized_key: str) -> LabNode:
        """A fresh machine: sshd (root and LAB_USER, no sudo), default route, no WireGuard,
        forwarding off; bootstrap it with script_path=node.script_path."""
        index = len(self.nodes) + 1
        node = LabNode(self, name, index, self.ip(10 + index))
        self.nodes.append(node)
        node._setup_bare(authorized_key)
        _ns(self.client.ns, "ip", "route", "add", f"{node.ip}/32", "dev", "eth0")
        return node

    def close(self) -> None:
        """Tear everything down; safe to call more than once and after a failed setup."""
        with contextlib.suppress(Exception):
            self.client.down()
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop_sshd()
        names = _run("ip", "netns", "list", check=False).stdout.split()
        for ns in [n for n in names if n.startswith(f"{self.tag}-")]:
            _kill_netns(ns)
        _run("ip", "link", "del", self.bridge, check=False)
        if WG_RUN.exists():
            for sock in WG_RUN.glob(f"w[lc]{os.getpid()}-*.sock"):
                sock.unlink(missing_ok=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.namespaces.clear()
        self.nodes.clear()


def decode_qr(png_bytes: bytes) -> str:
    """The text in a QR code image, exactly as encoded (QR codes only: zbar's linear decoders
    can read a run of the QR's modules as a short barcode and print it after the text)."""
    with tempfile.NamedTemporaryFile(suffix=".png") as tmp:
        tmp.write(png_bytes)
        tmp.flush()
        proc = _run("zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", tmp.name)
    return proc.stdout.removesuffix("\n")
