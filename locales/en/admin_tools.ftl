# Command menu
cmd-backup = (admin) Database backup
cmd-stats = (admin) Statistics and a chart of new users

# Backups
backup-caption =
    💾 Database backup: <b>{ $name }</b> ({ $size } MB).
    🔐 Client keys in it are encrypted. To use it you need the encryption key (the file DATA_DIR/secret.key or ENCRYPTION_KEY), which is NOT in the backup: keep it separately.
    Restore: python main.py db restore FILE
backup-too-big =
    💾 The backup <b>{ $name }</b> ({ $size } MB) is over 50 MB: Telegram does not let a bot send a file that big.
    It is kept on the bot's server: { $path }
backup-failed = ⚠️ No backup was made: { $reason }

# Stats
stats-title = 📊 <b>Statistics</b> · { $now }
stats-users = 👥 Users: { $total } · new in 7 days: { $week }
stats-access = 🔓 With access now: { $count }
stats-access-kind = { "  " }• { $kind }: { $count }
stats-access-nobody = 🔓 With access now: nobody
stats-kind-invite = invited
stats-kind-trial = trial
stats-kind-paid = paid
stats-kind-none = no access
stats-handshakes = 🤝 Connected in the last 24 h: { $count } devices
stats-nodes = 🖥 <b>Nodes</b>
stats-node = { $mark } { $name }{ $draining } · { $state } · devices: { $devices } · last 24 h: { $handshakes } · ↓ { $received } · ↑ { $sent }
stats-node-up = peers: { $peers }
stats-node-down = unreachable
stats-node-unprobed = not probed yet
stats-node-draining = { " " }(draining)
stats-chart-title = New users in the last { $days } days
stats-chart-x = Day (UTC)
stats-chart-y = New users

# Throttling
throttle-warning = ⏳ Too many requests. Wait { $seconds } s and try again.
stats-revenue = 💰 Last 30 days: { $amounts } · payers: { $payers }
stats-conversion = 🎁 Trials: { $trials } · paid later: { $paid } ({ $percent }%)
cmd-set-endpoint = (admin) A server's new address: /set_endpoint NAME HOST:PORT
set-endpoint-usage = Usage: <code>/set_endpoint NAME HOST:PORT</code> — the new address clients connect to (for example when the old one is blocked). Every user of the server gets a new config.
set-endpoint-done = ✅ <b>{ $node }</b>: { $old } → { $new }. New config delivered to { $delivered }, not delivered { $undelivered }.
