# Devices menu
cmd-devices = Мои устройства: добавить, переименовать, удалить
menu-devices = 📱 Устройства

devices-header = 📱 Ваши устройства: { $count } из { $limit }
devices-empty = Пока ни одного. Нажмите «Добавить устройство» — придут файл конфигурации и QR-код.
devices-at-limit = Это предел: чтобы добавить новое, удалите одно из них.
devices-over-limit = Это больше, чем позволяет ваш доступ: все продолжают работать, но чтобы добавить новое, удалите одно.
devices-line = { $number }. <b>{ $name }</b> · { $node }
devices-activity = 🤝 { $ago } назад · 📶 ↓ { $received } · ↑ { $sent }
devices-never-connected = 🤝 ещё не подключалось
devices-node-unreachable = ⚠️ сервер сейчас не отвечает
devices-default-name = Устройство { $number }
devices-button = 📱 { $name }
devices-add = ➕ Добавить устройство
devices-added = ✅ Устройство добавлено: конфигурация и QR-код ниже. Дайте ему имя, чтобы не путать с другими.

devices-title = 📱 <b>{ $name }</b>
devices-node = 🌍 Сервер: { $node }
devices-address = 📍 Адрес: <code>{ $address }</code>
devices-routes-line = 🧭 Маршруты: { $routes }
devices-config = 📄 Конфигурация и QR
devices-rename = ✏️ Переименовать
devices-routes = 🧭 Маршруты
devices-remove = 🗑 Удалить
devices-back = ◀️ Назад
devices-back-to-list = ◀️ Все устройства
devices-config-of = 📱 <b>{ $name }</b>:

devices-rename-prompt =
    Пришлите новое имя для «{ $name }» — до 32 символов, например «iPhone» или «Ноутбук».
    Передумали? /cancel
devices-renamed = ✅ Имя сохранено.
devices-rename-cancelled = Отменено, имя осталось прежним.
devices-rename-text-only = Пришлите имя текстом или /cancel.

devices-routes-choose =
    🧭 Что пускать через VPN на «{ $name }»?
    Остальной трафик пойдёт напрямую. После выбора придёт новая конфигурация — импортируйте её.
devices-routes-all = 🌐 Весь трафик
devices-routes-current = ✅ { $title }
devices-routes-changed = ✅ Маршруты изменены. Импортируйте новую конфигурацию ниже — в старой прежние маршруты.

devices-remove-confirm =
    Удалить «{ $name }»?
    Его конфигурация сразу перестанет работать. Отменить это нельзя.
devices-remove-yes = 🗑 Да, удалить
devices-removed = 🗑 «{ $name }» удалено, его конфигурация больше не работает.
devices-removed-node-away = 🗑 «{ $name }» удалено. Сервер { $node } сейчас не отвечает — доступ с этой конфигурации отключится, как только он вернётся.

error-device-not-found = Такого устройства у вас нет. Откройте список заново: /devices
error-device-limit = Больше устройств добавить нельзя: у вас { $count } из { $limit }. Удалите одно в /devices, чтобы добавить новое.
error-device-name = Имя должно быть от 1 до { $most } символов, без служебных символов. Пришлите другое или /cancel.
error-routes-unknown = Такого набора маршрутов нет. Откройте /devices и выберите из списка.
devices-rekey = 🔑 Новые ключи
devices-rekey-confirm =
    Создать новые ключи для «{ $name }»?
    Его текущая конфигурация сразу перестанет работать — импортируйте новую.
devices-rekey-yes = 🔑 Да, новые ключи
devices-rekeyed = 🔑 Новые ключи готовы. Старая конфигурация больше не работает — импортируйте новую ниже.
