cmd-broadcast = (admin) Broadcast to everyone or a group
broadcast-ask-text =
    📣 Send the broadcast message: a text, or a photo, video or file with a caption.
    Bold, italics, links and other formatting are kept.
broadcast-text-only = A broadcast is a text, or a photo, video or file with a caption; stickers, voice messages and the like won't do. Send the message.
broadcast-text-command = That looks like a command. Send the broadcast text or press “Cancel”.
broadcast-text-empty = The text is empty. Send the broadcast text.
broadcast-text-too-long = The text is too long: { $length } characters, Telegram takes at most { $limit }. Shorten it and send it again.
broadcast-text-invalid = Telegram did not accept this message ({ $error }). Send it again, with another text or other buttons.
broadcast-ask-buttons =
    Buttons under the message, up to { $most }. Send one per line:
    <code>Title | https://address</code> for a link;
    <code>Title | config</code> for “Get config”;
    <code>Title | renew</code> for “Renew”.
    Or add a ready one below. No buttons: “Next”.
broadcast-buttons-added = Buttons ({ $count } of { $most }):
broadcast-button-line = { $number }. { $title } → { $target }
broadcast-button-config = get the config
broadcast-button-renew = renew access
broadcast-button-invalid =
    I did not understand this line: { $line }
    It takes <code>Title | https://address</code>, <code>Title | config</code> or <code>Title | renew</code>; a title of up to 64 characters.
broadcast-buttons-too-many = There can be at most { $most } buttons. Remove some and send again.
broadcast-buttons-hint = Send buttons as lines <code>Title | https://address</code>, or press “Next”.
broadcast-add-button = ➕ { $title }
broadcast-clear-buttons = 🗑 Remove the buttons
broadcast-next = Next →
broadcast-back = ◀️ Back to the recipients
broadcast-ask-audience = Who should get it? The number of recipients is in brackets (users who blocked the bot or are banned are not counted).
broadcast-audience = { $kind ->
    [access] With access
    [no_access] Without access
    [trial] On a trial
    [never_connected] Never connected
   *[all] Everyone
} ({ $count })
broadcast-audience-group = { $kind ->
    [expired] Access ended in the last N days…
    [node] By server…
    [region] By region…
   *[language] By language…
}
broadcast-ask-group = { $kind ->
    [node] Users with a device on the server:
    [region] Users with a device in the region:
   *[language] Users the bot speaks this language to:
}
broadcast-choice = { $label } ({ $count })
broadcast-group-empty = There is nothing to choose from here yet.
broadcast-ask-days = Whose access ended in how many last days? Send a number from 1 to { $most }.
broadcast-days-invalid = It takes a number of days from 1 to { $most }.
broadcast-audience-invalid = There is no such group of recipients.
broadcast-audience-name = { $kind ->
    [access] with access
    [no_access] without access
    [expired] access ended in the last { $value } days
    [trial] on a trial
    [never_connected] got a config but never connected
    [node] with a device on the server { $value }
    [region] with a device in the region { $value }
    [language] language: { $value }
   *[all] everyone
}
broadcast-audience-chosen = Recipients: { $audience }. This is how the message will look:
broadcast-confirm = ⬆️ Send this message? Recipients: { $count } ({ $audience }).
broadcast-send = ✅ Send
broadcast-nobody = There is nobody to send to in this group. Choose another one.
broadcast-stale = This broadcast was already sent or cancelled. Start again: /broadcast
broadcast-cancelled = Broadcast cancelled.
broadcast-started = 📣 Broadcast #{ $id } started, recipients: { $total }. Progress is in the next message.
broadcast-progress-running = ⏳ Broadcast #{ $id } in progress, recipients: { $total }
broadcast-progress-done = ✅ Broadcast #{ $id } finished, recipients: { $total }
broadcast-progress-stopped = ⏹ Broadcast #{ $id } stopped, recipients: { $total }
broadcast-progress-counts =
    sent: { $sent }
    failed: { $failed }
    blocked the bot: { $blocked }
    left: { $left }
broadcast-progress-unknown = unknown (the bot restarted mid-send; not sent again): { $unknown }
broadcast-progress-cancelled = not sent after the stop: { $cancelled }
broadcast-stop = ⏹ Stop the broadcast
broadcast-stopping = Stopping: whoever has not got it yet will not.
