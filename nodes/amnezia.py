"""AmneziaWG obfuscation parameters: generation, validation, JSON and config lines per version.

The rules follow AmneziaWG's own documentation and sources: amneziawg-linux-kernel-module's
README (Jc 1–128; Jmin < Jmax ≤ 1280; S1, S2 < 1280 and S1 + 56 ≠ S2; H1–H4 unique, 1–4 being
WireGuard's own message types), amneziawg-tools' config keys (S3, S4, I1–I5) and amneziawg-go's
device code (H1–H4 as ranges that must not overlap; I-packets as a chain of <tag> elements).
Versions: 1.0 has Jc, Jmin, Jmax, S1, S2 and single-value H1–H4; 1.5 adds the I1–I5 signature
packets; 2.0 adds S3, S4 and H1–H4 ranges. A node's version decides which fields its configs
carry: an older client rejects or ignores what it does not know, and the handshake then fails.
"""

from __future__ import annotations

import json
import random
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

WIREGUARD = "wireguard"
AMNEZIAWG = "amneziawg"
PROTOCOLS = (WIREGUARD, AMNEZIAWG)
VERSIONS = ("1.0", "1.5", "2.0")
DEFAULT_VERSION = "2.0"
AMNEZIA_MTU = 1376  # AmneziaVPN's own tunnel MTU: leaves room for S4 on every data packet

# WireGuard message sizes: a padded handshake message is told apart by its size on the wire.
INIT_SIZE, RESPONSE_SIZE, COOKIE_SIZE = 148, 92, 64
MAX_SIZE = 1280  # Jmax, S1–S3 and a signature packet stay within IPv6's minimum MTU
MAX_JC = 128
MAX_S4 = 32  # ours, not upstream's: S4 pads every data packet and eats into the path MTU
HEADER_MIN = 5  # 1–4 are WireGuard's message types
HEADER_MAX = 2**32 - 1
GENERATED_HEADER_MAX = 2**31 - 1  # some clients read H1–H4 as signed 32-bit numbers
PATH_MTU, OUTER_OVERHEAD = 1500, 80  # IPv6 40 + UDP 8 + WireGuard data header 32
MAX_TAG_LENGTH = 1000

FIELDS_1_0 = ("Jc", "Jmin", "Jmax", "S1", "S2", "H1", "H2", "H3", "H4")
NUMBERS = ("Jc", "Jmin", "Jmax", "S1", "S2", "S3", "S4")
HEADERS = ("H1", "H2", "H3", "H4")
PACKETS = ("I1", "I2", "I3", "I4", "I5")
ALL_FIELDS = (*FIELDS_1_0, "S3", "S4", *PACKETS)
TAGS = {"1.0": frozenset(), "1.5": frozenset("bctr"), "2.0": frozenset({*"bctr", "rc", "rd"})}

Header = tuple[int, int]  # an inclusive range; before 2.0 both ends are equal
_TAG = re.compile(r"<([a-z]+)(?: ([0-9A-Za-z]+))?>")
_HEADER = re.compile(r"^([0-9]{1,10})(?:-([0-9]{1,10}))?$")
_LINE = re.compile(r"^\s*([A-Za-z0-9]+)\s*=\s*(.*?)\s*$")
_DOMAINS = ("www.google.com", "yandex.ru", "vk.com", "mail.ru", "www.microsoft.com", "ya.ru")


class AmneziaError(ValueError):
    """Parameters outside AmneziaWG's rules; the message names the field."""


