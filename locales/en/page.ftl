## The personal page (web/) and, in the chat, the way to it
cmd-link = Personal link to your account page
menu-page = 🗂 My account
page-menu-button = Account
link-text =
    🔗 <b>Your account page</b>
    { $link }
    This link opens your page in any browser, even without Telegram: access, devices, payments. Do not share it.
    If someone else got it, replace it: the old one stops working at once.
link-open = 🌐 Open
link-replace = 🔄 Replace the link
link-replaced =
    🔄 <b>Done: your new link</b>
    { $link }
    The old one no longer works, on every device where it was open.
link-off = The account page is not set up yet. Everything is here in the chat: /status, /devices, /subscribe.

page-title = My account
page-hello = Hello, { $name }
page-language = Language
page-signed-in-telegram = You are signed in through Telegram.
page-signed-in-link = You are signed in by your personal link. Do not share it; replace it with /link in the chat with the bot.
page-sign-out = Sign out

page-access = Access
page-access-open = Open
page-access-until = until { $until }
page-access-forever = without an end date
page-access-none = No access
page-access-none-hint = Subscribe below: the VPN works as soon as the payment goes through.
page-access-blocked = This month's traffic is used up
page-access-blocked-until = The VPN comes back on { $until }
page-plan = Plan
page-auto-renew = Auto-renewal
page-auto-renew-on = on
page-auto-renew-hint = A day before the end we charge the same amount to the saved card.
page-auto-renew-off = off
page-cancel-renew = Turn off auto-renewal
page-trial = Try it free for { $days ->
    [one] { $days } day
   *[other] { $days } days
}

page-devices = Devices
page-devices-count = { $count } of { $limit }
page-devices-empty = None yet. Add a device to get its config file and QR code.
page-devices-no-access = Your devices work again as soon as you have access.
page-devices-at-limit = That is your plan's limit: to add another, remove one of these.
page-device-seen = Connected { $ago } ago
page-device-never = Not connected yet
page-device-download = Download .conf
page-device-qr = QR code
page-device-qr-alt = QR code of the config “{ $name }”
page-device-qr-hint = In the WireGuard app: “+” → “Scan from QR code”.
page-device-manage = Change
page-device-name = Device name
page-device-rename = Save the name
page-device-rekey = New keys
page-device-rekey-hint = This device's current config stops working at once: import the new one.
page-device-remove = Remove the device
page-device-remove-hint = Its config stops working at once. This cannot be undone.
page-device-add = Add a device

page-renew = Renew access
page-subscribe = Subscribe
page-renew-hint = Access is extended from the end of the current one, nothing is lost.
page-plan-details = Up to { $devices } devices, { $traffic }
page-stars = { $stars } ★
page-pay-card = Pay by card
page-pay-card-auto = By card, renew automatically
page-pay-stars = Telegram Stars
page-pay-auto-hint = With auto-renewal we charge the same amount to this card a day before the end; turn it off with one button here.
page-stars-in-telegram = Telegram Stars work only inside Telegram: open this page from the bot.
page-payments-off = Payments are not set up yet. Please write to the admin in the chat with the bot.
page-pay-title = Payment
page-pay-text-card = Pay { $rub } ₽ on the YooKassa page. Access is extended as soon as the payment goes through: come back here and reload the page.
page-pay-text-auto = Pay { $rub } ₽ on the YooKassa page. You agreed to auto-renewal: a day before the end we charge { $full } ₽ to this card. Turn it off with one button on your page.
page-pay-text-sbp = Pay { $rub } ₽ by SBP: choose your bank on the YooKassa page and confirm the payment in its app. Access is extended by itself: come back here and reload the page.
page-pay-link = Go to payment: { $rub } ₽
page-back = ← Back to my account

page-history = Payments
page-history-empty = No payments yet.
page-payment-succeeded = paid
page-payment-refunded = refunded

page-setup = How to connect
page-setup-app = The official WireGuard app
page-setup-ios =
    Install WireGuard from the App Store.
    In the app tap “+” → “Create from QR code” and point the camera at the QR code shown on another screen. Or download the .conf and open it in WireGuard.
    Allow adding the VPN configuration and turn the tunnel on.
page-setup-android =
    Install WireGuard from Google Play.
    Tap “+” → “Scan from QR code”, or “Import from file or archive” and choose the downloaded .conf.
    Turn the tunnel on.
page-setup-windows =
    Download and install WireGuard for Windows.
    Click “Import tunnel(s) from file” and choose the downloaded .conf.
    Click “Activate”.
page-setup-macos =
    Install WireGuard from the Mac App Store.
    Click “Import tunnel(s) from file” and choose the downloaded .conf.
    Allow adding the VPN configuration and click “Activate”.
page-setup-linux =
    Install wireguard-tools (and openresolv for the DNS line) from your distribution's packages.
    Put the file in place: sudo install -m 600 { $file } /etc/wireguard/
    Turn it on: sudo wg-quick up { $name }
page-setup-amnezia = Some of your devices are on an AmneziaWG server: install the AmneziaVPN or AmneziaWG app instead of WireGuard.

page-done-device-added = Device added. Download its config or scan the QR code below, and give it a name.
page-done-renamed = Name saved.
page-done-rekeyed = New keys are ready. The old config no longer works: import the new one below.
page-done-removed = Device removed; its config no longer works.
page-done-removed-later = Device removed. Its server is not answering right now: this config stops working as soon as it is back.
page-done-renew-cancelled = Auto-renewal is off; the card will not be charged again. Access stays until the end of the paid period.
page-done-trial = Your trial is open. Add a device to get a config.
page-done-language = Done: the language is English.
page-done-paid = Payment received. Thank you!

page-signin-title = Sign in
page-signin-text = Open your page from the chat with the bot (the “Account” button) or by your personal link: the bot sends it on /link.
page-signin-wait = Signing in through Telegram…
page-refused-title = This link does not work
page-refused-text = This link is out of date or wrong. Get a new one in the chat with the bot: /link.
page-expired-text = Your session has ended. Open the page again from the chat with the bot or by your personal link (/link).
page-stale-form = This page is out of date. Reload it and try again.
page-too-many = Too many requests. Wait a minute and try again.
page-not-found = There is no such page.
page-error-title = That did not work

page-error-device-name = A name is 1 to { $most } characters, without control characters.
page-error-device-not-found = You have no such device. Reload the page.
page-error-device-limit = You cannot add more devices: you have { $count } of { $limit }. Remove one to add another.
page-error-no-access = You have no access right now. Subscribe below.
page-error-node-unavailable = Server { $node } is not answering right now; nothing was changed. Try again a bit later, or choose another server in the chat: /server
page-error-node-full = Server { $node } has no free places. Choose another server in the chat: /server
page-error-node-not-found = That server is gone. Choose another in the chat: /server
page-error-plan-not-found = That plan no longer exists. Reload the page.
page-error-trial-used = This account has had its trial already.
page-error-stars-outside = Stars work only inside Telegram: open this page from the bot.
page-error-bad-field = Something in the form is wrong. Reload the page and try again.
