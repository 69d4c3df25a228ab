"""Talking to nodes: SSH pool, WireGuard commands, bootstrap, reconcile, probe and keys."""

from nodes.bootstrap import BOOTSTRAP_STEPS, InterfacePlan, bootstrap
from nodes.errors import NodeError
from nodes.keys import generate_preshared_key, generate_private_key, is_valid_key, public_key
from nodes.peers import PeerSpec, PeerState, parse_dump
from nodes.probe import Probe, probe
from nodes.reconcile import ReconcilePlan, apply_reconcile, plan_reconcile
from nodes.ssh import SshPool
from nodes.target import NodeTarget
from nodes.wireguard import InterfaceInfo, NodeLoad, WireGuard

__all__ = [
    "BOOTSTRAP_STEPS",
    "InterfaceInfo",
    "InterfacePlan",
    "NodeError",
    "NodeLoad",
    "NodeTarget",
    "PeerSpec",
    "PeerState",
    "Probe",
    "ReconcilePlan",
    "SshPool",
    "WireGuard",
    "apply_reconcile",
    "bootstrap",
    "generate_preshared_key",
    "generate_private_key",
    "is_valid_key",
    "parse_dump",
    "plan_reconcile",
    "probe",
    "public_key",
]