@dataclass(frozen=True, slots=True)
class AmneziaParams:
    """One node's obfuscation parameters; every instance is valid for its version."""

    version: str
    jc: int
    jmin: int
    jmax: int
    s1: int
    s2: int
    headers: tuple[Header, Header, Header, Header]
    s3: int = 0
    s4: int = 0
    packets: tuple[str, str, str, str, str] = ("", "", "", "", "")

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise AmneziaError(f"version must be one of {', '.join(VERSIONS)}")
        _check_numbers(self)
        _check_headers(self.version, self.headers)
        _check_packets(self.version, self.packets)

    def lines(self) -> tuple[str, ...]:
        """The [Interface] lines this version's configs carry, in AmneziaWG's order."""
        out = [f"Jc = {self.jc}", f"Jmin = {self.jmin}", f"Jmax = {self.jmax}"]
        out += [f"S1 = {self.s1}", f"S2 = {self.s2}"]
        if self.version == "2.0":
            out += [f"S3 = {self.s3}", f"S4 = {self.s4}"]
        out += [f"H{n} = {_header_text(h)}" for n, h in enumerate(self.headers, 1)]
        out += [f"I{n} = {p}" for n, p in enumerate(self.packets, 1) if p]
        return tuple(out)

    def to_json(self) -> str:
        """The parameters as stored in the database (Node.obfuscation)."""
        values: dict[str, str | int] = {"version": self.version}
        for line in self.lines():
            key, _, value = line.partition(" = ")
            values[key] = int(value) if value.isdigit() and key[0] in "JS" else value
        return json.dumps(values, ensure_ascii=True)

    @classmethod
    def from_json(cls, text: str | None) -> AmneziaParams:
        """Parameters stored by to_json; AmneziaError for anything else."""
        try:
            data = json.loads(text or "")
        except (TypeError, ValueError):
            raise AmneziaError("the stored parameters are not JSON") from None
        if not isinstance(data, dict):
            raise AmneziaError("the stored parameters are not a JSON object")
        version = data.pop("version", None)
        if not isinstance(version, str):
            raise AmneziaError("the stored parameters name no version")
        return from_fields(version, data)


def from_fields(version: str, values: Mapping[str, object]) -> AmneziaParams:
    """Parameters from config keys (Jc, S1, H1, I1, …) and their values, checked for version."""
    unknown = sorted(set(values) - set(ALL_FIELDS))
    if unknown:
        raise AmneziaError(f"unknown parameter {unknown[0]}")
    missing = [name for name in FIELDS_1_0 if name not in values]
    if missing:
        raise AmneziaError(f"{missing[0]} is missing")
    if version in VERSIONS and version != "2.0":
        extra = [name for name in ("S3", "S4") if name in values]
        if extra:
            raise AmneziaError(f"{extra[0]} needs AmneziaWG 2.0")
    if version == "1.0":
        extra = [name for name in PACKETS if values.get(name)]
        if extra:
            raise AmneziaError(f"{extra[0]} needs AmneziaWG 1.5 or later")
    jc, jmin, jmax, s1, s2, s3, s4 = (_number(name, values.get(name, 0)) for name in NUMBERS)
    h1, h2, h3, h4 = (_header(name, values[name]) for name in HEADERS)
    i1, i2, i3, i4, i5 = (_packet_text(name, values.get(name, "")) for name in PACKETS)
    return AmneziaParams(
        version, jc, jmin, jmax, s1, s2, (h1, h2, h3, h4), s3, s4, (i1, i2, i3, i4, i5)
    )


def parse_lines(text: str) -> AmneziaParams:
    """Parameters from an [Interface] section (`awg showconf`); the version is what it uses."""
    values: dict[str, object] = {}
    for line in text.splitlines():
        if line.strip().startswith("[Peer]"):
            break
        match = _LINE.match(line)
        if match and match.group(1) in ALL_FIELDS:
            values[match.group(1)] = match.group(2)
    if not values:
        raise AmneziaError("the interface has no AmneziaWG parameters")
    ranges = any("-" in str(values.get(name, "")) for name in HEADERS)
    if "S3" in values or "S4" in values or ranges:
        version = "2.0"
    elif any(values.get(name) for name in PACKETS):
        version = "1.5"
    else:
        version = "1.0"
    return from_fields(version, values)


