# Command menu (admin console)
cmd-find = (поддержка) Найти пользователя: /find id, @имя или имя
cmd-user = (поддержка) Карточка пользователя: /user ID
cmd-invite = (админ) Приглашение: /invite [дни] [сколько человек]
cmd-role = (админ) Роль: /role ID admin|support|user
cmd-audit = (админ) Журнал действий: /audit [страница]

# Banned
user-banned = ⛔ Администратор заблокировал вам доступ к этому боту.

# Users list
users-header-filter = 👥 { $filter ->
    [act] С доступом
    [exp] Доступ истёк
    [no] Без доступа
    [tri] Пробный
    [paid] Оплатили
    [blk] Заблокировали бота
    [ban] Заблокированы
   *[other] Все
}: { $from }–{ $to } из { $total }
users-empty-filter = В этом списке никого нет.
users-access-banned = ⛔ заблокирован
users-filter = { $filter ->
    [act] С доступом
    [exp] Истёк
    [no] Без доступа
    [tri] Пробный
    [paid] Оплатили
    [blk] Заблок. бота
    [ban] Забанены
   *[other] Все
}

# Search
find-usage =
    Использование: <code>/find ТЕКСТ</code>
    Ищет по id, @username или имени, без учёта регистра.
find-too-long = Слишком длинный запрос: не больше { $most } символов.
find-nothing = Никого не нашлось.
find-header = 🔎 Найдено: { $count }
find-line = <code>{ $id }</code> { $name } { $username } · { $access }
find-more = Показаны первые — уточните запрос.

# User card
card-usage = Использование: <code>/user ID</code> — числовой Telegram id.
card-not-found = Пользователя { $id } нет: он ещё не писал боту.
card-title = 👤 <b>{ $name }</b> { $username } (id <code>{ $id }</code>)
card-role = Роль: { $role ->
    [admin] администратор
    [support] поддержка
   *[other] пользователь
}
card-banned = ⛔ Заблокирован администратором: бот ему не отвечает, VPN не работает.
card-access-forever = 🔓 Доступ: без ограничения срока
card-access-until = 🔓 Доступ: до { $until }
card-access-ended = 🔒 Доступ истёк { $until }
card-access-none = 🔒 Доступа нет
card-bot-blocked = 🚫 Заблокировал бота: { $at }
card-no-devices = 📱 Устройств нет.
card-device = 📱 { $node } · <code>{ $address }</code> · { $handshake } · ↓ { $received } ↑ { $sent }
card-button = { $action ->
    [x30] ➕ 30 дней
    [x90] ➕ 90 дней
    [rev] 🔒 Отозвать доступ
    [ban] ⛔ Заблокировать
    [unb] ✅ Разблокировать
    [rst] 🗑 Сбросить устройства
    [msg] ✉️ Написать
   *[other] 🔄 Обновить
}
card-confirm = { $action ->
    [x30] Продлить доступ { $name } (id { $id }) на 30 дней?
    [x90] Продлить доступ { $name } (id { $id }) на 90 дней?
    [rev] Отозвать доступ у { $name } (id { $id })? VPN перестанет работать сразу; устройства сохранятся до продления.
    [ban] Заблокировать { $name } (id { $id })? VPN и бот перестанут работать сразу.
    [unb] Разблокировать { $name } (id { $id })?
    [rst] Удалить все устройства { $name } (id { $id })? Его конфигурации перестанут работать сразу.
   *[other] Выполнить действие для { $name } (id { $id })?
}
card-confirm-yes = ✅ Да
card-done = { $action ->
    [rev] ✅ Доступ отозван.
    [ban] ✅ Пользователь заблокирован.
    [unb] ✅ Пользователь разблокирован.
    [rst] ✅ Устройства удалены.
   *[other] ✅ Готово.
}
console-node-pending = ⚠️ Сервер { $node } не ответил: изменение применится при следующей сверке.
console-protected = Так нельзя: это администратор или вы сами.

