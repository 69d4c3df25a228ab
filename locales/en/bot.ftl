# Command menu
cmd-start = Main menu
cmd-get-config = Get my config and QR code
cmd-regen = New keys (the old config stops working)
cmd-server = Choose a server
cmd-vless = VLESS link, for networks that block the VPN
cmd-status = My access and connection
cmd-help = Help and how-to
cmd-language = Language / Язык
cmd-add-user = (admin) Grant access: /add_user ID [days]
cmd-users = (admin) Users
cmd-nodes = (admin) Servers
cmd-add-node = (admin) Add a server: /add_node NAME ssh://root@HOST [region]
cmd-reconcile = (admin) Bring a server in line with the database: /reconcile NAME
cmd-restore-node = (admin) Restore a server: /restore_node NAME [ssh://…]
cmd-accept-host-key = (admin) Accept a server's new SSH host key: /accept_host_key NAME
cmd-migrate = (admin) Move everyone: /migrate FROM TO
cmd-drain = (admin) Take a server out: /drain NAME

# Start and menu
start-welcome =
    Hi, { $name }! 👋
    This is a WireGuard VPN: press “Get config” to receive a file for your computer and a QR code for your phone.
start-access-until = Your access is open until { $until }.
start-access-forever = Your access has no end date.
start-no-access =
    Hi, { $name }! 👋
    This is a private VPN service and you have no access yet.
    To get it, ask the admin — we have already sent them your request. I will write as soon as access is open.
start-no-access-again = The admin already has your request. I will write as soon as access is open.
menu-get-config = 📥 Get config
menu-server = 🌍 Server
menu-status = 📊 Status
menu-help = ❓ Help
menu-language = 🌐 Language / Язык
menu-title = What would you like to do?

# Config
config-preparing = ⏳ Preparing your config…
config-document-caption =
    Config for server <b>{ $node }</b>.
    Computer: import this file into the WireGuard app.
config-qr-caption = Phone: in the WireGuard app tap “+” → “Scan from QR code”.
regen-confirm =
    Create new keys?
    Your current config stops working at once — every device will need the new one.
regen-yes = 🔑 Yes, new keys
regen-cancelled = Cancelled. Your config is unchanged.
regen-done = Done: new keys. The old config no longer works — import the new one.
button-cancel = Cancel

# Server
server-choose = Choose a server. In brackets: how many devices it serves now.
server-current = Your server now: <b>{ $node }</b>.
server-button = { $label } ({ $devices })
server-button-current = ✅ { $label } ({ $devices })
server-button-load = { $button } · CPU { $load }%
server-moved = Done: you are on server <b>{ $node }</b>. Import the new config — the old one no longer works.
server-same = You are already on server <b>{ $node }</b>.

# Status
status-access-until = 🔓 Access: until { $until }
status-access-forever = 🔓 Access: no end date
status-no-access = 🔒 No access. Ask the admin.
status-no-device = 📱 Device: none yet — press “Get config”.
status-device =
    🌍 Server: { $node }
    📱 Device: { $address }
status-handshake = 🤝 Last connected: { $ago } ago
status-handshake-never = 🤝 No connection yet — import the config and switch the tunnel on.
status-node-unreachable = ⚠️ The server is not answering right now; connection details are unavailable.
status-traffic = 📶 Traffic: ↓ { $received } · ↑ { $sent }
probed-ago = 🕒 As the server reported { $ago } ago

# Help
help-text =
    <b>Commands</b>
    /get_config — config file and QR code
    /devices — your devices: add, rename, routes, remove
    /server — choose a server (you get a new config)
    /vless — a VLESS link, if your network blocks the VPN
    /status — access end date, server, last connection and traffic
    /regen — new keys, if your file fell into the wrong hands
    /language — the bot's language
    /support — write to support
    /help — this help

    <b>How to connect</b>: choose your device below for the app's link and three steps.

    Not working? Send /status: if there was no connection, check the tunnel is on; if the server is not answering, pick another in /server.

# Language
language-choose = Choose a language:
language-set = Done: the language is English.

# Admin
admin-only = This command is for admins only.
admin-access-request =
    🙋 Access request: <b>{ $name }</b> { $username } (id <code>{ $id }</code>).
admin-grant-30 = ✅ 30 days
admin-grant-forever = ✅ No end date
admin-granted = ✅ { $name } (id <code>{ $id }</code>): access { $until }.
admin-granted-forever = with no end date
admin-granted-until = until { $until }
admin-granted-notified = The user has been told.
admin-granted-not-started = The user has not started the bot yet — they will see their access after /start.
add-user-usage =
    Usage: <code>/add_user ID [days]</code>
    ID is a numeric Telegram id, days a whole number from 1 to 3650; without days access has no end date.
user-access-granted-forever = 🎉 Your access is open with no end date. Press “Get config”.
user-access-granted-until = 🎉 Your access is open until { $until }. Press “Get config”.
users-header = 👥 Users { $from }–{ $to } of { $total }
users-empty = No users yet.
users-line = <code>{ $id }</code> { $name } · { $details }
users-traffic = ↓ { $received } ↑ { $sent }
users-access-none = no access
users-access-forever = no end date
users-access-until = until { $until }
users-no-node = no device
users-devices = { $count } { $count ->
    [one] device
   *[other] devices
}: { $nodes }
users-handshake-never = never connected
users-handshake-unknown = ?
users-handshake-ago = { $ago } ago
button-previous = ◀️ Previous
button-next = Next ▶️
nodes-empty = No servers yet. Add one: <code>python main.py node add NAME ssh://root@HOST</code>
nodes-line-up = 🟢 <b>{ $name }</b> { $region } · { $endpoint }
    devices: { $devices } · peers on the server: { $peers } · load: { $load } on { $cpus } CPU
nodes-line-down = 🔴 <b>{ $name }</b> { $region } · { $endpoint }
    devices: { $devices } · unreachable: { $reason }
admin-node-full = ⚠️ Server <b>{ $node }</b> has run out of addresses: a new user could not get a config.

# Errors
error-generic = Something went wrong. Please try again a little later.
error-no-access = You have no access. Ask the admin — /start sends them your request.
error-no-nodes = There is no server available yet. The admin already knows.
error-no-vless-node = No server offers VLESS yet: write to support and we will turn it on.
error-node-unavailable = Server { $node } is unavailable right now. Try another:
error-node-full = Server { $node } has no free places. Choose another:
error-node-not-found = That server is no longer on the list. Choose another:
error-no-device = You have no device yet — press “Get config”.
error-user-not-found = User { $user_id } has not started the bot yet. Ask them to send /start — you will get a request with a button.
error-invalid-input = Invalid input.
error-reality-settings = These VLESS settings are not valid: { $reason }. Nothing was changed.
error-stale-button = This button is out of date. Open the menu again: /start
error-too-long = That message is too long.
unknown-message = I did not understand. Use the menu or /help.

# Units
unit-bytes = { $value } B
unit-kib = { $value } KiB
unit-mib = { $value } MiB
unit-gib = { $value } GiB
ago-seconds = { $value } s
ago-minutes = { $value } min
ago-hours = { $value } h
ago-days = { $value } d

# Nodes (admin)
add-node-usage =
    Usage: <code>/add_node NAME ssh://root@HOST[:PORT] [region] [iface=wg0] [port=51820] [subnet=10.8.0.1/20] [subnet6=fd08::1/64] [endpoint=HOST:PORT] [mtu=1420] [proto=wg|awg] [awg=1.0|1.5|2.0]</code>
    NAME is a-z, 0-9 and “-”, up to 15 characters. A server with WireGuard up is adopted as it is, keeping the peers it has; a bare one is set up: { $steps }. proto=awg runs AmneziaWG, which disguises the VPN (version 2.0 and mtu=1376 unless given; installed on Ubuntu only).
node-adding = 🛠 Adding server <b>{ $node }</b>…
node-restoring = 🛠 Restoring server <b>{ $node }</b>…
node-step = { $step ->
    [check] checking the system
    [packages] installing WireGuard
    [forwarding] forwarding and BBR
    [nat] NAT
    [grace] grace period rules (Telegram only)
    [interface] WireGuard interface
    [start] starting
   *[other] { $step }
}
node-added =
    ✅ Server <b>{ $node }</b> added.
    Endpoint: <code>{ $endpoint }</code>, subnet: <code>{ $subnet }</code>
    Public key: <code>{ $key }</code>
node-add-failed = ❌ Server <b>{ $node }</b>: { $reason }
node-restored = ✅ Server <b>{ $node }</b> restored ({ $endpoint }): { $peers } peers put back. Users' old configs work again.
node-restored-vless = VLESS: users served by Xray again — { $users }.
vless-node-down = ⚠️ VLESS on <b>{ $node }</b> is not working ({ $reason }). Install Xray on the server (<code>scripts/xray-setup.sh</code>) and run /reconcile { $node }: the VLESS users come back with the same links.
reconcile-usage = Usage: <code>/reconcile NAME</code>
reconcile-clean = ✅ <b>{ $node }</b> matches the database; nothing had to change.
reconcile-failed = ❌ Could not reconcile <b>{ $node }</b>: { $reason }
admin-reconcile-changed = 🔧 <b>{ $node }</b> brought in line with the database: { $added } added, { $removed } removed, { $fixed } fixed.
restore-usage = Usage: <code>/restore_node NAME [ssh://root@NEW_HOST]</code>
migrate-usage = Usage: <code>/migrate FROM TO</code>
drain-usage = Usage: <code>/drain NAME</code> — no new users go there, and the current ones move.
moving = 🚚 Moving users: { $source } → { $target }…
moved-report = ✅ { $source } → { $target }: { $moved } moved, { $delivered } got their config, { $undelivered } not delivered.
moved-old-peers-left = ⚠️ { $source } is not answering: reconcile removes the old peers when it is back.
moved-notice = 🔄 We moved you to server <b>{ $node }</b>. Import the new config — the old one stops working soon.
vless-moved-report = ✅ VLESS → { $target }: { $moved } moved (same ids), { $delivered } got the new link.
vless-moved-none = ⚠️ { $stayed } VLESS devices stay on { $source }: no other server runs VLESS. Enable it on one (<code>scripts/run.sh node vless NAME …</code>) and repeat the command.
vless-moved-unreachable = ⚠️ { $stayed } VLESS devices stay on { $source }: { $target } is not answering. Repeat the command when it is back.
vless-moved-notice =
    🔄 We moved your VLESS to server <b>{ $node }</b>. Import the new link (/vless shows it with a QR code); a subscription updates by itself:
    <code>{ $link }</code>
endpoint-changed-notice = 🔄 Server <b>{ $node }</b> has a new address. Import the new config — the old one no longer connects to it.
admin-node-exists = Server <b>{ $node }</b> already exists. The list: /nodes
admin-node-unknown = There is no server <b>{ $node }</b>. The list: /nodes
admin-move-invalid = Cannot move like that: name two different servers, and the second must be enabled.
admin-node-unreachable = ❌ Server <b>{ $node }</b> is unreachable; nothing was changed.
admin-target-full = ❌ Server <b>{ $node }</b> does not have enough addresses; nothing was changed.
error-node-key-unknown = Server <b>{ $node }</b> has no stored key, so it cannot be rebuilt with the same key. Add it again.
admin-node-down = 🔴 Server <b>{ $node }</b> is down ({ $failures } checks in a row): { $reason }
admin-node-recovered = 🟢 Server <b>{ $node }</b> is back.
node-add-check-key =
    🔑 Server <b>{ $node }</b> ({ $address }) presents this SSH host key:
    <code>{ $fingerprint }</code>
    Compare it with the key on the server itself (<code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code>). Nothing changes on the server until you confirm.
node-add-confirm-button = ✅ The key is right, add
node-add-cancel-button = Cancel
node-add-cancelled = Adding server <b>{ $node }</b> was cancelled; nothing was changed on it.
admin-host-key-changed =
    🔐 Server <b>{ $node }</b> presented another SSH host key — the bot no longer works with it.
    Was: <code>{ $pinned }</code>
    Now: <code>{ $offered }</code>
    If the server was reinstalled, accept the new key with the button below or /accept_host_key { $node }. If not, check the server: it may have been replaced.
error-host-key-changed =
    🔐 Server <b>{ $node }</b> presented another SSH host key; nothing was changed.
    Was: <code>{ $pinned }</code>
    Now: <code>{ $offered }</code>
    If this is your reinstalled server, accept the key (/accept_host_key { $node }) and run the command again.
error-host-key-mismatch = ❌ Server <b>{ $node }</b> presents the key <code>{ $offered }</code>, not <code>{ $expected }</code>. Nothing was changed.
error-host-key-none = Server <b>{ $node }</b> has presented no new SSH host key to accept.
accept-host-key-usage = Usage: <code>/accept_host_key NAME [SHA256:…]</code>
host-key-offer =
    🔐 Server <b>{ $node }</b> presents a new SSH host key.
    Was: <code>{ $pinned }</code>
    Now: <code>{ $offered }</code>
    Accept it?
host-key-accept-button = ✅ Accept the new key
host-key-accepted = ✅ The new SSH host key of server <b>{ $node }</b> is accepted: <code>{ $offered }</code>. The bot works with the server again; if it was reinstalled, restore it: /restore_node { $node }

# AmneziaWG: "my internet blocks the VPN"
server-unblock-button = 🚫 My internet blocks the VPN
server-unblocked =
    Done: you are on server <b>{ $node }</b> with AmneziaWG — it disguises VPN traffic so blocking does not recognise it.
    The WireGuard app cannot open this config: install <b>AmneziaVPN</b> or <b>AmneziaWG</b> (App Store, Google Play or amnezia.org) and import the file or QR code below into it. The old config no longer works.
server-unblock-none = No server that disguises the VPN (AmneziaWG) is available right now. Try again later or contact support: /help
server-unblock-already =
    You are already on server <b>{ $node }</b>, which disguises the VPN (AmneziaWG).
    If it does not connect, check that the config was imported into AmneziaVPN or AmneziaWG, not into WireGuard.
server-amnezia-hint = This is an AmneziaWG server: install <b>AmneziaVPN</b> or <b>AmneziaWG</b> (App Store, Google Play or amnezia.org) — the WireGuard app cannot open this config.

# VLESS with Reality: for networks that block WireGuard and AmneziaWG
server-unblock-vless-button = 🛡 Get a VLESS link
server-unblock-try-vless = Still blocked? VLESS with Reality looks like an ordinary visit to a website and passes where WireGuard and AmneziaWG do not. It needs another app (see below).
vless-intro = Your VLESS link is below: copy it, or scan the QR code. It stays the same: after a renewal the same link works again.
vless-qr-caption = Scan this QR code in the app, or copy the link above.
vless-subscription =
    Subscription link (the app keeps your links up to date by itself):
    <code>{ $link }</code>
vless-apps =
    <b>How to connect</b>
    Android: <b>v2rayNG</b> or <b>Hiddify</b> (Google Play) — tap “+”, “Import from clipboard” or scan the QR code.
    iPhone and iPad: <b>Streisand</b>, <b>Happ</b> or <b>Hiddify</b> (App Store) — tap “+” and paste the link or scan the QR code.
    Windows, macOS, Linux: <b>Hiddify</b> — “New profile”, “Add from clipboard”.
    sing-box apps (SFA, SFI, SFM): add the subscription link as a remote profile.
    The WireGuard and AmneziaWG apps cannot open this link.
config-document-caption-awg =
    AmneziaWG config for server <b>{ $node }</b>.
    Computer: import this file into AmneziaVPN or AmneziaWG — WireGuard cannot open it.
config-qr-caption-awg = Phone: in AmneziaVPN or AmneziaWG tap “+” and scan this QR code.
