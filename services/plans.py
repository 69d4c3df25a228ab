"""Plans the operator sells: length, price in roubles and Stars, device and traffic limits; and
the add-ons sold on top of a plan (a device slot, more traffic), priced per 30 days."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_PLANS = "1m:30:199:150:3,3m:90:499:375:3,12m:365:1690:1250:5"
PLAN_CODE = re.compile(r"[a-z0-9]{1,16}")
MAX_PLAN_DAYS = 3650


@dataclass(frozen=True, slots=True)
class Plan:
    """One tariff; `traffic_gb` is per 30-day period, None for no limit."""

    code: str
    days: int
    rub: int
    stars: int
    devices: int
    traffic_gb: int | None = None

    @property
    def kopecks(self) -> int:
        return self.rub * 100

    @property
    def months(self) -> int:
        """Whole months for display (30 → 1, 90 → 3, 365 → 12); 0 under four weeks."""
        return round(self.days / 30.4) if self.days >= 28 else 0

    @property
    def traffic_bytes(self) -> int | None:
        return None if self.traffic_gb is None else self.traffic_gb * 1024**3


def parse_plans(text: str) -> tuple[Plan, ...]:
    """`code:days:rub:stars:devices[:traffic_gb]`, comma-separated; ValueError names the bad one."""
    plans: list[Plan] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        fields = item.split(":")
        if len(fields) not in (5, 6) or not PLAN_CODE.fullmatch(fields[0]):
            raise ValueError(f"{item!r} is not code:days:rub:stars:devices[:traffic_gb]")
        if not all(field.isdigit() for field in fields[1:]):
            raise ValueError(f"{item!r}: days, prices and limits must be whole numbers")
        days, rub, stars, devices, *traffic = (int(field) for field in fields[1:])
        if not (0 < days <= MAX_PLAN_DAYS and 0 < rub <= 1_000_000 and 0 < stars <= 100_000):
            raise ValueError(f"{item!r}: days 1–{MAX_PLAN_DAYS}, prices above zero")
        if not 0 < devices <= 20 or (traffic and not 0 < traffic[0] <= 100_000):
            raise ValueError(f"{item!r}: devices 1–20, traffic 1–100000 GB")
        if any(plan.code == fields[0] for plan in plans):
            raise ValueError(f"plan code {fields[0]!r} appears twice")
        plans.append(Plan(fields[0], days, rub, stars, devices, traffic[0] if traffic else None))
    return tuple(plans)


def find_plan(plans: tuple[Plan, ...], code: str | None) -> Plan | None:
    return next((plan for plan in plans if plan.code == code), None)


@dataclass(frozen=True, slots=True)
class AddonPrice:
    """An add-on's price per 30 days; `gb` is the traffic it adds per 30 days (0: a device)."""

    rub: int
    stars: int
    gb: int = 0


@dataclass(frozen=True, slots=True)
class Addons:
    """The add-ons on sale; None: not sold."""

    device: AddonPrice | None = None
    traffic: AddonPrice | None = None


def parse_addon(text: str, *, traffic: bool) -> AddonPrice | None:
    """`rub:stars` for a device slot, `gb:rub:stars` for traffic (per 30 days); "" for none;
    ValueError says what is wrong."""
    text = text.strip()
    if not text:
        return None
    fields = text.split(":")
    shape = "gb:rub:stars" if traffic else "rub:stars"
    if len(fields) != (3 if traffic else 2) or not all(f.isascii() and f.isdigit() for f in fields):
        raise ValueError(f"{text!r} is not {shape} (whole numbers)")
    numbers = [int(field) for field in fields]
    gb = numbers.pop(0) if traffic else 0
    rub, stars = numbers
    if not (0 < rub <= 1_000_000 and 0 < stars <= 100_000) or (traffic and not 0 < gb <= 100_000):
        raise ValueError(f"{text!r}: prices above zero" + (", 1-100000 GB" if traffic else ""))
    return AddonPrice(rub, stars, gb)
