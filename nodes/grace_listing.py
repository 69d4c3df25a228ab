"""Reading the grace firewall's read command output as hostile input: `nft -j` JSON, checked.

Every value is bounded and typed strictly; every address is checked again. Anything malformed
raises OutputError (a ValueError whose message never quotes the output). A well-formed table
that is not exactly ours (another set, flags, hook or rule) is not an error: it is listed in
`problems`, and the table is then rebuilt."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any

from nodes.grace_layout import (
    ADDRESS_TEXT,
    CHAINS,
    FORWARD_HOOK,
    SET_DECLS,
    SET_LIMITS,
    SET_NAMES,
    Address,
    GraceSets,
    collapse,
    rule_comments,
    table_name,
)
from nodes.output import OutputError

MAX_OUTPUT = 16 << 20  # a listing of 2 × 65,536 grace addresses is about 3 MiB
MAX_OBJECTS = 64  # metainfo, the table, 6 sets, 3 chains, 12 rules: 23
NFT_MISSING = "nft missing"
ABSENT = "table absent"
_PERSISTED = re.compile(r"persisted (none|[0-9a-f]{64})")
_SET_KEYS = {"family", "name", "table", "type", "handle", "flags", "elem"}
_CHAIN_KEYS = {"family", "table", "name", "handle", "type", "hook", "prio", "policy"}
_RULE_KEYS = {"family", "table", "chain", "handle", "expr", "comment"}
_TABLE_KEYS = {"family", "name", "handle", "flags"}


@dataclass(frozen=True, slots=True)
class NodeGrace:
    """What the read command found on the node."""

    installed: bool  # nft is there
    persisted: str | None = None  # sha256 of the file kept for boot, None without one
    present: bool = False  # the table exists
    sets: GraceSets = field(default_factory=GraceSets)
    problems: tuple[str, ...] = ()  # why the table is not exactly ours: rebuild it


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise OutputError("grace listing: a JSON key appears twice")
        out[key] = value
    return out


def _no_constant(_name: str) -> Any:
    raise OutputError("grace listing: NaN or Infinity in JSON")


def _str(value: Any, what: str, limit: int = 256) -> str:
    if type(value) is not str or len(value) > limit:
        raise OutputError(f"grace listing: {what} is not a short string")
    return value


def _int(value: Any, what: str, lo: int, hi: int) -> int:
    if type(value) is not int or not lo <= value <= hi:  # a bool is no int here
        raise OutputError(f"grace listing: {what} is not a whole number in range")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise OutputError(f"grace listing: {what} is not an object")
    return value


def _address(value: Any, version: int, what: str) -> Address:
    text = _str(value, what, 45)
    if not ADDRESS_TEXT.fullmatch(text):
        raise OutputError(f"grace listing: {what} is not an address")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise OutputError(f"grace listing: {what} is not an address") from None
    if address.version != version:
        raise OutputError(f"grace listing: {what} is not an IPv{version} address")
    return address


def _element(value: Any, version: int, interval: bool, name: str) -> list[Any]:
    """One element: an address (plain sets), or networks (interval sets: an address, a
    prefix or a range)."""
    what = f"an element of {name}"
    if type(value) is dict and set(value) == {"elem"}:  # {"elem": {"val": …}}: newer nft
        inner = _dict(value["elem"], what)
        if set(inner) != {"val"}:
            raise OutputError(f"grace listing: {what} has attributes this table never sets")
        value = inner["val"]
    if type(value) is str:
        address = _address(value, version, what)
        return [ipaddress.ip_network(address)] if interval else [address]
    if not interval:
        raise OutputError(f"grace listing: {what} is not one address")
    shape = _dict(value, what)
    if set(shape) == {"prefix"}:
        prefix = _dict(shape["prefix"], what)
        if set(prefix) != {"addr", "len"}:
            raise OutputError(f"grace listing: {what} is a malformed prefix")
        address = _address(prefix["addr"], version, what)
        length = _int(prefix["len"], what, 1, 32 if version == 4 else 128)
        try:
            return [ipaddress.ip_network(f"{address}/{length}")]
        except ValueError:
            raise OutputError(f"grace listing: {what} has host bits set") from None
    if set(shape) == {"range"}:
        bounds = shape["range"]
        if type(bounds) is not list or len(bounds) != 2:
            raise OutputError(f"grace listing: {what} is a malformed range")
        first = _address(bounds[0], version, what)
        last = _address(bounds[1], version, what)
        if int(first) > int(last):
            raise OutputError(f"grace listing: {what} is an empty range")
        return list(ipaddress.summarize_address_range(first, last))
    raise OutputError(f"grace listing: {what} has an unknown shape")


def _contents(body: dict[str, Any], name: str) -> tuple[Any, ...]:
    kind, flags = SET_DECLS[name]
    version = 4 if kind == "ipv4_addr" else 6
    interval = "interval" in flags
    limit = SET_LIMITS[name[:-1]]
    elements = body.get("elem", [])
    if type(elements) is not list or len(elements) > limit:
        raise OutputError(f"grace listing: set {name} has malformed or too many elements")
    values: list[Any] = []
    for element in elements:
        values += _element(element, version, interval, name)
        if len(values) > limit * 2:  # a range may split into many prefixes
            raise OutputError(f"grace listing: set {name} has too many elements")
    if interval:
        return collapse(values)
    if len(set(values)) != len(values):
        raise OutputError(f"grace listing: set {name} lists an element twice")
    return tuple(sorted(values))


def _head(text: str) -> tuple[str | None, str]:
    head, newline, rest = text.partition("\n")
    match = _PERSISTED.fullmatch(head)
    if not newline or match is None:
        raise OutputError("grace listing: the first line is not the kept file's digest")
    return (None if match.group(1) == "none" else match.group(1)), rest


def _document(rest: str) -> list[Any]:
    try:
        doc = json.loads(rest, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except OutputError:
        raise
    except (ValueError, RecursionError):  # not JSON, a number of too many digits, deep nesting
        raise OutputError("grace listing: not nft's JSON") from None
    doc = _dict(doc, "the document")
    if set(doc) != {"nftables"} or type(doc["nftables"]) is not list:
        raise OutputError("grace listing: not nft's JSON")
    if len(doc["nftables"]) > MAX_OBJECTS:
        raise OutputError("grace listing: too many objects in the table")
    return doc["nftables"]


def parse_grace(text: str, interface: str) -> NodeGrace:
    """The read command's output: `nft missing`; or the kept file's digest line, then `table
    absent` or the table as `nft -j` lists it."""
    if len(text) > MAX_OUTPUT:
        raise OutputError("grace listing: too long")
    if text == NFT_MISSING + "\n":
        return NodeGrace(installed=False)
    persisted, rest = _head(text)
    if rest == ABSENT + "\n":
        return NodeGrace(installed=True, persisted=persisted)
    table = table_name(interface)
    problems: set[str] = set()
    sets: dict[str, tuple[Any, ...]] = {}
    chains: dict[str, dict[str, Any]] = {}
    comments: dict[str, list[str | None]] = {}
    tables = 0
    for item in _document(rest):
        item = _dict(item, "an object")
        if len(item) != 1:
            raise OutputError("grace listing: an object of more than one kind")
        kind, body = next(iter(item.items()))
        body = _dict(body, "an object")
        if kind == "metainfo":
            continue
        if _str(body.get("family"), "a family") != "inet":
            raise OutputError("grace listing: an object of another family")
        owner = body.get("name") if kind == "table" else body.get("table")
        if _str(owner, "a table name") != table:
            raise OutputError("grace listing: an object of another table")
        if "handle" in body:
            _int(body["handle"], "a handle", 0, 2**32)
        if kind == "table":
            tables += 1
            if not set(body) <= _TABLE_KEYS or body.get("flags", []) != []:
                problems.add("the table has other attributes or flags")
        elif kind == "set":
            name = _str(body.get("name"), "a set name", 64)
            if name in sets:
                raise OutputError("grace listing: a set is listed twice")
            if name not in SET_DECLS:
                problems.add("an unexpected set")
                continue
            flags = body.get("flags", [])
            flags = [flags] if type(flags) is str else flags
            if type(flags) is not list or not all(type(flag) is str for flag in flags):
                raise OutputError(f"grace listing: set {name} has malformed flags")
            if not set(body) <= _SET_KEYS:
                problems.add(f"set {name} has other attributes")
            if (body.get("type"), set(flags)) != (SET_DECLS[name][0], set(SET_DECLS[name][1])):
                problems.add(f"set {name} has another type or flags")
                sets[name] = ()
                continue
            sets[name] = _contents(body, name)
        elif kind == "chain":
            name = _str(body.get("name"), "a chain name", 64)
            if name in chains:
                raise OutputError("grace listing: a chain is listed twice")
            if not set(body) <= _CHAIN_KEYS:
                problems.add("a chain has other attributes")
            chains[name] = body
        elif kind == "rule":
            chain = _str(body.get("chain"), "a rule's chain", 64)
            if type(body.get("expr")) is not list:
                raise OutputError("grace listing: a rule without expressions")
            comment = body.get("comment")
            comments.setdefault(chain, []).append(
                None if comment is None else _str(comment, "a rule comment", 128)
            )
            if not set(body) <= _RULE_KEYS:
                problems.add("a rule has other attributes")
        else:
            problems.add("an unexpected object")
    if tables != 1:
        raise OutputError("grace listing: the table is not listed exactly once")
    problems.update(f"set {name} missing" for name in SET_NAMES if name not in sets)
    if set(chains) - set(CHAINS):
        problems.add("an unexpected chain")
    for name in CHAINS:
        body = chains.get(name)
        hook = {key: body[key] for key in FORWARD_HOOK if key in body} if body else None
        if hook is None:
            problems.add(f"chain {name} missing")
        elif hook != (FORWARD_HOOK if name == "forward" else {}):
            problems.add(f"chain {name} has another hook, priority or policy")
    expected = rule_comments(interface)
    for name in sorted(set(comments) | set(expected)):
        if tuple(comments.get(name, ())) != expected.get(name, ()):
            problems.add(f"rules of chain {name} differ" if name in CHAINS else "unexpected rules")
    found = GraceSets(**{name: sets.get(name, ()) for name in SET_NAMES})
    return NodeGrace(True, persisted, True, found, tuple(sorted(problems)))
