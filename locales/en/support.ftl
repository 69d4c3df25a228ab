cmd-support = Write to support
support-button = 💬 Write to support
support-reply-button = 💬 Reply
support-done-button = ✅ Done
support-prompt =
    💬 <b>Support</b>
    Tell us what happened: a text, a screenshot or a file. Everything you send goes to the support staff, and their answer comes here.
    To finish: /done or the button below.
support-unavailable = Support is not available right now: there is no one to answer. Try again later.
support-sent = ✅ Sent to support. The answer will come here. You can add more: it all goes to the same place.
support-queued = ⏳ Support cannot be reached right now: your message is saved and will go as soon as possible.
support-failed = ❌ This message could not be passed on. Try again: a text, a screenshot or a file.
support-kinds = Support takes texts, photos and files. Describe it in words or send a screenshot.
support-closed = Done, the conversation is closed. If support answers, the answer comes here. To write again: /support
support-not-open = You are not writing to support now. To write: /support
support-closed-by-staff = Support closed the conversation. If there is anything else: /support
support-topic-header =
    🆕 Conversation: <b>{ $name }</b> { $username } (id <code>{ $id }</code>), language { $locale }.
    Everything you write in this topic goes to the user as the bot's message. /close ends the conversation.
support-topic-closed-by-user = The user closed the conversation. You can still answer: the message will reach them.
support-staff-header =
    📩 Writing to support: <b>{ $name }</b> { $username } (id <code>{ $id }</code>).
    To answer, reply to their message (swipe left or “Reply”): the answer goes as the bot's message. /close as a reply ends the conversation.
support-staff-closed = The conversation is closed and the user told.
support-staff-not-open = The conversation is already closed.
support-reply-queued = ⏳ Telegram has not taken the answer yet: it is saved and will go as soon as possible.
support-reply-failed = ❌ Not delivered: the user blocked the bot or deleted the chat.
support-topic-commands = Commands do not work here, except /close. A message without “/” goes to the user.
support-chat-refused = ⚠️ The bot cannot write to the support chat (SUPPORT_CHAT_ID): { $reason }. Make the bot an administrator with the “Manage topics” right; users' messages are saved and will go as soon as possible.
card-support = 💬 Support: { $open ->
    [yes] conversation open
   *[other] conversation closed
}, last message { $last }
card-support-topic = <a href="{ $url }">topic</a>
