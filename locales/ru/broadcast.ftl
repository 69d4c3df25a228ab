cmd-broadcast = (админ) Рассылка всем или группе
broadcast-ask-text =
    📣 Пришлите сообщение для рассылки: текст — или фото, видео, файл с подписью.
    Жирный, курсив, ссылки и прочее форматирование сохранятся.
broadcast-text-only = Рассылка — это текст или фото, видео, файл с подписью; стикеры, голосовые и прочее не подойдут. Пришлите сообщение.
broadcast-text-command = Это похоже на команду. Пришлите текст рассылки или нажмите «Отмена».
broadcast-text-empty = Текст пустой. Пришлите текст рассылки.
broadcast-text-too-long = Текст слишком длинный: { $length } символов, Telegram принимает не больше { $limit }. Сократите и пришлите снова.
broadcast-text-invalid = Telegram не принял это сообщение ({ $error }). Пришлите его снова — с другим текстом или другими кнопками.
broadcast-ask-buttons =
    Кнопки под сообщением — до { $most }. Пришлите по одной на строку:
    <code>Название | https://адрес</code> — ссылка;
    <code>Название | config</code> — «Получить конфигурацию»;
    <code>Название | renew</code> — «Продлить».
    Или добавьте готовую кнопкой ниже. Без кнопок — «Дальше».
broadcast-buttons-added = Кнопки ({ $count } из { $most }):
broadcast-button-line = { $number }. { $title } → { $target }
broadcast-button-config = получить конфигурацию
broadcast-button-renew = продлить доступ
broadcast-button-invalid =
    Не понял строку: { $line }
    Нужно <code>Название | https://адрес</code>, <code>Название | config</code> или <code>Название | renew</code>; название — до 64 символов.
broadcast-buttons-too-many = Кнопок может быть не больше { $most }. Уберите лишние и пришлите снова.
broadcast-buttons-hint = Пришлите кнопки строками <code>Название | https://адрес</code> или нажмите «Дальше».
broadcast-add-button = ➕ { $title }
broadcast-clear-buttons = 🗑 Убрать кнопки
broadcast-next = Дальше →
broadcast-back = ◀️ К выбору получателей
broadcast-ask-audience = Кому отправить? В скобках — сколько получателей (кто заблокировал бота или забанен, не считается).
broadcast-audience = { $kind ->
    [access] С доступом
    [no_access] Без доступа
    [trial] На пробном периоде
    [never_connected] Не подключались ни разу
   *[all] Всем
} ({ $count })
broadcast-audience-group = { $kind ->
    [expired] Доступ истёк за N дней…
    [node] По серверу…
    [region] По региону…
   *[language] По языку…
}
broadcast-ask-group = { $kind ->
    [node] Пользователи с устройством на сервере:
    [region] Пользователи с устройством в регионе:
   *[language] Пользователи, которым бот пишет на языке:
}
broadcast-choice = { $label } ({ $count })
broadcast-group-empty = Здесь пока не из кого выбирать.
broadcast-ask-days = У кого доступ закончился за сколько последних дней? Пришлите число от 1 до { $most }.
broadcast-days-invalid = Нужно число дней от 1 до { $most }.
broadcast-audience-invalid = Такой группы получателей нет.
broadcast-audience-name = { $kind ->
    [access] с доступом
    [no_access] без доступа
    [expired] доступ истёк за последние { $value } дн.
    [trial] на пробном периоде
    [never_connected] получили конфигурацию, но ни разу не подключались
    [node] с устройством на сервере { $value }
    [region] с устройством в регионе { $value }
    [language] язык — { $value }
   *[all] все
}
broadcast-audience-chosen = Получатели: { $audience }. Так будет выглядеть сообщение:
broadcast-confirm = ⬆️ Отправить это сообщение? Получателей: { $count } ({ $audience }).
broadcast-send = ✅ Отправить
broadcast-nobody = В этой группе некому отправлять. Выберите другую.
broadcast-stale = Эта рассылка уже отправлена или отменена. Начните заново: /broadcast
broadcast-cancelled = Рассылка отменена.
broadcast-started = 📣 Рассылка #{ $id } запущена, получателей: { $total }. Ход — в следующем сообщении.
broadcast-progress-running = ⏳ Рассылка #{ $id } идёт, получателей: { $total }
broadcast-progress-done = ✅ Рассылка #{ $id } завершена, получателей: { $total }
broadcast-progress-stopped = ⏹ Рассылка #{ $id } остановлена, получателей: { $total }
broadcast-progress-counts =
    отправлено: { $sent }
    ошибок: { $failed }
    заблокировали бота: { $blocked }
    осталось: { $left }
broadcast-progress-unknown = неизвестно (бот перезапускался посреди отправки, повторно не шлём): { $unknown }
broadcast-progress-cancelled = не отправлено после остановки: { $cancelled }
broadcast-stop = ⏹ Остановить рассылку
broadcast-stopping = Останавливаю: кому ещё не отправлено, не придёт.
