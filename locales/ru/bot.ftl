# Command menu
cmd-start = Главное меню
cmd-get-config = Получить конфигурацию и QR-код
cmd-regen = Новые ключи (старая конфигурация перестанет работать)
cmd-server = Выбрать сервер
cmd-vless = Ссылка VLESS, если интернет блокирует VPN
cmd-status = Мой доступ и подключение
cmd-help = Помощь и инструкции
cmd-language = Язык / Language
cmd-add-user = (админ) Выдать доступ: /add_user ID [дни]
cmd-users = (админ) Пользователи
cmd-nodes = (админ) Серверы
cmd-add-node = (админ) Добавить сервер: /add_node ИМЯ ssh://root@ХОСТ [регион]
cmd-reconcile = (админ) Сверить сервер с базой: /reconcile ИМЯ
cmd-restore-node = (админ) Восстановить сервер: /restore_node ИМЯ [ssh://…]
cmd-accept-host-key = (админ) Принять новый SSH-ключ сервера: /accept_host_key ИМЯ
cmd-migrate = (админ) Перенести всех: /migrate ОТКУДА КУДА
cmd-drain = (админ) Вывести сервер: /drain ИМЯ

# Start and menu
start-welcome =
    Привет, { $name }! 👋
    Это VPN на WireGuard: нажмите «Получить конфигурацию» — придёт файл для компьютера и QR-код для телефона.
start-access-until = Доступ открыт до { $until }.
start-access-forever = Доступ открыт без ограничения срока.
start-no-access =
    Привет, { $name }! 👋
    Это частный VPN-сервис. Сейчас у вас нет доступа.
    Чтобы его получить, попросите администратора — мы уже отправили ему вашу заявку. Как только доступ откроют, я напишу.
start-no-access-again = Заявка уже у администратора. Как только доступ откроют, я напишу.
menu-get-config = 📥 Получить конфигурацию
menu-server = 🌍 Сервер
menu-status = 📊 Статус
menu-help = ❓ Помощь
menu-language = 🌐 Язык / Language
menu-title = Что сделать?

# Config
config-preparing = ⏳ Готовлю конфигурацию…
config-document-caption =
    Конфигурация для сервера <b>{ $node }</b>.
    Компьютер: импортируйте этот файл в приложение WireGuard.
config-qr-caption = Телефон: в приложении WireGuard нажмите «+» → «Сканировать QR-код».
regen-confirm =
    Создать новые ключи?
    Текущая конфигурация сразу перестанет работать — на всех устройствах придётся импортировать новую.
regen-yes = 🔑 Да, новые ключи
regen-cancelled = Отменено. Конфигурация осталась прежней.
regen-done = Готово: новые ключи. Старая конфигурация больше не работает — импортируйте новую.
button-cancel = Отмена

# Server
server-choose = Выберите сервер. В скобках — сколько устройств на нём сейчас.
server-current = Сейчас ваш сервер: <b>{ $node }</b>.
server-button = { $label } ({ $devices })
server-button-current = ✅ { $label } ({ $devices })
server-button-load = { $button } · CPU { $load }%
server-moved = Готово: вы на сервере <b>{ $node }</b>. Импортируйте новую конфигурацию — старая больше не работает.
server-same = Вы уже на сервере <b>{ $node }</b>.

# Status
status-access-until = 🔓 Доступ: до { $until }
status-access-forever = 🔓 Доступ: без ограничения срока
status-no-access = 🔒 Доступа нет. Попросите администратора.
status-no-device = 📱 Устройство: пока нет — нажмите «Получить конфигурацию».
status-device =
    🌍 Сервер: { $node }
    📱 Устройство: { $address }
status-handshake = 🤝 Последнее подключение: { $ago } назад
status-handshake-never = 🤝 Подключений ещё не было — импортируйте конфигурацию и включите туннель.
status-node-unreachable = ⚠️ Сервер сейчас не отвечает, данные о подключении недоступны.
status-traffic = 📶 Трафик: ↓ { $received } · ↑ { $sent }
probed-ago = 🕒 Сведения от сервера { $ago } назад

# Help
help-text =
    <b>Команды</b>
    /get_config — файл конфигурации и QR-код
    /devices — ваши устройства: добавить, переименовать, маршруты, удалить
    /server — выбрать сервер (конфигурация придёт новая)
    /vless — ссылка VLESS, если интернет блокирует VPN
    /status — срок доступа, сервер, последнее подключение и трафик
    /regen — новые ключи, если файл попал в чужие руки
    /language — язык бота
    /support — написать в поддержку
    /help — эта справка

    <b>Как подключить</b> — выберите ваше устройство ниже: ссылка на приложение и три шага.

    Не работает? Нажмите /status: если подключений не было — проверьте, что туннель включён; если сервер не отвечает — выберите другой в /server.

# Language
language-choose = Выберите язык:
language-set = Готово: язык — русский.

# Admin
admin-only = Эта команда только для администраторов.
admin-access-request =
    🙋 Запрос доступа: <b>{ $name }</b> { $username } (id <code>{ $id }</code>).
admin-grant-30 = ✅ 30 дней
admin-grant-forever = ✅ Без срока
admin-granted = ✅ { $name } (id <code>{ $id }</code>): доступ { $until }.
admin-granted-forever = без ограничения срока
admin-granted-until = до { $until }
admin-granted-notified = Пользователь уведомлён.
admin-granted-not-started = Пользователь ещё не запускал бота — он увидит доступ после /start.
add-user-usage =
    Использование: <code>/add_user ID [дни]</code>
    ID — числовой Telegram id, дни — целое от 1 до 3650; без дней — доступ без срока.
user-access-granted-forever = 🎉 Вам открыли доступ без ограничения срока. Нажмите «Получить конфигурацию».
user-access-granted-until = 🎉 Вам открыли доступ до { $until }. Нажмите «Получить конфигурацию».
users-header = 👥 Пользователи { $from }–{ $to } из { $total }
users-empty = Пользователей пока нет.
users-line = <code>{ $id }</code> { $name } · { $details }
users-traffic = ↓ { $received } ↑ { $sent }
users-access-none = нет доступа
users-access-forever = бессрочно
users-access-until = до { $until }
users-no-node = без устройства
users-devices = { $count } { $count ->
    [one] устройство
    [few] устройства
   *[many] устройств
}: { $nodes }
users-handshake-never = не подключался
users-handshake-unknown = ?
users-handshake-ago = { $ago } назад
button-previous = ◀️ Назад
button-next = Вперёд ▶️
nodes-empty = Серверов пока нет. Добавьте: <code>python main.py node add NAME ssh://root@HOST</code>
nodes-line-up = 🟢 <b>{ $name }</b> { $region } · { $endpoint }
    устройств: { $devices } · пиров на сервере: { $peers } · нагрузка: { $load } на { $cpus } CPU
nodes-line-down = 🔴 <b>{ $name }</b> { $region } · { $endpoint }
    устройств: { $devices } · недоступен: { $reason }
admin-node-full = ⚠️ На сервере <b>{ $node }</b> закончились адреса: новый пользователь не смог получить конфигурацию.

# Errors
error-generic = Что-то пошло не так. Попробуйте ещё раз чуть позже.
error-no-access = У вас нет доступа. Попросите администратора — /start отправит ему заявку.
error-no-nodes = Пока нет ни одного доступного сервера. Администратор уже знает.
error-no-vless-node = Пока ни один сервер не предлагает VLESS: напишите в поддержку, и мы его включим.
error-node-unavailable = Сервер { $node } сейчас недоступен. Попробуйте другой:
error-node-full = На сервере { $node } нет свободных мест. Выберите другой:
error-node-not-found = Этого сервера больше нет в списке. Выберите другой:
error-no-device = У вас ещё нет устройства — нажмите «Получить конфигурацию».
error-user-not-found = Пользователь { $user_id } ещё не запускал бота. Попросите его отправить /start — вам придёт заявка с кнопкой.
error-invalid-input = Неверные данные.
error-reality-settings = Эти настройки VLESS неверны: { $reason }. Ничего не изменено.
error-stale-button = Эта кнопка устарела. Откройте меню заново: /start
error-too-long = Слишком длинное сообщение.
unknown-message = Не понял. Воспользуйтесь меню или /help.

# Units
unit-bytes = { $value } Б
unit-kib = { $value } КБ
unit-mib = { $value } МБ
unit-gib = { $value } ГБ
ago-seconds = { $value } с
ago-minutes = { $value } мин
ago-hours = { $value } ч
ago-days = { $value } дн

# Nodes (admin)
add-node-usage =
    Использование: <code>/add_node ИМЯ ssh://root@ХОСТ[:ПОРТ] [регион] [iface=wg0] [port=51820] [subnet=10.8.0.1/20] [subnet6=fd08::1/64] [endpoint=ХОСТ:ПОРТ] [mtu=1420] [proto=wg|awg] [awg=1.0|1.5|2.0]</code>
    ИМЯ — a-z, 0-9 и «-», до 15 символов. Сервер с поднятым WireGuard будет подключён как есть, вместе с его пирами; голый — настроен: { $steps }. proto=awg — AmneziaWG с маскировкой VPN (по умолчанию версии 2.0 и mtu=1376; установка — только на Ubuntu).
node-adding = 🛠 Добавляю сервер <b>{ $node }</b>…
node-restoring = 🛠 Восстанавливаю сервер <b>{ $node }</b>…
node-step = { $step ->
    [check] проверка системы
    [packages] установка WireGuard
    [forwarding] пересылка пакетов и BBR
    [nat] NAT
    [grace] правила льготного периода (только Telegram)
    [interface] интерфейс WireGuard
    [start] запуск
   *[other] { $step }
}
node-added =
    ✅ Сервер <b>{ $node }</b> добавлен.
    Точка входа: <code>{ $endpoint }</code>, подсеть: <code>{ $subnet }</code>
    Публичный ключ: <code>{ $key }</code>
node-add-failed = ❌ Сервер <b>{ $node }</b>: { $reason }
node-restored = ✅ Сервер <b>{ $node }</b> восстановлен ({ $endpoint }): возвращено пиров — { $peers }. Старые конфигурации пользователей снова работают.
node-restored-vless = VLESS: пользователей снова обслуживает Xray — { $users }.
vless-node-down = ⚠️ VLESS на <b>{ $node }</b> не работает ({ $reason }). Установите Xray на сервере (<code>scripts/xray-setup.sh</code>) и выполните /reconcile { $node }: пользователи VLESS вернутся с теми же ссылками.
reconcile-usage = Использование: <code>/reconcile ИМЯ</code>
reconcile-clean = ✅ <b>{ $node }</b> совпадает с базой, ничего менять не пришлось.
reconcile-failed = ❌ Не удалось сверить <b>{ $node }</b>: { $reason }
admin-reconcile-changed = 🔧 <b>{ $node }</b> сверен с базой: добавлено { $added }, удалено { $removed }, исправлено { $fixed }.
restore-usage = Использование: <code>/restore_node ИМЯ [ssh://root@НОВЫЙ_ХОСТ]</code>
migrate-usage = Использование: <code>/migrate ОТКУДА КУДА</code>
drain-usage = Использование: <code>/drain ИМЯ</code> — новые пользователи туда не попадут, текущие переедут.
moving = 🚚 Переношу пользователей: { $source } → { $target }…
moved-report = ✅ { $source } → { $target }: перенесено { $moved }, конфигурацию получили { $delivered }, не доставлено { $undelivered }.
moved-old-peers-left = ⚠️ { $source } не отвечает: старые пиры уберёт сверка, когда он вернётся.
moved-notice = 🔄 Мы перенесли вас на сервер <b>{ $node }</b>. Импортируйте новую конфигурацию — старая скоро перестанет работать.
vless-moved-report = ✅ VLESS → { $target }: перенесено { $moved } (с теми же id), новую ссылку получили { $delivered }.
vless-moved-none = ⚠️ VLESS-устройства ({ $stayed }) остаются на { $source }: другого сервера с VLESS нет. Включите VLESS на одном из них (<code>scripts/run.sh node vless NAME …</code>) и повторите команду.
vless-moved-unreachable = ⚠️ VLESS-устройства ({ $stayed }) остаются на { $source }: { $target } не отвечает. Повторите команду, когда он вернётся.
vless-moved-notice =
    🔄 Мы перенесли ваш VLESS на сервер <b>{ $node }</b>. Импортируйте новую ссылку (/vless покажет её с QR-кодом); подписка обновится сама:
    <code>{ $link }</code>
endpoint-changed-notice = 🔄 У сервера <b>{ $node }</b> новый адрес. Импортируйте новую конфигурацию — старая к нему больше не подключится.
admin-node-exists = Сервер <b>{ $node }</b> уже есть. Список: /nodes
admin-node-unknown = Сервера <b>{ $node }</b> нет. Список: /nodes
admin-move-invalid = Так перенести нельзя: укажите два разных сервера, и второй должен быть включён.
admin-node-unreachable = ❌ Сервер <b>{ $node }</b> недоступен, ничего не изменено.
admin-target-full = ❌ На сервере <b>{ $node }</b> не хватит адресов, ничего не изменено.
error-node-key-unknown = У сервера <b>{ $node }</b> нет сохранённого ключа — восстановить его с тем же ключом нельзя. Добавьте его заново.
admin-node-down = 🔴 Сервер <b>{ $node }</b> недоступен ({ $failures } проверки подряд): { $reason }
admin-node-recovered = 🟢 Сервер <b>{ $node }</b> снова в строю.
node-add-check-key =
    🔑 Сервер <b>{ $node }</b> ({ $address }) предъявляет SSH-ключ:
    <code>{ $fingerprint }</code>
    Сверьте его с ключом на самом сервере (<code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code>). Пока вы не подтвердите, на сервере ничего не меняется.
node-add-confirm-button = ✅ Ключ верный, добавить
node-add-cancel-button = Отмена
node-add-cancelled = Добавление сервера <b>{ $node }</b> отменено, на сервере ничего не изменено.
admin-host-key-changed =
    🔐 Сервер <b>{ $node }</b> предъявил другой SSH-ключ — бот с ним больше не работает.
    Был: <code>{ $pinned }</code>
    Теперь: <code>{ $offered }</code>
    Если сервер переустанавливали, примите новый ключ кнопкой ниже или командой /accept_host_key { $node }. Если нет — проверьте сервер: его могли подменить.
error-host-key-changed =
    🔐 Сервер <b>{ $node }</b> предъявил другой SSH-ключ, ничего не изменено.
    Был: <code>{ $pinned }</code>
    Теперь: <code>{ $offered }</code>
    Если это ваш переустановленный сервер, примите ключ (/accept_host_key { $node }) и повторите команду.
error-host-key-mismatch = ❌ Сервер <b>{ $node }</b> предъявляет ключ <code>{ $offered }</code>, а не <code>{ $expected }</code>. Ничего не изменено.
error-host-key-none = У сервера <b>{ $node }</b> нет нового SSH-ключа, который нужно принять.
accept-host-key-usage = Использование: <code>/accept_host_key ИМЯ [SHA256:…]</code>
host-key-offer =
    🔐 Сервер <b>{ $node }</b> предъявляет новый SSH-ключ.
    Был: <code>{ $pinned }</code>
    Теперь: <code>{ $offered }</code>
    Принять его?
host-key-accept-button = ✅ Принять новый ключ
host-key-accepted = ✅ Новый SSH-ключ сервера <b>{ $node }</b> принят: <code>{ $offered }</code>. Бот снова работает с сервером; если его переустанавливали, восстановите его: /restore_node { $node }

# AmneziaWG: "my internet blocks the VPN"
server-unblock-button = 🚫 Мой интернет блокирует VPN
server-unblocked =
    Готово: вы на сервере <b>{ $node }</b> с AmneziaWG — он маскирует VPN-трафик, и блокировки его не узнают.
    Приложение WireGuard такую конфигурацию не откроет: установите <b>AmneziaVPN</b> или <b>AmneziaWG</b> (App Store, Google Play или amnezia.org) и импортируйте в него файл или QR-код ниже. Старая конфигурация больше не работает.
server-unblock-none = Сейчас нет доступного сервера с маскировкой VPN (AmneziaWG). Попробуйте позже или напишите в поддержку: /help
server-unblock-already =
    Вы уже на сервере <b>{ $node }</b> с маскировкой VPN (AmneziaWG).
    Если не подключается, проверьте, что конфигурация импортирована в AmneziaVPN или AmneziaWG, а не в WireGuard.
server-amnezia-hint = Это сервер AmneziaWG: установите <b>AmneziaVPN</b> или <b>AmneziaWG</b> (App Store, Google Play или amnezia.org) — приложение WireGuard эту конфигурацию не откроет.

# VLESS с Reality: для сетей, где блокируют WireGuard и AmneziaWG
server-unblock-vless-button = 🛡 Получить ссылку VLESS
server-unblock-try-vless = Всё ещё блокируют? VLESS с Reality выглядит как обычный заход на сайт и проходит там, где не проходят WireGuard и AmneziaWG. Для него нужно другое приложение (см. ниже).
vless-intro = Ваша ссылка VLESS ниже: скопируйте её или отсканируйте QR-код. Она не меняется: после продления та же ссылка снова работает.
vless-qr-caption = Отсканируйте этот QR-код в приложении или скопируйте ссылку выше.
vless-subscription =
    Ссылка-подписка (приложение само будет обновлять ваши ссылки):
    <code>{ $link }</code>
vless-apps =
    <b>Как подключиться</b>
    Android: <b>v2rayNG</b> или <b>Hiddify</b> (Google Play) — нажмите «+», «Импорт из буфера обмена» или отсканируйте QR-код.
    iPhone и iPad: <b>Streisand</b>, <b>Happ</b> или <b>Hiddify</b> (App Store) — нажмите «+» и вставьте ссылку или отсканируйте QR-код.
    Windows, macOS, Linux: <b>Hiddify</b> — «Новый профиль», «Добавить из буфера обмена».
    Приложения sing-box (SFA, SFI, SFM): добавьте ссылку-подписку как удалённый профиль.
    Приложения WireGuard и AmneziaWG эту ссылку открыть не могут.
config-document-caption-awg =
    Конфигурация AmneziaWG для сервера <b>{ $node }</b>.
    Компьютер: импортируйте этот файл в AmneziaVPN или AmneziaWG — WireGuard его не откроет.
config-qr-caption-awg = Телефон: в AmneziaVPN или AmneziaWG нажмите «+» и отсканируйте этот QR-код.
