# Command menu
cmd-backup = (админ) Резервная копия базы данных
cmd-stats = (админ) Статистика и график новых пользователей

# Backups
backup-caption =
    💾 Резервная копия базы: <b>{ $name }</b> ({ $size } МБ).
    🔐 Ключи клиентов в ней зашифрованы. Чтобы ею воспользоваться, нужен ключ шифрования (файл DATA_DIR/secret.key или ENCRYPTION_KEY) — его в копии НЕТ, храните его отдельно.
    Восстановление: python main.py db restore ФАЙЛ
backup-too-big =
    💾 Резервная копия <b>{ $name }</b> ({ $size } МБ) больше 50 МБ — Telegram не даёт боту отправить такой файл.
    Она сохранена на сервере бота: { $path }
backup-failed = ⚠️ Резервная копия не создана: { $reason }

# Stats
stats-title = 📊 <b>Статистика</b> · { $now }
stats-users = 👥 Пользователей: { $total } · новых за 7 дней: { $week }
stats-access = 🔓 С доступом сейчас: { $count }
stats-access-kind = { "  " }• { $kind }: { $count }
stats-access-nobody = 🔓 С доступом сейчас: никого
stats-kind-invite = по приглашению
stats-kind-trial = пробный период
stats-kind-paid = оплачен
stats-kind-none = без доступа
stats-handshakes = 🤝 Подключались за сутки: { $count } устр.
stats-nodes = 🖥 <b>Серверы</b>
stats-node = { $mark } { $name }{ $draining } · { $state } · устройств: { $devices } · за сутки: { $handshakes } · ↓ { $received } · ↑ { $sent }
stats-node-up = пиров: { $peers }
stats-node-down = недоступен
stats-node-unprobed = ещё не проверялся
stats-node-draining = { " " }(выводится)
stats-chart-title = Новые пользователи за { $days } дней
stats-chart-x = День (UTC)
stats-chart-y = Новых пользователей

# Throttling
throttle-warning = ⏳ Слишком много запросов. Подождите { $seconds } с и попробуйте снова.
stats-revenue = 💰 За 30 дней: { $amounts } · платили: { $payers }
stats-conversion = 🎁 Пробных периодов: { $trials } · оплатили потом: { $paid } ({ $percent }%)
cmd-set-endpoint = (админ) Новый адрес сервера: /set_endpoint ИМЯ ХОСТ:ПОРТ
set-endpoint-usage = Использование: <code>/set_endpoint ИМЯ ХОСТ:ПОРТ</code> — новый адрес, по которому клиенты подключаются к серверу (например, когда старый заблокирован). Каждый пользователь сервера получит новую конфигурацию.
set-endpoint-done = ✅ <b>{ $node }</b>: { $old } → { $new }. Новую конфигурацию получили { $delivered }, не доставлено { $undelivered }.
