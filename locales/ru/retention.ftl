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

