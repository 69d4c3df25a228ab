"""What a /start link carries: a referral, a campaign and a promo code may come together,
joined by "-" (`start=c_blog-ref_ab12cd34-promo_SUMMER`); gift and invite links stand alone."""

from __future__ import annotations

from dataclasses import dataclass

REFERRAL = "ref_"
CAMPAIGN = "c_"
PROMO = "promo_"
GIFT = "gift_"
SEPARATOR = "-"
START_MAX = 64  # Telegram's limit for a start parameter


@dataclass(frozen=True, slots=True)
class StartLink:
    """The parts of a start parameter this bot knows; each is checked by its own service."""

    referral: str | None = None
    campaign: str | None = None
    promo: str | None = None


def parse_start(args: str | None) -> StartLink:
    """The known parts of a start parameter (the first of each kind); anything else is left."""
    found: dict[str, str] = {}
    for part in (args or "")[:START_MAX].split(SEPARATOR):
        for prefix in (REFERRAL, CAMPAIGN, PROMO):
            if part.startswith(prefix) and prefix not in found:
                found[prefix] = part.removeprefix(prefix)
    return StartLink(found.get(REFERRAL), found.get(CAMPAIGN), found.get(PROMO))
