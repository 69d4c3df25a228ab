## Selling: SBP, Stars subscriptions, promo codes, campaigns, gifts, add-ons, the offer, the trial's channel
cmd-promo = Ввести промокод: /promo КОД
cmd-promo-new = (админ) Новый промокод: /promo_new КОД СКИДКА ИСПОЛЬЗОВАНИЙ ДО [ТАРИФЫ]
cmd-promos = (админ) Промокоды: использования и выручка
cmd-campaign = (админ) Рекламная ссылка: /campaign [ИМЯ]

plan-button-discounted = 🏷 { $title } — { $prices }
plans-promo = 🏷 Промокод <b>{ $code }</b>: скидка { $discount } — цены ниже уже с ней.
plan-price-discounted = 🏷 Цена по промокоду: <b>{ $price }</b> вместо { $full }.
promo-held-note = ⏳ Скидка уже в вашем неоплаченном заказе: оплатите его тем же способом по прежней ссылке. Если заказ отменится, скидка вернётся.
pay-sbp = ⚡ СБП — { $rub } ₽
pay-stars-sub = 🔁 Звёздами с автопродлением — { $stars } ⭐ в месяц
pay-stars-sub-link = Оформить подписку — { $stars } ⭐ в месяц
pay-stars-sub-text = ⭐ Подписка: { $stars } ⭐ каждые 30 дней, Telegram продлевает её сам. Отключить и снова включить — одной кнопкой в /status.
pay-link-text-sbp = Нажмите кнопку, чтобы оплатить { $rub } ₽ через СБП: на странице ЮKassa выберите свой банк и подтвердите платёж в его приложении.
pay-link-text-gift = Нажмите кнопку, чтобы оплатить подарок, { $rub } ₽, на странице ЮKassa. Как только платёж пройдёт, я пришлю ссылку для друга.
pay-link-text-addon = Нажмите кнопку, чтобы оплатить { $rub } ₽ на странице ЮKassa. Дополнение заработает, как только платёж пройдёт.
pay-link-text-auto-discount = Нажмите кнопку, чтобы оплатить { $rub } ₽ на странице ЮKassa. Вы согласились на автопродление: за сутки до окончания мы спишем с этой карты полную цену тарифа, { $full } ₽. Отключить — одной кнопкой в /status.
invoice-description-sub = Подписка: { $stars } ⭐ каждые 30 дней. Отключить можно в /status.
invoice-title-gift = Подарок: { $title }
invoice-description-gift = VPN на { $title } в подарок: после оплаты придёт ссылка для друга.
invoice-title-device = VPN: ещё одно устройство
invoice-title-traffic = VPN: ещё { $gb } ГБ в месяц
invoice-description-addon = До конца вашего тарифа ({ $days } дн.).

terms-ask = 📄 Перед первой оплатой примите, пожалуйста, оферту и политику конфиденциальности. Одно нажатие — и оплата продолжится.
terms-offer = 📄 Оферта
terms-privacy = 🔒 Конфиденциальность
terms-accept = ✅ Принимаю
terms-accepted = ✅ Спасибо, условия приняты.

pay-back-plan = ← К тарифу
pay-back-status = ← К статусу
gift-button = 🎁 Подарить этот тариф
gift-offer = 🎁 <b>Подарок: { $title }</b>
    Оплатите, и я пришлю ссылку. Первый, кто её откроет, получит { $days } дн. доступа, а вы узнаете, когда это случится.
gift-paid = 🎁 Подарок оплачен. Перешлите эту ссылку тому, кому дарите — она сработает один раз:
    { $link }
gift-redeemed = 🎁 Ваш подарок открыли: { $name } получает { $days } дн. доступа.
gift-received = 🎁 Вам подарили VPN: { $days } дн. доступа!
gift-unknown = Эта ссылка-подарок не найдена или больше не действует.
gift-taken = Этот подарок уже кто-то открыл.
gift-own = Это ваш подарок другу — перешлите ссылку тому, кому дарите.

addon-device-button = ➕ Ещё одно устройство
addon-traffic-button = ➕ Ещё { $gb } ГБ в месяц
addon-device-offer = ➕ <b>Ещё одно устройство</b> до конца вашего тарифа ({ $days } дн.).
addon-traffic-offer = ➕ <b>Ещё { $gb } ГБ в месяц</b> до конца вашего тарифа ({ $days } дн.).
addon-paid-device = ✅ Добавлено устройство: теперь их можно на одно больше, до <b>{ $until }</b>. Добавьте его в /devices.
addon-paid-traffic = ✅ Добавлено { $gb } ГБ в месяц до <b>{ $until }</b>. Если VPN был отключён из-за трафика, он снова работает.

status-stars-sub-on = ⭐ Подписка звёздами продлится <b>{ $until }</b>.
status-stars-sub-off = ⭐ Подписка звёздами отключена, оплачено до <b>{ $until }</b>.
stars-sub-off-button = ⏹ Отключить подписку звёздами
stars-sub-on-button = ▶️ Включить подписку звёздами
stars-sub-turned-off = Подписка звёздами отключена: звёзды больше не спишутся. Доступ остаётся до <b>{ $until }</b>.
stars-sub-turned-on = Подписка звёздами снова включена: <b>{ $until }</b> Telegram продлит её сам.

