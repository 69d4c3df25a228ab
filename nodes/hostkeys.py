"""SSH public keys as people compare them: SHA256 fingerprints, as `ssh-keygen -lf` prints them."""

from __future__ import annotations

import asyncssh

KEY_TYPES = {
    "ssh-ed25519": "ED25519",
    "ssh-ed448": "ED448",
    "ssh-rsa": "RSA",
    "ssh-dss": "DSA",
}
FINGERPRINT_PREFIX = "SHA256:"


def _key(line: str) -> asyncssh.SSHKey:
    try:
        return asyncssh.import_public_key(line.strip())
    except (asyncssh.KeyImportError, ValueError, TypeError):
        raise ValueError("not an OpenSSH public key") from None


def fingerprint(line: str) -> str:
    """SHA256:… of an OpenSSH public key line; ValueError for anything else."""
    return str(_key(line).get_fingerprint("sha256"))


def describe(line: str) -> str:
    """`SHA256:… (ED25519)`: the fingerprint and type, as `ssh-keygen -lf` shows them (for a
    message: an unreadable key is said to be one, never raised)."""
    try:
        key = _key(line)
    except ValueError:
        return "(not a public key)"
    name = key.get_algorithm()
    kind = KEY_TYPES.get(name, "ECDSA" if name.startswith("ecdsa-") else name)
    return f"{key.get_fingerprint('sha256')} ({kind})"


def token(line: str) -> str:
    """The SHA256 fingerprint without its prefix (43 characters): what a button carries."""
    return fingerprint(line).removeprefix(FINGERPRINT_PREFIX)


def shown(given: str) -> str:
    """A key or fingerprint an operator gave, as a fingerprint for a message."""
    given = given.strip()
    return given if given.startswith(FINGERPRINT_PREFIX) else describe(given)


def canonical(line: str) -> str:
    """`TYPE BASE64` without a comment: how a pinned key is stored."""
    key = _key(line)
    key.set_comment(None)
    return key.export_public_key("openssh").decode("ascii").strip()


def algorithm(line: str) -> str:
    """The host key algorithm to ask a server for to get this key back: ssh-ed25519,
    ecdsa-sha2-nistp256, …, and rsa-sha2-256 for an RSA key (sshd no longer signs with SHA-1)."""
    name = _key(line).get_algorithm()
    return "rsa-sha2-256" if name == "ssh-rsa" else name


def same_key(line: str, given: str) -> bool:
    """Whether `given` (a public key line, or a SHA256 fingerprint) names the key in `line`."""
    given = given.strip()
    if given.startswith(FINGERPRINT_PREFIX):
        return fingerprint(line) == given
    try:
        return canonical(given) == canonical(line)
    except ValueError:
        return False


def check_given(given: str) -> str:
    """A key or fingerprint an operator typed, stripped; ValueError unless it is one."""
    given = given.strip()
    if given.startswith(FINGERPRINT_PREFIX):
        body = given.removeprefix(FINGERPRINT_PREFIX)
        if len(body) == 43 and body.replace("+", "").replace("/", "").isalnum() and body.isascii():
            return given
        raise ValueError("not a SHA256 fingerprint")
    return canonical(given)
