## Selling: SBP, Stars subscriptions, promo codes, campaigns, gifts, add-ons, the offer, the trial's channel
cmd-promo = Enter a promo code: /promo CODE
cmd-promo-new = (admin) New promo code: /promo_new CODE DISCOUNT USES UNTIL [PLANS]
cmd-promos = (admin) Promo codes: uses and revenue
cmd-campaign = (admin) Campaign link: /campaign [NAME]

plan-button-discounted = 🏷 { $title } — { $prices }
plans-promo = 🏷 Promo code <b>{ $code }</b>: { $discount } off — the prices below include it.
plan-price-discounted = 🏷 Promo price: <b>{ $price }</b> instead of { $full }.
promo-held-note = ⏳ The discount is already in an unpaid order of yours: pay it the same way by the earlier link. If that order is canceled, the discount comes back.
pay-sbp = ⚡ SBP — { $rub } ₽
pay-stars-sub = 🔁 Stars, renew automatically — { $stars } ⭐ a month
pay-stars-sub-link = Subscribe — { $stars } ⭐ a month
pay-stars-sub-text = ⭐ Subscription: { $stars } ⭐ every 30 days, renewed by Telegram. Turn it off and on again with one button in /status.
pay-link-text-sbp = Press the button to pay { $rub } ₽ by SBP: choose your bank on the YooKassa page and confirm the payment in its app.
pay-link-text-gift = Press the button to pay for the gift, { $rub } ₽, on the YooKassa page. As soon as the payment goes through, I send you a link for your friend.
pay-link-text-addon = Press the button to pay { $rub } ₽ on the YooKassa page. The add-on works as soon as the payment goes through.
pay-link-text-auto-discount = Press the button to pay { $rub } ₽ on the YooKassa page. You agreed to auto-renewal: a day before the end we charge the plan's full price, { $full } ₽, to this card. Turn it off with one button in /status.
invoice-description-sub = Subscription: { $stars } ⭐ every 30 days. Turn it off in /status.
invoice-title-gift = Gift: { $title }
invoice-description-gift = VPN for { $title } as a gift: after paying you get a link for your friend.
invoice-title-device = VPN: one more device
invoice-title-traffic = VPN: { $gb } GB more a month
invoice-description-addon = Until the end of your plan ({ $days } days).

terms-ask = 📄 Before the first payment, please accept the offer and the privacy policy. One tap, and the payment goes on.
terms-offer = 📄 Offer
terms-privacy = 🔒 Privacy
terms-accept = ✅ I accept
terms-accepted = ✅ Thank you, accepted.

pay-back-plan = ← Back to the plan
pay-back-status = ← Back to status
gift-button = 🎁 Give this plan as a gift
gift-offer = 🎁 <b>Gift: { $title }</b>
    Pay, and I send you a link. The first person to open it gets { $days } days of access, and you are told when that happens.
gift-paid = 🎁 The gift is paid. Forward this link to the person it is for — it works once:
    { $link }
gift-redeemed = 🎁 Your gift was opened: { $name } gets { $days } days of access.
gift-received = 🎁 Someone gave you VPN: { $days } days of access!
gift-unknown = This gift link is not known or no longer works.
gift-taken = Someone has already opened this gift.
gift-own = This is your gift for a friend: forward the link to them.

addon-device-button = ➕ One more device
addon-traffic-button = ➕ { $gb } GB more a month
addon-device-offer = ➕ <b>One more device</b> until the end of your plan ({ $days } days).
addon-traffic-offer = ➕ <b>{ $gb } GB more a month</b> until the end of your plan ({ $days } days).
addon-paid-device = ✅ One more device slot until <b>{ $until }</b>. Add the device in /devices.
addon-paid-traffic = ✅ { $gb } GB more a month until <b>{ $until }</b>. If the VPN was off because of traffic, it works again.

status-stars-sub-on = ⭐ The Stars subscription renews on <b>{ $until }</b>.
status-stars-sub-off = ⭐ The Stars subscription is off, paid until <b>{ $until }</b>.
stars-sub-off-button = ⏹ Turn off the Stars subscription
stars-sub-on-button = ▶️ Turn on the Stars subscription
stars-sub-turned-off = The Stars subscription is off: no more Stars will be charged. Access stays until <b>{ $until }</b>.
stars-sub-turned-on = The Stars subscription is on again: Telegram renews it on <b>{ $until }</b>.