history-purpose = { $purpose ->
    [gift] 🎁 подарок: { $title }
    [dev] ➕ устройство
    [gb] ➕ трафик
   *[other] { $title }
}

trial-channel = 🎁 Пробный период — для подписчиков нашего канала. Подпишитесь и нажмите «Я подписался».
trial-channel-join = 📣 Подписаться на канал
trial-channel-check = ✅ Я подписался

promo-discount-percent = { $percent }%
promo-discount-fixed = { $rub } ₽
promo-gives-days = { $days } дн. бесплатно
promo-gives-discount = скидка { $discount } на { $plans }
promo-all-plans = все тарифы
promo-taken = 🏷 Промокод <b>{ $code }</b> принят: { $terms }. Скидка сработает при следующей оплате.
promo-days-taken = 🎁 Промокод принят: +{ $days } дн. Доступ до <b>{ $until }</b>.
promo-usage = Введите промокод так: <code>/promo КОД</code>
promo-unknown = Такого промокода нет. Проверьте, как он написан.
promo-expired = Срок действия этого промокода закончился.
promo-used-up = Этот промокод уже использовали все, для кого он был.
promo-already-used = Вы уже использовали этот промокод.
promo-held = 🏷 Скидка по промокоду уже в другом вашем неоплаченном заказе. Оплатите его по прежней ссылке или дождитесь, пока он отменится: тогда скидка вернётся.
promo-new-usage =
    Использование: <code>/promo_new КОД СКИДКА ИСПОЛЬЗОВАНИЙ ДО [ТАРИФЫ]</code>
    СКИДКА: <code>20%</code>, <code>50₽</code> или <code>7d</code> (бесплатные дни). ДО: <code>2026-12-31</code> (этот день включён). ТАРИФЫ: коды через запятую, например <code>1m,3m</code> (без них — все).
    Пример: <code>/promo_new SUMMER 20% 100 2026-12-31 1m,3m</code>
promo-created =
    ✅ Промокод <code>{ $code }</code>: { $terms } · использований: { $uses } · действует до { $until }.
    Ссылка: { $link }
    Или: <code>/promo { $code }</code>
promo-exists = Промокод <code>{ $code }</code> уже есть.
promo-plan-unknown = Тарифа <code>{ $plan }</code> нет в PLANS.
promo-date = Последний день промокода должен быть сегодня или позже, но не дальше чем через 10 лет.
promo-too-big = Скидка должна быть меньше цены тарифа ({ $rub } ₽).
promos-title = 🏷 <b>Промокоды</b>
promos-empty = Промокодов пока нет. Новый: /promo_new
promos-line = <code>{ $code }</code> · { $terms } · { $used }/{ $uses } · до { $until } · оплат: { $payments } · { $revenue }

campaign-usage = Использование: <code>/campaign ИМЯ</code> — латиница, цифры и _, до 32 знаков. Без имени — список.
campaigns-title = 📣 <b>Кампании</b>
campaigns-empty = Кампаний пока нет. Новая: <code>/campaign ИМЯ</code>
campaign-created =
    📣 Кампания <b>{ $name }</b>: { $link }
    Вместе с реферальной ссылкой: { $with_referral }КОД
    Регистрации, пробные периоды, первые оплаты и выручка — в /stats.
campaign-exists =
    📣 Кампания <b>{ $name }</b> уже есть: { $link }
    Вместе с реферальной ссылкой: { $with_referral }КОД
stats-campaigns = 📣 <b>Кампании</b>
stats-campaign = { $name }: регистраций { $registrations } · пробных { $trials } · первых оплат { $payers } · { $revenue }

error-terms-not-accepted = Сначала примите оферту и политику конфиденциальности — откройте оплату ещё раз.
error-trial-channel = Пробный период — для подписчиков нашего канала: { $url }
error-trial-channel-check = Не получилось проверить подписку на канал. Попробуйте через несколько минут.
error-addon-unavailable = Это дополнение сейчас недоступно для вашего тарифа.
error-subscription-plan = Подписка звёздами бывает только у тарифа на 30 дней.
error-no-stars-subscription = Подписки звёздами сейчас нет.
admin-trial-channel-unreadable = ⚠️ Не получается проверить подписку на { $channel } для пробного периода: сделайте бота администратором канала. Пока пробные периоды не выдаются.

page-pay-sbp = СБП
page-pay-stars-sub = Звёздами с автопродлением
page-pay-stars-sub-hint = С автопродлением звёздами Telegram продлевает подписку на 30 дней сам, по полной цене; только для тарифа на месяц.
page-terms = Перед первой оплатой примите оферту и политику конфиденциальности:
page-promo = Промокод
page-promo-apply = Применить
page-promo-active = Промокод { $code }: скидка { $discount } — цены уже с ней.
page-done-terms = Спасибо, условия приняты. Теперь можно оплатить.
page-done-promo = Промокод принят.
page-error-terms = Сначала примите оферту и политику конфиденциальности.
page-error-trial-channel = Пробный период — для подписчиков нашего канала: { $url }. Подпишитесь и нажмите кнопку ещё раз.
