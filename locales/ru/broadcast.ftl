cmd-broadcast = (админ) Рассылка всем или группе
broadcast-ask-text =
    📣 Пришлите текст рассылки одним сообщением.
    Жирный, курсив, ссылки и прочее форматирование сохранятся.
broadcast-text-only = Рассылка бывает только текстом: фото, файлы и стикеры не подойдут. Пришлите текст.
broadcast-text-command = Это похоже на команду. Пришлите текст рассылки или нажмите «Отмена».
broadcast-text-empty = Текст пустой. Пришлите текст рассылки.
broadcast-text-too-long = Текст слишком длинный: { $length } символов, Telegram принимает не больше { $limit }. Сократите и пришлите снова.
broadcast-text-invalid = Telegram не принял этот текст. Пришлите другой.
broadcast-ask-audience = Кому отправить? В скобках — сколько получателей (кто заблокировал бота или забанен, не считается).
broadcast-audience-all = Всем ({ $count })
broadcast-audience-access = С доступом ({ $count })
broadcast-audience-no-access = Без доступа ({ $count })
broadcast-audience-name-all = все
broadcast-audience-name-access = с доступом
broadcast-audience-name-no-access = без доступа
broadcast-audience-chosen = Получатели: { $audience }. Так будет выглядеть сообщение:
broadcast-confirm = ⬆️ Отправить это сообщение? Получателей: { $count } ({ $audience }).
broadcast-send = ✅ Отправить
broadcast-nobody = В этой группе некому отправлять. Выберите другую.
broadcast-stale = Эта рассылка уже отправлена или отменена. Начните заново: /broadcast
broadcast-cancelled = Рассылка отменена.
broadcast-started = 📣 Рассылка #{ $id } запущена, получателей: { $total }. Ход — в следующем сообщении.
broadcast-progress-running = ⏳ Рассылка #{ $id } идёт, получателей: { $total }
broadcast-progress-done = ✅ Рассылка #{ $id } завершена, получателей: { $total }
broadcast-progress-counts =
    отправлено: { $sent }
    ошибок: { $failed }
    заблокировали бота: { $blocked }
    осталось: { $left }
broadcast-progress-unknown = неизвестно (бот перезапускался посреди отправки, повторно не шлём): { $unknown }