def generate(
    version: str = DEFAULT_VERSION, *, mtu: int = AMNEZIA_MTU, rng: random.Random | None = None
) -> AmneziaParams:
    """Fresh parameters for a node, well inside the rules; S4 fits the tunnel MTU's headroom."""
    if version not in VERSIONS:
        raise AmneziaError(f"version must be one of {', '.join(VERSIONS)}")
    pick = rng if rng is not None else secrets.SystemRandom()
    s1 = pick.randint(15, 150)
    s2 = pick.choice([v for v in range(15, 151) if v != s1 + INIT_SIZE - RESPONSE_SIZE])
    s3 = s4 = 0
    if version == "2.0":
        taken = {s1 + INIT_SIZE - COOKIE_SIZE, s2 + RESPONSE_SIZE - COOKIE_SIZE}
        s3 = pick.choice([v for v in range(15, 151) if v not in taken])
        room = min(MAX_S4, transport_headroom(mtu))
        s4 = pick.randint(1, room) if room >= 1 else 0
    jmin = pick.randint(40, 90)
    return AmneziaParams(
        version,
        jc=pick.randint(3, 10),
        jmin=jmin,
        jmax=pick.randint(jmin + 100, 1000),
        s1=s1,
        s2=s2,
        headers=_generate_headers(version, pick),
        s3=s3,
        s4=s4,
        packets=_generate_packets(version, pick),
    )


def transport_headroom(mtu: int) -> int:
    """Bytes a data packet of a full tunnel MTU may grow by before the path MTU is exceeded."""
    return max(PATH_MTU - OUTER_OVERHEAD - mtu, 0)


def packet_size(spec: str, version: str = DEFAULT_VERSION) -> int:
    """Bytes an I-packet spec sends: a chain of <b 0xHEX>, <c>, <t>, <r N> (2.0: <rc N>, <rd N>)."""
    size, pos = 0, 0
    while pos < len(spec):
        match = _TAG.match(spec, pos)
        if match is None:
            raise AmneziaError(f"unexpected text at position {pos + 1}: tags look like <r 16>")
        name, arg = match.groups()
        if name not in TAGS[version]:
            raise AmneziaError(f"tag <{name}> is not known to AmneziaWG {version}")
        if name == "b":
            if arg is None or not re.fullmatch(r"0x(?:[0-9a-fA-F]{2})+", arg):
                raise AmneziaError("<b> takes hex bytes: <b 0x0102>")
            size += (len(arg) - 2) // 2
        elif name in ("c", "t"):
            if arg is not None:
                raise AmneziaError(f"<{name}> takes no value")
            size += 4
        else:
            if arg is None or not arg.isdigit() or not 1 <= int(arg) <= MAX_TAG_LENGTH:
                raise AmneziaError(f"<{name}> takes a length from 1 to {MAX_TAG_LENGTH}")
            size += int(arg)
        pos = match.end()
    if size == 0:
        raise AmneziaError("an I-packet must send at least one byte")
    return size


def _check_numbers(p: AmneziaParams) -> None:
    for name, value in zip(NUMBERS, (p.jc, p.jmin, p.jmax, p.s1, p.s2, p.s3, p.s4), strict=True):
        _number(name, value)
    if not 1 <= p.jc <= MAX_JC:
        raise AmneziaError(f"Jc must be from 1 to {MAX_JC}")
    if not 1 <= p.jmin < p.jmax:
        raise AmneziaError("Jmin must be at least 1 and below Jmax")
    if p.jmax > MAX_SIZE:
        raise AmneziaError(f"Jmax must be at most {MAX_SIZE}")
    for name, value in (("S1", p.s1), ("S2", p.s2), ("S3", p.s3)):
        if value >= MAX_SIZE:
            raise AmneziaError(f"{name} must be below {MAX_SIZE}")
    if p.s1 + INIT_SIZE == p.s2 + RESPONSE_SIZE:
        raise AmneziaError("S1 + 56 must differ from S2: both handshake messages would be one size")
    if p.version != "2.0":
        if p.s3 or p.s4:
            raise AmneziaError("S3 and S4 need AmneziaWG 2.0")
        return
    if p.s4 > MAX_S4:
        raise AmneziaError(f"S4 must be at most {MAX_S4}")
    if p.s3 + COOKIE_SIZE in (p.s1 + INIT_SIZE, p.s2 + RESPONSE_SIZE):
        raise AmneziaError("S3 makes the cookie message the size of another handshake message")


