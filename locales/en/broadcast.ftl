cmd-broadcast = (admin) Broadcast to everyone or a group
broadcast-ask-text =
    📣 Send the broadcast text in one message.
    Bold, italics, links and other formatting are kept.
broadcast-text-only = A broadcast can only be text: photos, files and stickers won't do. Send the text.
broadcast-text-command = That looks like a command. Send the broadcast text or press “Cancel”.
broadcast-text-empty = The text is empty. Send the broadcast text.
broadcast-text-too-long = The text is too long: { $length } characters, Telegram takes at most { $limit }. Shorten it and send it again.
broadcast-text-invalid = Telegram did not accept this text. Send another one.
broadcast-ask-audience = Who should get it? The number of recipients is in brackets (users who blocked the bot or are banned are not counted).
broadcast-audience-all = Everyone ({ $count })
broadcast-audience-access = With access ({ $count })
broadcast-audience-no-access = Without access ({ $count })
broadcast-audience-name-all = everyone
broadcast-audience-name-access = with access
broadcast-audience-name-no-access = without access
broadcast-audience-chosen = Recipients: { $audience }. This is how the message will look:
broadcast-confirm = ⬆️ Send this message? Recipients: { $count } ({ $audience }).
broadcast-send = ✅ Send
broadcast-nobody = There is nobody to send to in this group. Choose another one.
broadcast-stale = This broadcast was already sent or cancelled. Start again: /broadcast
broadcast-cancelled = Broadcast cancelled.
broadcast-started = 📣 Broadcast #{ $id } started, recipients: { $total }. Progress is in the next message.
broadcast-progress-running = ⏳ Broadcast #{ $id } in progress, recipients: { $total }
broadcast-progress-done = ✅ Broadcast #{ $id } finished, recipients: { $total }
broadcast-progress-counts =
    sent: { $sent }
    failed: { $failed }
    blocked the bot: { $blocked }
    left: { $left }
broadcast-progress-unknown = unknown (the bot restarted mid-send; not sent again): { $unknown }
