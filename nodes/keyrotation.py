"""The bot's SSH key on the nodes: add a key to the login user's authorized_keys, check that it
logs in, remove a key; and the key files a rotation keeps next to the bot's key."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from nodes import output
from nodes.errors import NodeError
from nodes.output import OutputError
from nodes.ssh import SshPool
from nodes.target import NodeTarget

KEY_COMMENT = "vpnservice"
PATH_MAX = 4096

# Both scripts run as the login user, never through sudo, so "$HOME" is that user's home
# (/root, or /home/deploy for a sudo user). The key line comes on stdin; a line is the bot's
# when one of its fields is the key's base64 blob, so the operator's own keys are never touched.
_HAS = "awk -v b=\"$blob\" '{for (i = 1; i <= NF; i++) if ($i == b) f = 1} END {exit !f}'"
_PREAMBLE = f"""set -eu
umask 077
IFS= read -r line
blob=$(printf '%s\\n' "$line" | awk '{{print $2}}')
[ -n "$blob" ] || {{ echo "no key on stdin" >&2; exit 2; }}
file="$HOME/.ssh/authorized_keys"
has() {{ {_HAS} "$file"; }}
"""
ADD_SCRIPT = (
    _PREAMBLE
    + """mkdir -p "$HOME/.ssh"
[ -e "$file" ] || : > "$file"
if has; then echo "present $file"; exit 0; fi
if [ -s "$file" ] && [ -n "$(tail -c 1 "$file")" ]; then echo >> "$file"; fi
printf '%s\\n' "$line" >> "$file"
has
echo "added $file"
"""
)
REMOVE_SCRIPT = (
    _PREAMBLE
    + """if [ ! -e "$file" ] || ! has; then echo "absent $file"; exit 0; fi
tmp=$(mktemp "$file.XXXXXX")
awk -v b="$blob" '{k = 1; for (i = 1; i <= NF; i++) if ($i == b) k = 0} k' "$file" > "$tmp"
mv -f "$tmp" "$file"
echo "removed $file"
"""
)


@dataclass(frozen=True, slots=True)
class KeyChange:
    """What a script did on one node: changed (added/removed) or not, in which file."""

    changed: bool
    file: str


def parse_key_change(text: str, changed_word: str) -> KeyChange:
    """The script's one line, `WORD /path/to/authorized_keys`; OutputError for anything else."""
    lines = output.bounded_lines(text, most=1, width=PATH_MAX + 16, what="authorized_keys script")
    word, _, file = lines[0].partition(" ") if lines else ("", "", "")
    if word not in (changed_word, "present", "absent"):
        raise OutputError("unexpected answer from the authorized_keys script")
    if not file.startswith("/") or "\t" in file:
        raise OutputError("the authorized_keys script named no file")
    return KeyChange(word == changed_word, file)


def _outcome(target: NodeTarget, text: str, changed_word: str) -> KeyChange:
    try:
        return parse_key_change(text, changed_word)
    except ValueError as error:
        raise NodeError(target.name, str(error)) from None


async def add_key(pool: SshPool, target: NodeTarget, public_line: str) -> KeyChange:
    """Append public_line to the login user's ~/.ssh/authorized_keys unless the key is there."""
    command = f"sh -c {shlex.quote(ADD_SCRIPT)}"
    return _outcome(target, await pool.run(target, command, stdin=public_line + "\n"), "added")


async def remove_key(pool: SshPool, target: NodeTarget, public_line: str) -> KeyChange:
    """Remove every line holding public_line's key from the login user's authorized_keys."""
    command = f"sh -c {shlex.quote(REMOVE_SCRIPT)}"
    return _outcome(target, await pool.run(target, command, stdin=public_line + "\n"), "removed")


async def check_login(
    key_path: Path, target: NodeTarget, *, connect_timeout: float, command_timeout: float
) -> None:
    """Log in afresh with only the key at key_path (host key pinned) and run `true`;
    NodeError when the node refuses the key or cannot be reached."""
    pool = SshPool(key_path, connect_timeout=connect_timeout, command_timeout=command_timeout)
    try:
        await pool.run(target, "true")
    finally:
        await pool.close()


@dataclass(frozen=True, slots=True)
class KeyFiles:
    """The bot's key and the two files a rotation keeps next to it: the key being introduced
    (`.new`, until every node accepts it) and the key being retired (`.old`, until every node
    has forgotten it)."""

    current: Path

    @property
    def new(self) -> Path:
        return self.current.with_name(self.current.name + ".new")

    @property
    def old(self) -> Path:
        return self.current.with_name(self.current.name + ".old")

    def create_new(self) -> str:
        """Write a fresh ed25519 key to `.new` (0600); its public line."""
        key = asyncssh.generate_private_key("ssh-ed25519", comment=KEY_COMMENT)
        _write_private(self.new, key.export_private_key("openssh"))
        return public_line(key)

    def swap(self) -> None:
        """Keep the current key as `.old`, then put `.new` in its place. Each step is a rename,
        so the bot's key file always holds a whole key that the nodes accept."""
        _write_private(self.old, self.current.read_bytes())
        os.replace(self.new, self.current)


def public_line(key: asyncssh.SSHKey) -> str:
    """The key's OpenSSH public line: `ssh-ed25519 BASE64 vpnservice`."""
    return key.export_public_key("openssh").decode("ascii").strip()


def read_public_line(path: Path) -> str:
    """The public line of the private key in path."""
    return public_line(asyncssh.read_private_key(path))


def _write_private(path: Path, data: bytes) -> None:
    """Write data to path with mode 0600 via a temporary file and a rename."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