# Message to a user
message-prompt =
    ✉️ Напишите сообщение для { $name } (id <code>{ $id }</code>) — я покажу его перед отправкой.
    Передумали? /cancel
message-cancelled = Отменено, ничего не отправлено.
message-too-long = Слишком длинно: не больше { $most } символов.
message-preview =
    Отправить { $name } (id <code>{ $id }</code>)?

    { $text }
message-send-yes = ✉️ Отправить
message-to-user =
    ✉️ Сообщение от администрации:

    { $text }
message-sent = ✅ Сообщение доставлено: { $name } (id <code>{ $id }</code>).
message-not-delivered = ❌ Не доставлено: { $name } (id <code>{ $id }</code>) заблокировал бота или удалил чат.

# Invites
invite-usage =
    Использование: <code>/invite [дни] [сколько человек]</code>
    Дни — от 0 до 3650 (0 — без срока, по умолчанию 30), людей — от 1 до 1000 (по умолчанию 1).
invite-days = { $days } дн.
invite-days-forever = без срока
invite-created =
    🎟 Приглашение: { $link }
    Доступ: { $length } · на { $uses } чел. · действует до { $expires }
invite-accepted = 🎉 Приглашение принято!
invite-not-needed = У вас уже есть доступ — приглашение осталось неиспользованным.
invite-unknown = Такого приглашения нет. Проверьте ссылку или попросите новую.
invite-expired = Срок этого приглашения истёк. Попросите новое.
invite-used-up = Это приглашение уже использовано. Попросите новое.

# Roles
role-usage =
    Использование: <code>/role ID admin|support|user</code>
    Пользователь должен хотя бы раз написать боту.
role-from-settings = Роль { $id } задана в настройках (ADMIN_IDS или SUPPORT_IDS) — в чате её не изменить.
role-set = ✅ { $name } (id <code>{ $id }</code>): { $before } → { $role }.

# Audit
audit-usage = Использование: <code>/audit [страница]</code>
audit-empty = Журнал пуст.
audit-header = 📜 Журнал действий, страница { $page } из { $pages } (всего { $total })
audit-line = { $at } · <code>{ $actor }</code> · { $action } · { $target } { $details }
audit-actor-operator = оператор (CLI)
audit-action = { $action ->
    [add_user] выдал доступ (/add_user)
    [grant] выдал доступ
    [extend] продлил доступ
    [revoke] отозвал доступ
    [ban] заблокировал
    [unban] разблокировал
    [reset_devices] сбросил устройства
    [message] написал
    [role] сменил роль
    [invite] создал приглашение
    [add_node] добавил сервер
    [restore_node] восстановил сервер
    [migrate] перенёс сервер
    [drain] вывел сервер
    [reconcile] сверил сервер
    [broadcast] запустил рассылку
    [broadcast_stop] остановил рассылку
    [refund] вернул платёж
    [set_endpoint] сменил адрес сервера
    [ssh_key_rotate] сменил SSH-ключ бота
    [db_restore] восстановил базу из копии
    [remove_foreign] удалил чужие пиры сервера
    [accept_host_key] принял новый SSH-ключ сервера
    [promo_twice] оплатил со скидкой, которую уже занял другой платёж
   *[other] { $action }
}
card-kind = 💼 { $kind ->
    [invite] По приглашению
    [trial] Пробный период
    [paid] Оплачено
   *[other] Нет доступа
} · тариф { $plan }
card-auto-renew = 🔁 Автопродление включено (карта сохранена)
card-trial-used = 🎁 Пробный период взят { $at }
card-referrer = 👥 Пришёл по ссылке { $name } (id <code>{ $id }</code>)
card-payment = 🧾 { $date } · { $amount } · { $provider } · { $status ->
    [succeeded] оплачен
    [refunded] возвращён
    [held] не зачтён
    [canceled] отменён
   *[other] { $status }
} · <code>{ $charge }</code>
