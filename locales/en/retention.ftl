# Set-up per platform (the buttons under the first config and /help)
setup-choose = 📲 Step-by-step set-up: choose your device:
setup-app-button = 📥 { $app }
setup-wg-ios =
    1. Install the WireGuard app from the App Store (button below).
    2. In WireGuard tap “+” → “Create from QR code” and point the camera at the QR code in this chat open on another screen. Or tap the .conf file in the chat → “Share” → WireGuard.
    3. Allow adding the VPN configuration and turn the tunnel on.
setup-wg-android =
    1. Install the WireGuard app from Google Play (button below).
    2. Save the .conf file from the chat and in WireGuard tap “+” → “Import from file or archive”. Or “+” → “Scan from QR code” if the QR code is open on another screen.
    3. Turn the tunnel on.
setup-wg-windows =
    1. Download WireGuard for Windows from wireguard.com/install (button below) and install it.
    2. Save the .conf file from the chat, click “Import tunnel(s) from file” in WireGuard and choose it.
    3. Click “Activate”.
setup-wg-macos =
    1. Install the WireGuard app from the Mac App Store (button below).
    2. Save the .conf file from the chat, choose “Import tunnel(s) from file” in WireGuard and pick it.
    3. Allow adding the VPN configuration and click “Activate”.
setup-wg-linux =
    1. Install wireguard-tools (and openresolv for the DNS line) from your distribution's packages: the command for each is on wireguard.com/install (button below).
    2. Save the .conf file from the chat and put it in place: <code>sudo install -m 600 FILE.conf /etc/wireguard/</code>
    3. Turn it on: <code>sudo wg-quick up FILE</code> (the file's name without .conf).
setup-awg-ios =
    1. Install AmneziaVPN or AmneziaWG from the App Store (buttons below): WireGuard cannot open this config.
    2. AmneziaVPN: tap the vpn:// key in the chat to copy it, then in the app tap “+” and paste the key. AmneziaWG: “+” → “Create from QR code” and the QR code from the chat on another screen.
    3. Allow adding the VPN configuration and connect.
setup-awg-android =
    1. Install AmneziaVPN or AmneziaWG from Google Play (buttons below): WireGuard cannot open this config.
    2. AmneziaVPN: tap the vpn:// key in the chat to copy it, then in the app tap “+” and paste the key. AmneziaWG: “+” → “Import from file” and the .conf file from the chat.
    3. Connect.
setup-awg-windows =
    1. Download AmneziaVPN from amnezia.org or AmneziaWG for Windows (buttons below) and install it: WireGuard cannot open this config.
    2. AmneziaVPN: tap the vpn:// key in the chat to copy it, then in the app click “+” and paste the key. AmneziaWG: “Import tunnel(s) from file” and the .conf file from the chat.
    3. Connect.
setup-awg-macos =
    1. Download AmneziaVPN for macOS from amnezia.org (button below) and install it: WireGuard cannot open this config.
    2. Tap the vpn:// key in the chat to copy it, then in AmneziaVPN click “+” and paste the key.
    3. Allow adding the VPN configuration and connect.
setup-awg-linux =
    1. Download AmneziaVPN for Linux from amnezia.org (button below) and install it: WireGuard cannot open this config.
    2. Tap the vpn:// key in the chat to copy it, then in AmneziaVPN click “+” and paste the key.
    3. Connect.
config-amnezia-key =
    🔑 The key for AmneziaVPN: tap it to copy, then paste it in the app (“+” → paste the key). It holds the same config as the file.
    <code>{ $key }</code>
error-platform-unknown = There is no such device in the list. Open /help and choose from it.


# Nudges (each once per user and period)
nudge-setup =
    👋 You have a config, but the VPN has not connected even once. Let's set it up: choose your device and I'll send three short steps and the app's link.
    Stuck? Open the help: what to check, step by step.
nudge-silent =
    🤔 Your devices have not connected to the VPN for a long time. Is something wrong?
    Have a look at the help: what to check. Or try another server: you'll get a new config.
nudge-offer =
    🎁 Your trial has ended. If the VPN was useful, subscribe: access comes back at once, and the config you imported works again.
nudge-change-server = 🌍 Change server
nudge-plans-button = 💳 Choose a plan

# Games in /server
game-choose-button = 🎮 Server for a game
game-choose = 🎮 Choose a game: I'll show the servers by their delay to its servers.
game-button = 🎮 { $game }
game-servers =
    🎮 <b>{ $game }</b>
    Servers by their delay to the game's servers (ping from our server; lower is better). Tap a server to move to it.
game-node = { $label } · { $ms } ms
game-node-unknown = { $label } · no data
game-node-current = ✅ { $button }
game-routes-button = 🧭 Only { $game } through the VPN
game-back = ◀️ Other games
game-routes-done = Done: on all your devices only { $game } traffic goes through the VPN, everything else goes direct. Import the new configs below. To send everything through the VPN again: /devices → “Routes”.
error-game-unknown = There is no such game. Open /server and choose from the list.
