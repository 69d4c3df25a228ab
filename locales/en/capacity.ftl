# Peers a node had before the bot adopted it (made by hand or by another panel)
cmd-foreign = (admin) A server's peers the bot did not make: /foreign NAME
node-added-foreign = 🧩 Kept { $count } peers that were already on the interface: the bot leaves them and their addresses alone. List or remove them: /foreign { $node }
nodes-foreign = 🧩 foreign peers: { $count } (/foreign { $node })
foreign-usage = Usage: <code>/foreign NAME</code> — the peers of a server that the bot did not make.
foreign-none = <b>{ $node }</b> has no foreign peers.
foreign-header = 🧩 Peers on <b>{ $node }</b> that the bot did not make (found when the server was added): { $count }. The bot keeps them and never gives their addresses to new devices.
foreign-line = { $number }. <code>{ $key }</code> · { $ips } · found { $found }
foreign-no-ips = no addresses
foreign-more = …and { $more } more: “Remove all” removes them too.
foreign-remove-one = 🗑 { $number }
foreign-remove-all = 🗑 Remove all
foreign-confirm-one = Remove the peer <code>{ $key }</code> ({ $ips }) from <b>{ $node }</b>? Whoever uses it loses the VPN at once.
foreign-confirm-all = Remove all { $count } foreign peers from <b>{ $node }</b>? Whoever uses them loses the VPN at once.
foreign-confirm-yes = 🗑 Yes, remove
foreign-cancelled = Cancelled, nothing was removed.
foreign-removed = ✅ Foreign peers removed from <b>{ $node }</b>: { $count }. Their addresses are free for new devices.

# Capacity: trials, full servers, addresses given back
error-nodes-full = There are no free places on the servers right now. The administrators know; please try again later.
error-trials-full = The free places for trials are taken right now. Try again later, or get full access: /subscribe
error-trials-busy = Too many trials are being started right now. Try again in an hour, or get full access: /subscribe
admin-trial-cap = ⚠️ { $limit } trials were started in the last hour (TRIALS_PER_HOUR): new trials are refused until the hour is over.
readdressed-notice = 🔄 Welcome back! While you were away your device's address on server <b>{ $node }</b> went to someone else, so here is a new config. Import it again — the old one no longer works.
devices-no-address = none: given back after a long time without access, a new one comes with access
