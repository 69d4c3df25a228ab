# Set-up per platform (the buttons under the first config and /help)
setup-choose = 📲 Пошаговая настройка — выберите ваше устройство:
setup-app-button = 📥 { $app }
setup-wg-ios =
    1. Установите приложение WireGuard из App Store (кнопка ниже).
    2. В WireGuard нажмите «+» → «Создать из QR-кода» и наведите камеру на QR-код из чата, открытого на другом экране. Или нажмите на файл .conf в чате → «Поделиться» → WireGuard.
    3. Разрешите добавить конфигурацию VPN и включите туннель.
setup-wg-android =
    1. Установите приложение WireGuard из Google Play (кнопка ниже).
    2. Сохраните файл .conf из чата и в WireGuard нажмите «+» → «Импорт из файла». Или «+» → «Сканировать QR-код», если QR-код открыт на другом экране.
    3. Включите туннель.
setup-wg-windows =
    1. Скачайте WireGuard для Windows на wireguard.com/install (кнопка ниже) и установите.
    2. Сохраните файл .conf из чата, в WireGuard нажмите «Import tunnel(s) from file» и выберите его.
    3. Нажмите «Activate».
setup-wg-macos =
    1. Установите приложение WireGuard из Mac App Store (кнопка ниже).
    2. Сохраните файл .conf из чата, в WireGuard выберите «Import tunnel(s) from file» и укажите его.
    3. Разрешите добавить конфигурацию VPN и нажмите «Activate».
setup-wg-linux =
    1. Установите wireguard-tools (и openresolv для строки DNS) из пакетов вашего дистрибутива: команды для каждого — на wireguard.com/install (кнопка ниже).
    2. Сохраните файл .conf из чата и положите его на место: <code>sudo install -m 600 ФАЙЛ.conf /etc/wireguard/</code>
    3. Включите: <code>sudo wg-quick up ФАЙЛ</code> (имя файла без .conf).
setup-awg-ios =
    1. Установите AmneziaVPN или AmneziaWG из App Store (кнопки ниже) — WireGuard эту конфигурацию не откроет.
    2. AmneziaVPN: нажмите на ключ vpn:// в чате, чтобы скопировать его, затем в приложении «+» → вставьте ключ. AmneziaWG: «+» → «Создать из QR-кода» и QR-код из чата на другом экране.
    3. Разрешите добавить конфигурацию VPN и подключитесь.
setup-awg-android =
    1. Установите AmneziaVPN или AmneziaWG из Google Play (кнопки ниже) — WireGuard эту конфигурацию не откроет.
    2. AmneziaVPN: нажмите на ключ vpn:// в чате, чтобы скопировать его, затем в приложении «+» → вставьте ключ. AmneziaWG: «+» → «Импорт из файла» и файл .conf из чата.
    3. Подключитесь.
setup-awg-windows =
    1. Скачайте AmneziaVPN с amnezia.org или AmneziaWG для Windows (кнопки ниже) и установите — WireGuard эту конфигурацию не откроет.
    2. AmneziaVPN: нажмите на ключ vpn:// в чате, чтобы скопировать его, затем в приложении «+» → вставьте ключ. AmneziaWG: «Import tunnel(s) from file» и файл .conf из чата.
    3. Подключитесь.
setup-awg-macos =
    1. Скачайте AmneziaVPN для macOS с amnezia.org (кнопка ниже) и установите — WireGuard эту конфигурацию не откроет.
    2. Нажмите на ключ vpn:// в чате, чтобы скопировать его, затем в AmneziaVPN «+» → вставьте ключ.
    3. Разрешите добавить конфигурацию VPN и подключитесь.
setup-awg-linux =
    1. Скачайте AmneziaVPN для Linux с amnezia.org (кнопка ниже) и установите — WireGuard эту конфигурацию не откроет.
    2. Нажмите на ключ vpn:// в чате, чтобы скопировать его, затем в AmneziaVPN «+» → вставьте ключ.
    3. Подключитесь.
config-amnezia-key =
    🔑 Ключ для AmneziaVPN: нажмите на него, чтобы скопировать, и вставьте в приложении («+» → вставить ключ). В нём та же конфигурация, что в файле.
    <code>{ $key }</code>
error-platform-unknown = Такого устройства в списке нет. Откройте /help и выберите из списка.


# Nudges (each once per user and period)
nudge-setup =
    👋 Конфигурация у вас есть, но VPN ещё ни разу не подключался. Давайте настроим: выберите ваше устройство — пришлю три коротких шага и ссылку на приложение.
    Не получается — откройте справку: там по шагам, что проверить.
nudge-silent =
    🤔 Ваши устройства давно не подключались к VPN. Что-то не так?
    Загляните в справку — там что проверить. Или попробуйте другой сервер: конфигурация придёт новая.
nudge-offer =
    🎁 Пробный период закончился. Если VPN пригодился — оформите подписку: доступ вернётся сразу, и уже импортированная конфигурация снова заработает.
nudge-change-server = 🌍 Сменить сервер
nudge-plans-button = 💳 Выбрать тариф

# Games in /server
game-choose-button = 🎮 Сервер для игры
game-choose = 🎮 Выберите игру — покажу серверы по задержке до её серверов.
game-button = 🎮 { $game }
game-servers =
    🎮 <b>{ $game }</b>
    Серверы по задержке до серверов игры (пинг с нашего сервера; меньше — лучше). Нажмите сервер, чтобы перейти на него.
game-node = { $label } · { $ms } мс
game-node-unknown = { $label } · нет данных
game-node-current = ✅ { $button }
game-routes-button = 🧭 Через VPN только { $game }
game-back = ◀️ Другие игры
game-routes-done = Готово: на всех ваших устройствах через VPN идёт только трафик { $game }, остальное — напрямую. Импортируйте новые конфигурации ниже. Вернуть весь трафик: /devices → «Маршруты».
error-game-unknown = Такой игры нет. Откройте /server и выберите из списка.
