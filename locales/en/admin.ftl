# Command menu (admin console)
cmd-find = (support) Find a user: /find id, @name or name
cmd-user = (support) User card: /user ID
cmd-invite = (admin) Invite link: /invite [days] [people]
cmd-role = (admin) Role: /role ID admin|support|user
cmd-audit = (admin) Action log: /audit [page]

# Banned
user-banned = ⛔ An administrator has blocked your access to this bot.

# Users list
users-header-filter = 👥 { $filter ->
    [act] With access
    [exp] Expired
    [no] No access
    [tri] Trial
    [paid] Paid
    [blk] Blocked the bot
    [ban] Banned
   *[other] All
}: { $from }–{ $to } of { $total }
users-empty-filter = Nobody in this list.
users-access-banned = ⛔ banned
users-filter = { $filter ->
    [act] Access
    [exp] Expired
    [no] No access
    [tri] Trial
    [paid] Paid
    [blk] Blocked bot
    [ban] Banned
   *[other] All
}

# Search
find-usage =
    Usage: <code>/find TEXT</code>
    Searches ids, @usernames and names, ignoring case.
find-too-long = The query is too long: { $most } characters at most.
find-nothing = Nobody found.
find-header = 🔎 Found: { $count }
find-line = <code>{ $id }</code> { $name } { $username } · { $access }
find-more = Only the first ones are shown — narrow the query.

# User card
card-usage = Usage: <code>/user ID</code> — a numeric Telegram id.
card-not-found = There is no user { $id }: they have not written to the bot yet.
card-title = 👤 <b>{ $name }</b> { $username } (id <code>{ $id }</code>)
card-role = Role: { $role ->
    [admin] admin
    [support] support
   *[other] user
}
card-banned = ⛔ Banned by an admin: the bot ignores them, the VPN does not work.
card-access-forever = 🔓 Access: no end date
card-access-until = 🔓 Access: until { $until }
card-access-ended = 🔒 Access ended { $until }
card-access-none = 🔒 No access
card-bot-blocked = 🚫 Blocked the bot: { $at }
card-no-devices = 📱 No devices.
card-device = 📱 { $node } · <code>{ $address }</code> · { $handshake } · ↓ { $received } ↑ { $sent }
card-button = { $action ->
    [x30] ➕ 30 days
    [x90] ➕ 90 days
    [rev] 🔒 Revoke access
    [ban] ⛔ Ban
    [unb] ✅ Unban
    [rst] 🗑 Reset devices
    [msg] ✉️ Message
   *[other] 🔄 Refresh
}
card-confirm = { $action ->
    [x30] Extend access of { $name } (id { $id }) by 30 days?
    [x90] Extend access of { $name } (id { $id }) by 90 days?
    [rev] Revoke access of { $name } (id { $id })? The VPN stops at once; devices are kept for a renewal.
    [ban] Ban { $name } (id { $id })? The VPN and the bot stop working for them at once.
    [unb] Unban { $name } (id { $id })?
    [rst] Delete all devices of { $name } (id { $id })? Their configs stop working at once.
   *[other] Go ahead for { $name } (id { $id })?
}
card-confirm-yes = ✅ Yes
card-done = { $action ->
    [rev] ✅ Access revoked.
    [ban] ✅ User banned.
    [unb] ✅ User unbanned.
    [rst] ✅ Devices deleted.
   *[other] ✅ Done.
}
console-node-pending = ⚠️ Server { $node } did not answer: the change applies at its next reconcile.
console-protected = Not allowed: that is an admin or yourself.

# Message to a user
message-prompt =
    ✉️ Write the message for { $name } (id <code>{ $id }</code>) — I will show it before sending.
    Changed your mind? /cancel
message-cancelled = Cancelled, nothing was sent.
message-too-long = Too long: { $most } characters at most.
message-preview =
    Send to { $name } (id <code>{ $id }</code>)?

    { $text }
message-send-yes = ✉️ Send
message-to-user =
    ✉️ A message from the administrators:

    { $text }
message-sent = ✅ Message delivered: { $name } (id <code>{ $id }</code>).
message-not-delivered = ❌ Not delivered: { $name } (id <code>{ $id }</code>) blocked the bot or deleted the chat.

# Invites
invite-usage =
    Usage: <code>/invite [days] [people]</code>
    Days from 0 to 3650 (0: no end date, 30 by default), people from 1 to 1000 (1 by default).
invite-days = { $days } days
invite-days-forever = no end date
invite-created =
    🎟 Invite: { $link }
    Access: { $length } · for { $uses } people · valid until { $expires }
invite-accepted = 🎉 Invite accepted!
invite-not-needed = You already have access — the invite stays unused.
invite-unknown = There is no such invite. Check the link or ask for a new one.
invite-expired = This invite has expired. Ask for a new one.
invite-used-up = This invite has already been used. Ask for a new one.

# Roles
role-usage =
    Usage: <code>/role ID admin|support|user</code>
    The user must have written to the bot at least once.
role-from-settings = The role of { $id } comes from the settings (ADMIN_IDS or SUPPORT_IDS) and cannot be changed in the chat.
role-set = ✅ { $name } (id <code>{ $id }</code>): { $before } → { $role }.

# Audit
audit-usage = Usage: <code>/audit [page]</code>
audit-empty = The log is empty.
audit-header = 📜 Action log, page { $page } of { $pages } ({ $total } in all)
audit-line = { $at } · <code>{ $actor }</code> · { $action } · { $target } { $details }
audit-actor-operator = the operator (CLI)
audit-action = { $action ->
    [add_user] granted access (/add_user)
    [grant] granted access
    [extend] extended access
    [revoke] revoked access
    [ban] banned
    [unban] unbanned
    [reset_devices] reset devices
    [message] sent a message
    [role] changed a role
    [invite] created an invite
    [add_node] added a server
    [restore_node] restored a server
    [migrate] migrated a server
    [drain] drained a server
    [reconcile] reconciled a server
    [broadcast] started a broadcast
    [broadcast_stop] stopped a broadcast
    [refund] refunded a payment
    [set_endpoint] changed a server's address
    [ssh_key_rotate] rotated the bot's SSH key
    [db_restore] restored the database from a backup
    [remove_foreign] removed a server's foreign peers
    [accept_host_key] accepted a node's new SSH host key
    [promo_twice] paid at a discount another payment had taken
   *[other] { $action }
}
card-kind = 💼 { $kind ->
    [invite] By invite
    [trial] Trial
    [paid] Paid
   *[other] No access
} · plan { $plan }
card-auto-renew = 🔁 Auto-renewal is on (card saved)
card-trial-used = 🎁 Trial taken { $at }
card-referrer = 👥 Came by the link of { $name } (id <code>{ $id }</code>)
card-payment = 🧾 { $date } · { $amount } · { $provider } · { $status ->
    [succeeded] paid
    [refunded] refunded
    [held] held
    [canceled] canceled
   *[other] { $status }
} · <code>{ $charge }</code>