def _check_headers(version: str, headers: tuple[Header, ...]) -> None:
    if len(headers) != 4:
        raise AmneziaError("H1–H4 are four values")
    for n, (low, high) in enumerate(headers, 1):
        _number(f"H{n}", low)
        _number(f"H{n}", high)
        if not HEADER_MIN <= low <= high <= HEADER_MAX:
            raise AmneziaError(f"H{n} must be from {HEADER_MIN} to {HEADER_MAX}, low end first")
        if version != "2.0" and low != high:
            raise AmneziaError(f"H{n} must be one number before AmneziaWG 2.0")
    for i in range(4):
        for j in range(i + 1, 4):
            (a, b), (c, d) = headers[i], headers[j]
            if a <= d and c <= b:
                raise AmneziaError(f"H{i + 1} and H{j + 1} must not overlap")


def _check_packets(version: str, packets: tuple[str, ...]) -> None:
    if len(packets) != 5:
        raise AmneziaError("I1–I5 are five values")
    for n, spec in enumerate(packets, 1):
        if not spec:
            continue
        if version == "1.0":
            raise AmneziaError(f"I{n} needs AmneziaWG 1.5 or later")
        try:
            size = packet_size(spec, version)
        except AmneziaError as error:
            raise AmneziaError(f"I{n}: {error}") from None
        if size > MAX_SIZE:
            raise AmneziaError(f"I{n} sends {size} bytes, more than {MAX_SIZE}")
    if any(packets[1:]) and not packets[0]:
        raise AmneziaError("I2–I5 need I1")


def _number(name: str, value: object) -> int:
    if isinstance(value, str) and value.isdigit() and len(value) <= 10:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise AmneziaError(f"{name} must be a whole number")
    return value


def _header(name: str, value: object) -> Header:
    match = _HEADER.match(str(value)) if isinstance(value, str | int) else None
    if match is None or isinstance(value, bool):
        raise AmneziaError(f"{name} must be a number or a range like 100-200")
    low = int(match.group(1))
    return low, int(match.group(2)) if match.group(2) else low


def _header_text(header: Header) -> str:
    low, high = header
    return str(low) if low == high else f"{low}-{high}"


def _packet_text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise AmneziaError(f"{name} must be text")
    return value.strip()


def _generate_headers(version: str, pick: random.Random) -> tuple[Header, Header, Header, Header]:
    space = range(HEADER_MIN, GENERATED_HEADER_MAX + 1)
    if version != "2.0":
        a, b, c, d = pick.sample(space, 4)
        return (a, a), (b, b), (c, c), (d, d)
    points = sorted(pick.sample(space, 8))
    ranges = [(points[i], points[i + 1]) for i in range(0, 8, 2)]
    pick.shuffle(ranges)
    return ranges[0], ranges[1], ranges[2], ranges[3]


def _generate_packets(version: str, pick: random.Random) -> tuple[str, str, str, str, str]:
    if version == "1.0":
        return "", "", "", "", ""
    return _dns_query(pick.choice(_DOMAINS)), f"<c><t><r {pick.randint(16, 64)}>", "", "", ""


def _dns_query(domain: str) -> str:
    """I1 shaped like a DNS query for domain (RFC 1035): a random id, then fixed bytes."""
    header = "01000001000000000000"  # recursion desired, one question
    name = "".join(f"{len(label):02x}" + label.encode().hex() for label in domain.split("."))
    return f"<r 2><b 0x{header}{name}0000010001>"  # type A, class IN
