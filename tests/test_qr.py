"""The QR code of a config: the very symbol the `qrcode` package makes (same mask, same
modules), drawn as a PNG that a scanner reads back as the text."""

from __future__ import annotations

import qrcode
from hypothesis import given, settings
from hypothesis import strategies as st
from qrcode.constants import ERROR_CORRECT_L

from services.qr import BORDER, BOX, qr_png
from services.qrsymbol import Symbol
from tests.netlab import decode_qr

CONFIG = """[Interface]
PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
Address = 10.8.0.2/32, fd00::2/128
DNS = 1.1.1.1, 1.0.0.1
MTU = 1420

[Peer]
PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=
PresharedKey = HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=
Endpoint = 203.0.113.10:51820
AllowedIPs = 0.0.0.0/0, ::/0
PersistentKeepalive = 25
"""


def reference(text: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_L)
    code.add_data(text)
    code.make(fit=True)
    return code.modules  # type: ignore[no-any-return]


def ours(text: str) -> list[list[bool | None]]:
    symbol = Symbol(error_correction=ERROR_CORRECT_L)
    symbol.add_data(text)
    symbol.make()
    return symbol.modules


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=900))
def test_the_symbol_is_qrcodes_own_for_any_text(text: str) -> None:
    """Every module, so also the mask chosen by the standard's penalty rules, equals what
    `qrcode` makes when it lays the symbol out once per mask (versions 1 to 40 cross the
    sizes where version bits appear and the alignment patterns multiply)."""
    assert ours(text) == reference(text)


def test_the_png_reads_back_as_the_config() -> None:
    png = qr_png(CONFIG)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    side = (len(reference(CONFIG)) + 2 * BORDER) * BOX
    assert int.from_bytes(png[16:20], "big") == int.from_bytes(png[20:24], "big") == side
    assert decode_qr(png) == CONFIG
