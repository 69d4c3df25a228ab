## Subscriptions: plans, payments, trial, auto-renewal, referrals, reminders
cmd-subscribe = Pay for or renew access
cmd-referral = Invite a friend and get days
cmd-refund = (admin) Refund a Stars payment: /refund CHARGE_ID

plan-months = { $months ->
    [one] { $months } month
   *[other] { $months } months
}
plan-days = { $days ->
    [one] { $days } day
   *[other] { $days } days
}
price-rub = { $rub } ₽
price-stars = { $stars } ⭐
plan-button = { $title } — { $prices }
plans-title = 💳 <b>Plans</b>
    Choose a length. Access is extended from the end of the current one, nothing is lost.
plan-traffic = { $gb } GB a month
plan-unlimited = no traffic limit
plan-details =
    <b>{ $title }</b>
    Up to { $devices } devices, { $traffic }.
    How would you like to pay?
pay-card = 💳 By card — { $rub } ₽
pay-card-auto = 🔁 By card, renew automatically — { $rub } ₽
pay-stars = ⭐ Telegram Stars — { $stars }
pay-back = ← Back to plans
pay-creating = Preparing the payment link…
pay-link = Pay { $rub } ₽
pay-link-text = Press the button to pay { $rub } ₽ on the YooKassa page. Access is extended as soon as the payment goes through.
pay-link-text-auto = Press the button to pay { $rub } ₽ on the YooKassa page. You agreed to auto-renewal: a day before the end we charge the same amount to this card. Turn it off with one button in /status.
invoice-title = VPN: { $title }
invoice-description = Access for { $title }, up to { $devices } devices.
checkout-refused = This offer is out of date. Open /subscribe and choose a plan again.
paid-credited = ✅ Payment received. Access until <b>{ $until }</b>. Your configs work again.
paid-already = This payment is already counted.
paid-held = ⭐ Payment received, but it could not be applied automatically. An admin has been told and will extend your access or refund the Stars.
payments-off = Payments are not set up yet. Please write to the admin.
renew-button = 💳 Renew
subscribe-button = 💳 Subscribe
trial-button = 🎁 Try for free
cancel-renew-button = ⏹ Turn off auto-renewal
history-button = 🧾 Payment history
referral-button = 👥 Invite a friend
trial-started = 🎁 Your trial is open until <b>{ $until }</b>. Press "Get config".
renew-cancelled = Auto-renewal is off; your card will not be charged again. Access remains until <b>{ $until }</b>.
renew-cancelled-open = Auto-renewal is off; your card will not be charged again.
renew-failed = ⚠️ We could not renew with the saved card. Access remains until <b>{ $until }</b> — renew by hand: /subscribe
history-empty = No payments yet.
history-title = 🧾 <b>Payment history</b>
history-line = { $date } · { $title } · { $amount } · { $status ->
    [succeeded] paid
    [refunded] refunded
    [held] awaiting an admin
   *[other] { $status }
}
referral-text =
    👥 <b>Invite friends</b>
    Your link: { $link }
    When someone you invited pays for the first time, you get { $days } free days.
    Came by your link: { $invited }, paid: { $paid }.
referral-bonus = 🎉 A friend you invited paid — bonus days added. Access until <b>{ $until }</b>.
referral-bonus-forever = 🎉 A friend you invited paid. Your access has no end date, and it stays so.
reminder-3d = ⏳ Your access ends in 3 days, <b>{ $until }</b>. Renew so the VPN keeps working.
reminder-1d = ⏳ Your access ends tomorrow, <b>{ $until }</b>. Renew so the VPN keeps working.
reminder-3d-auto = ⏳ In 3 days, <b>{ $until }</b>, your subscription renews automatically with the saved card. Turn it off in /status.
reminder-1d-auto = ⏳ Tomorrow, <b>{ $until }</b>, your subscription renews automatically with the saved card. Turn it off in /status.
reminder-expired = 🔒 Your access ended on { $until }. The VPN is off; after renewal the same config or VLESS link works again — nothing to reinstall.
reminder-expired-grace = 🔒 Your access ended on { $until }. Until <b>{ $grace_until }</b> the VPN opens only Telegram — enough to renew even where Telegram is blocked: /subscribe. { $stars ->
    [yes] Stars can be paid right inside Telegram; to pay by card, turn the VPN off — payment pages do not open through it.
   *[no] To pay by card, turn the VPN off — payment pages do not open through it.
} After renewal the same config or VLESS link works fully again — nothing to import anew.
traffic-limit-reached = 📶 Your plan's traffic for this month is used up. The VPN is off until <b>{ $until }</b>; renewing or a new plan turns it on at once.
traffic-restored = 📶 A new traffic month has begun — the VPN works again.
status-traffic-blocked = 📶 This month's traffic is used up; the VPN comes back on <b>{ $until }</b>.
status-plan = Plan: { $title }
status-auto-renew-on = 🔁 Auto-renewal is on.
status-auto-renew-off = Auto-renewal is off.
refund-usage = Usage: <code>/refund CHARGE_ID</code> (the telegram_payment_charge_id from the payment history).
refund-failed = ❌ Telegram did not refund the payment: { $reason }
refund-done = ✅ { $stars } ⭐ refunded to user { $user_id }. Access now until { $until }.
admin-stars-held =
    ⚠️ A Stars payment was not applied: user <code>{ $user }</code> paid { $stars } ⭐, but { $reason ->
        [plan] that plan is gone
        [banned] they are banned
        [amount] the amount differs from the invoice
        [user] the invoice was made for another user
        [currency] the currency is not Stars
       *[other] the invoice was not made by this bot
    }.
    The payment is stored. Refund it: <code>/refund { $charge }</code> — or extend access by hand: <code>/add_user { $user } DAYS</code>
error-trials-off = There is no free trial.
error-trial-used = This account has had its trial already. Subscribe: /subscribe
error-already-has-access = You already have access — no trial needed.
error-payments-off = This way of paying is not set up.
error-plan-not-found = That plan is gone. Open /subscribe again.
error-payment-unavailable = The payment system did not answer; nothing was charged. Try again in a minute — pressing again will not create a second payment.
error-payment-not-found = Payment not found, or refunded already.