history-purpose = { $purpose ->
    [gift] 🎁 gift: { $title }
    [dev] ➕ device
    [gb] ➕ traffic
   *[other] { $title }
}

trial-channel = 🎁 The free trial is for members of our channel. Join it and press “I joined”.
trial-channel-join = 📣 Join the channel
trial-channel-check = ✅ I joined

promo-discount-percent = { $percent }%
promo-discount-fixed = { $rub } ₽
promo-gives-days = { $days } free days
promo-gives-discount = { $discount } off { $plans }
promo-all-plans = every plan
promo-taken = 🏷 Promo code <b>{ $code }</b> accepted: { $terms }. The discount applies to your next payment.
promo-days-taken = 🎁 Promo code accepted: +{ $days } days. Access until <b>{ $until }</b>.
promo-usage = Type the promo code like this: <code>/promo CODE</code>
promo-unknown = There is no such promo code. Check how it is spelled.
promo-expired = This promo code has expired.
promo-used-up = This promo code has been used by everyone it was for.
promo-already-used = You have already used this promo code.
promo-held = 🏷 Your promo discount is already in another unpaid order of yours. Pay it by the earlier link, or wait until it is canceled: then the discount comes back.
promo-new-usage =
    Usage: <code>/promo_new CODE DISCOUNT USES UNTIL [PLANS]</code>
    DISCOUNT: <code>20%</code>, <code>50₽</code> or <code>7d</code> (free days). UNTIL: <code>2026-12-31</code> (that day included). PLANS: codes separated by commas, e.g. <code>1m,3m</code> (none: every plan).
    Example: <code>/promo_new SUMMER 20% 100 2026-12-31 1m,3m</code>
promo-created =
    ✅ Promo code <code>{ $code }</code>: { $terms } · uses: { $uses } · valid until { $until }.
    Link: { $link }
    Or: <code>/promo { $code }</code>
promo-exists = Promo code <code>{ $code }</code> exists already.
promo-plan-unknown = There is no plan <code>{ $plan }</code> in PLANS.
promo-date = The code's last day must be today or later, and at most ten years away.
promo-too-big = The discount must be less than the plan's price ({ $rub } ₽).
promos-title = 🏷 <b>Promo codes</b>
promos-empty = No promo codes yet. A new one: /promo_new
promos-line = <code>{ $code }</code> · { $terms } · { $used }/{ $uses } · until { $until } · payments: { $payments } · { $revenue }

campaign-usage = Usage: <code>/campaign NAME</code> — Latin letters, digits and _, up to 32. Without a name: the list.
campaigns-title = 📣 <b>Campaigns</b>
campaigns-empty = No campaigns yet. A new one: <code>/campaign NAME</code>
campaign-created =
    📣 Campaign <b>{ $name }</b>: { $link }
    Together with a referral link: { $with_referral }CODE
    Registrations, trials, first payments and revenue are in /stats.
campaign-exists =
    📣 Campaign <b>{ $name }</b> exists: { $link }
    Together with a referral link: { $with_referral }CODE
stats-campaigns = 📣 <b>Campaigns</b>
stats-campaign = { $name }: registrations { $registrations } · trials { $trials } · first payments { $payers } · { $revenue }

error-terms-not-accepted = First accept the offer and the privacy policy: open the payment again.
error-trial-channel = The free trial is for members of our channel: { $url }
error-trial-channel-check = Could not check your membership of the channel. Please try again in a few minutes.
error-addon-unavailable = This add-on is not available for your plan now.
error-subscription-plan = Only a 30-day plan can be a Stars subscription.
error-no-stars-subscription = There is no Stars subscription now.
admin-trial-channel-unreadable = ⚠️ Cannot check membership of { $channel } for trials: make the bot an administrator of the channel. No trials are given until then.

page-pay-sbp = SBP
page-pay-stars-sub = Stars, renew automatically
page-pay-stars-sub-hint = With a Stars subscription Telegram renews the 30 days itself, at the full price; for the one-month plan only.
page-terms = Before the first payment, accept the offer and the privacy policy:
page-promo = Promo code
page-promo-apply = Apply
page-promo-active = Promo code { $code }: { $discount } off — the prices include it.
page-done-terms = Thank you, accepted. You can pay now.
page-done-promo = Promo code accepted.
page-error-terms = First accept the offer and the privacy policy.
page-error-trial-channel = The free trial is for members of our channel: { $url }. Join it and press the button again.
