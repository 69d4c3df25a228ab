"""Setting a device up, per platform: the official apps to install and three short steps, for
plain WireGuard and for AmneziaWG (whose configs AmneziaVPN also imports from a vpn:// key)."""

from __future__ import annotations

from dataclasses import dataclass

from services.devices import DeviceService
from services.errors import InvalidInput
from services.targets import is_amnezia

# The official apps. WireGuard: the WireGuard project's own listings, as wireguard.com/install
# links them (desktop: that page, which has the Windows installer and every Linux package).
# AmneziaVPN: amnezia-client's README (App Store, amnezia.org/downloads for desktops) and the
# amnezia.org site's download links (Google Play). AmneziaWG: amneziawg-android's README
# (Google Play) and the amneziawg-windows-client repository's releases; its App Store id is
# the one the AmneziaWG app is published under.
WIREGUARD_IOS = "https://apps.apple.com/app/wireguard/id1441195209"
WIREGUARD_ANDROID = "https://play.google.com/store/apps/details?id=com.wireguard.android"
WIREGUARD_MACOS = "https://apps.apple.com/app/wireguard/id1451685025"
WIREGUARD_DESKTOP = "https://www.wireguard.com/install/"
AMNEZIAVPN_IOS = "https://apps.apple.com/app/amneziavpn/id1600529900"
AMNEZIAVPN_ANDROID = "https://play.google.com/store/apps/details?id=org.amnezia.vpn"
AMNEZIAVPN_DESKTOP = "https://amnezia.org/downloads"
AMNEZIAWG_IOS = "https://apps.apple.com/app/amneziawg/id6478942365"
AMNEZIAWG_ANDROID = "https://play.google.com/store/apps/details?id=org.amnezia.awg"
AMNEZIAWG_WINDOWS = "https://github.com/amnezia-vpn/amneziawg-windows-client/releases"


class UnknownPlatform(InvalidInput):
    key = "error-platform-unknown"


@dataclass(frozen=True, slots=True)
class App:
    name: str
    url: str


@dataclass(frozen=True, slots=True)
class Platform:
    """A kind of device, the WireGuard app for it, and the AmneziaWG apps for it: AmneziaVPN
    first (it takes the vpn:// key), then AmneziaWG where one is published."""

    key: str
    name: str
    wireguard: App
    amnezia: tuple[App, ...]


def _amnezia(vpn: str, awg: str | None = None) -> tuple[App, ...]:
    apps = (App("AmneziaVPN", vpn),)
    return apps + ((App("AmneziaWG", awg),) if awg else ())


PLATFORMS = (
    Platform(
        "ios", "iOS", App("WireGuard", WIREGUARD_IOS), _amnezia(AMNEZIAVPN_IOS, AMNEZIAWG_IOS)
    ),
    Platform(
        "android",
        "Android",
        App("WireGuard", WIREGUARD_ANDROID),
        _amnezia(AMNEZIAVPN_ANDROID, AMNEZIAWG_ANDROID),
    ),
    Platform(
        "windows",
        "Windows",
        App("WireGuard", WIREGUARD_DESKTOP),
        _amnezia(AMNEZIAVPN_DESKTOP, AMNEZIAWG_WINDOWS),
    ),
    Platform("macos", "macOS", App("WireGuard", WIREGUARD_MACOS), _amnezia(AMNEZIAVPN_DESKTOP)),
    Platform("linux", "Linux", App("WireGuard", WIREGUARD_DESKTOP), _amnezia(AMNEZIAVPN_DESKTOP)),
)
CHOICES = tuple((item.key, item.name) for item in PLATFORMS)  # the buttons: key, name


@dataclass(frozen=True, slots=True)
class Guide:
    """How to set up one platform for one kind of node."""

    platform: Platform
    amnezia: bool

    @property
    def apps(self) -> tuple[App, ...]:
        return self.platform.amnezia if self.amnezia else (self.platform.wireguard,)

    @property
    def links(self) -> tuple[tuple[str, str], ...]:
        """Each app's name and URL, for the link buttons."""
        return tuple((app.name, app.url) for app in self.apps)

    @property
    def steps_key(self) -> str:
        """The locale key of the three steps."""
        return f"setup-{'awg' if self.amnezia else 'wg'}-{self.platform.key}"


def platform(key: str) -> Platform:
    """The platform called `key`; UnknownPlatform for anything else (a forged button)."""
    found = next((item for item in PLATFORMS if item.key == key), None)
    if found is None:
        raise UnknownPlatform()
    return found


class OnboardingService:
    def __init__(self, devices: DeviceService) -> None:
        self._devices = devices

    async def guide(self, user_id: int, platform_key: str) -> Guide:
        """The steps for the platform, for the kind of node the user's devices are on (plain
        WireGuard for a user without one)."""
        chosen = platform(platform_key)
        node = await self._devices.current_node(user_id)
        return Guide(chosen, amnezia=node is not None and is_amnezia(node))
