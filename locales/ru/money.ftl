## Subscriptions: plans, payments, trial, auto-renewal, referrals, reminders
cmd-subscribe = Оплатить или продлить доступ
cmd-referral = Пригласить друга и получить дни
cmd-refund = (админ) Вернуть оплату звёздами: /refund ID_ПЛАТЕЖА

plan-months = { $months ->
    [one] { $months } месяц
    [few] { $months } месяца
   *[many] { $months } месяцев
}
plan-days = { $days ->
    [one] { $days } день
    [few] { $days } дня
   *[many] { $days } дней
}
price-rub = { $rub } ₽
price-stars = { $stars } ⭐
plan-button = { $title } — { $prices }
plans-title = 💳 <b>Тарифы</b>
    Выберите срок. Доступ продлевается от даты окончания текущего, ничего не теряется.
plan-traffic = { $gb } ГБ в месяц
plan-unlimited = без ограничения трафика
plan-details =
    <b>{ $title }</b>
    Устройств: до { $devices }, { $traffic }.
    Как оплатить?
pay-card = 💳 Картой — { $rub } ₽
pay-card-auto = 🔁 Картой с автопродлением — { $rub } ₽
pay-stars = ⭐ Звёздами Telegram — { $stars }
pay-back = ← К тарифам
pay-creating = Готовлю ссылку на оплату…
pay-link = Оплатить { $rub } ₽
pay-link-text = Нажмите кнопку, чтобы оплатить { $rub } ₽ на странице ЮKassa. Доступ продлится сам, как только платёж пройдёт.
pay-link-text-auto = Нажмите кнопку, чтобы оплатить { $rub } ₽ на странице ЮKassa. Вы согласились на автопродление: за сутки до окончания мы спишем ту же сумму с этой карты. Отключить — одной кнопкой в /status.
invoice-title = VPN: { $title }
invoice-description = Доступ на { $title }, до { $devices } устройств.
checkout-refused = Это предложение устарело. Откройте /subscribe и выберите тариф заново.
paid-credited = ✅ Оплата получена. Доступ до <b>{ $until }</b>. Ваши конфигурации снова работают.
paid-already = Этот платёж уже учтён.
paid-held = ⭐ Оплата получена, но зачесть её автоматически не удалось. Администратор уже знает: он продлит доступ или вернёт звёзды.
payments-off = Оплата пока не настроена. Напишите администратору.
renew-button = 💳 Продлить
subscribe-button = 💳 Оформить подписку
trial-button = 🎁 Попробовать бесплатно
cancel-renew-button = ⏹ Отключить автопродление
history-button = 🧾 История платежей
referral-button = 👥 Пригласить друга
trial-started = 🎁 Пробный доступ открыт до <b>{ $until }</b>. Нажмите «Получить конфигурацию».
renew-cancelled = Автопродление отключено, карта больше не будет списываться. Доступ остаётся до <b>{ $until }</b>.
renew-cancelled-open = Автопродление отключено, карта больше не будет списываться.
renew-failed = ⚠️ Не удалось продлить подписку с сохранённой карты. Доступ остаётся до <b>{ $until }</b> — продлите вручную: /subscribe
history-empty = Платежей пока нет.
history-title = 🧾 <b>История платежей</b>
history-line = { $date } · { $title } · { $amount } · { $status ->
    [succeeded] оплачен
    [refunded] возвращён
    [held] ждёт решения администратора
   *[other] { $status }
}
referral-text =
    👥 <b>Приглашайте друзей</b>
    Ваша ссылка: { $link }
    Когда приглашённый впервые оплатит подписку, вы получите { $days } дн. бесплатно.
    Пришло по ссылке: { $invited }, оплатили: { $paid }.
referral-bonus = 🎉 Ваш друг оплатил подписку — вам добавлены бонусные дни. Доступ до <b>{ $until }</b>.
referral-bonus-forever = 🎉 Ваш друг оплатил подписку. Ваш доступ и так без ограничения срока — он таким и остаётся.
reminder-3d = ⏳ Доступ закончится через 3 дня, <b>{ $until }</b>. Продлите, чтобы VPN не отключился.
reminder-1d = ⏳ Доступ закончится завтра, <b>{ $until }</b>. Продлите, чтобы VPN не отключился.
reminder-3d-auto = ⏳ Через 3 дня, <b>{ $until }</b>, подписка продлится автоматически с сохранённой карты. Отключить можно в /status.
reminder-1d-auto = ⏳ Завтра, <b>{ $until }</b>, подписка продлится автоматически с сохранённой карты. Отключить можно в /status.
reminder-expired = 🔒 Доступ закончился { $until }. VPN отключён; после продления та же конфигурация снова заработает — ничего переустанавливать не нужно.
reminder-expired-grace = 🔒 Доступ закончился { $until }. До <b>{ $grace_until }</b> VPN открывает только Telegram — этого хватит, чтобы продлить, даже если Telegram у вас заблокирован: /subscribe. { $stars ->
    [yes] Звёздами можно оплатить прямо в Telegram; чтобы оплатить картой, выключите VPN — страницы оплаты через него не открываются.
   *[no] Чтобы оплатить картой, выключите VPN — страницы оплаты через него не открываются.
} После продления та же конфигурация снова работает полностью.
traffic-limit-reached = 📶 Трафик по вашему тарифу на этот месяц израсходован. VPN отключён до <b>{ $until }</b>; продление или новый тариф включат его сразу.
traffic-restored = 📶 Начался новый месяц трафика — VPN снова работает.
status-traffic-blocked = 📶 Трафик на этот месяц израсходован, VPN включится <b>{ $until }</b>.
status-plan = Тариф: { $title }
status-auto-renew-on = 🔁 Автопродление включено.
status-auto-renew-off = Автопродление выключено.
refund-usage = Использование: <code>/refund ID_ПЛАТЕЖА</code> (telegram_payment_charge_id из истории платежей).
refund-failed = ❌ Telegram не вернул оплату: { $reason }
refund-done = ✅ { $stars } ⭐ возвращены пользователю { $user_id }. Доступ теперь до { $until }.
admin-stars-held =
    ⚠️ Оплата звёздами не зачтена: пользователь <code>{ $user }</code> заплатил { $stars } ⭐, но { $reason ->
        [plan] такого тарифа больше нет
        [banned] он заблокирован
        [amount] сумма не совпадает со счётом
        [user] счёт был выставлен другому пользователю
        [currency] валюта не звёзды
       *[other] счёт выставлен не этим ботом
    }.
    Платёж сохранён. Верните звёзды: <code>/refund { $charge }</code> — или продлите доступ вручную: <code>/add_user { $user } ДНИ</code>
error-trials-off = Пробный период не предусмотрен.
error-trial-used = Пробный период уже был на этом аккаунте. Оформить подписку: /subscribe
error-already-has-access = У вас уже есть доступ — пробный период не нужен.
error-payments-off = Этот способ оплаты не настроен.
error-plan-not-found = Такого тарифа больше нет. Откройте /subscribe заново.
error-payment-unavailable = Платёжная система не ответила, деньги не списаны. Попробуйте ещё раз через минуту — повторное нажатие не создаст второй платёж.
error-payment-not-found = Платёж не найден или уже возвращён.
