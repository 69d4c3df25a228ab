## The personal page (web/) and, in the chat, the way to it
cmd-link = Личная ссылка на кабинет
menu-page = 🗂 Личный кабинет
page-menu-button = Кабинет
link-text =
    🔗 <b>Ваш личный кабинет</b>
    { $link }
    Эта ссылка открывает кабинет в любом браузере, даже без Telegram: срок доступа, устройства, оплата. Не пересылайте её никому.
    Если ссылка попала в чужие руки — замените её: старая сразу перестанет работать.
link-open = 🌐 Открыть
link-replace = 🔄 Заменить ссылку
link-replaced =
    🔄 <b>Готово: новая ссылка</b>
    { $link }
    Старая больше не работает — на всех устройствах, где она была открыта.
link-off = Личный кабинет пока не настроен. Всё доступно здесь, в чате: /status, /devices, /subscribe.

page-title = Личный кабинет
page-hello = Здравствуйте, { $name }
page-language = Язык
page-signed-in-telegram = Вы вошли через Telegram.
page-signed-in-link = Вы вошли по личной ссылке. Не пересылайте её; заменить — командой /link в чате с ботом.
page-sign-out = Выйти

page-access = Доступ
page-access-open = Открыт
page-access-until = до { $until }
page-access-forever = без ограничения срока
page-access-none = Доступа нет
page-access-none-hint = Оформите подписку ниже — VPN заработает сразу после оплаты.
page-access-blocked = Трафик на этот месяц израсходован
page-access-blocked-until = VPN включится { $until }
page-plan = Тариф
page-auto-renew = Автопродление
page-auto-renew-on = включено
page-auto-renew-hint = За сутки до окончания спишем ту же сумму с сохранённой карты.
page-auto-renew-off = выключено
page-cancel-renew = Отключить автопродление
page-trial = Попробовать бесплатно — { $days ->
    [one] { $days } день
    [few] { $days } дня
   *[many] { $days } дней
}

page-devices = Устройства
page-devices-count = { $count } из { $limit }
page-devices-empty = Пока ни одного. Добавьте устройство — появятся файл конфигурации и QR-код.
page-devices-no-access = Устройства заработают, как только откроется доступ.
page-devices-at-limit = Это предел вашего тарифа: чтобы добавить новое, удалите одно из них.
page-device-seen = Подключалось { $ago } назад
page-device-never = Ещё не подключалось
page-device-download = Скачать .conf
page-device-qr = QR-код
page-device-qr-alt = QR-код конфигурации «{ $name }»
page-device-qr-hint = В приложении WireGuard: «+» → «Сканировать QR-код».
page-device-manage = Изменить
page-device-name = Имя устройства
page-device-rename = Сохранить имя
page-device-rekey = Новые ключи
page-device-rekey-hint = Текущая конфигурация этого устройства сразу перестанет работать — импортируйте новую.
page-device-remove = Удалить устройство
page-device-remove-hint = Его конфигурация сразу перестанет работать. Отменить это нельзя.
page-device-add = Добавить устройство

page-renew = Продлить доступ
page-subscribe = Оформить подписку
page-renew-hint = Доступ продлевается от даты окончания текущего, ничего не теряется.
page-plan-details = До { $devices } устройств, { $traffic }
page-stars = { $stars } ★
page-pay-card = Оплатить картой
page-pay-card-auto = Картой с автопродлением
page-pay-stars = Звёздами Telegram
page-pay-auto-hint = С автопродлением мы спишем ту же сумму с этой карты за сутки до окончания срока; отключить — одной кнопкой здесь.
page-stars-in-telegram = Оплатить звёздами можно только в Telegram: откройте кабинет из бота.
page-payments-off = Оплата пока не настроена. Напишите администратору в чате с ботом.
page-pay-title = Оплата
page-pay-text-card = Оплатите { $rub } ₽ на странице ЮKassa. Доступ продлится сам, как только платёж пройдёт — вернитесь сюда и обновите страницу.
page-pay-text-auto = Оплатите { $rub } ₽ на странице ЮKassa. Вы согласились на автопродление: за сутки до окончания мы спишем { $full } ₽ с этой карты. Отключить — одной кнопкой в кабинете.
page-pay-text-sbp = Оплатите { $rub } ₽ через СБП: на странице ЮKassa выберите свой банк и подтвердите платёж в его приложении. Доступ продлится сам — вернитесь сюда и обновите страницу.
page-pay-link = Перейти к оплате { $rub } ₽
page-back = ← В кабинет

page-history = Платежи
page-history-empty = Платежей пока нет.
page-payment-succeeded = оплачен
page-payment-refunded = возвращён

page-setup = Как подключить
page-setup-app = Официальное приложение WireGuard
page-setup-ios =
    Установите WireGuard из App Store.
    В приложении нажмите «+» → «Создать из QR-кода» и наведите камеру на QR-код, открытый на другом экране. Или скачайте .conf и откройте его в WireGuard.
    Разрешите добавить конфигурацию VPN и включите туннель.
page-setup-android =
    Установите WireGuard из Google Play.
    Нажмите «+» → «Сканировать QR-код» или «Импорт из файла» и выберите скачанный .conf.
    Включите туннель.
page-setup-windows =
    Скачайте и установите WireGuard для Windows.
    Нажмите «Import tunnel(s) from file» и выберите скачанный .conf.
    Нажмите «Activate».
page-setup-macos =
    Установите WireGuard из Mac App Store.
    Нажмите «Import tunnel(s) from file» и выберите скачанный .conf.
    Разрешите добавить конфигурацию VPN и нажмите «Activate».
page-setup-linux =
    Установите wireguard-tools (и openresolv для строки DNS) из пакетов вашего дистрибутива.
    Положите файл на место: sudo install -m 600 { $file } /etc/wireguard/
    Включите: sudo wg-quick up { $name }
page-setup-amnezia = Часть ваших устройств — на сервере с AmneziaWG: вместо WireGuard установите приложение AmneziaVPN или AmneziaWG.

page-done-device-added = Устройство добавлено. Скачайте конфигурацию или отсканируйте QR-код ниже и дайте устройству имя.
page-done-renamed = Имя сохранено.
page-done-rekeyed = Новые ключи готовы. Старая конфигурация больше не работает — импортируйте новую ниже.
page-done-removed = Устройство удалено, его конфигурация больше не работает.
page-done-removed-later = Устройство удалено. Его сервер сейчас не отвечает — доступ с этой конфигурации отключится, как только он вернётся.
page-done-renew-cancelled = Автопродление отключено, карта больше не будет списываться. Доступ остаётся до конца оплаченного срока.
page-done-trial = Пробный доступ открыт. Добавьте устройство, чтобы получить конфигурацию.
page-done-language = Готово: язык — русский.
page-done-paid = Оплата получена. Спасибо!

page-signin-title = Вход в кабинет
page-signin-text = Откройте кабинет из чата с ботом — кнопкой «Кабинет» — или по своей личной ссылке: бот пришлёт её по команде /link.
page-signin-wait = Входим через Telegram…
page-refused-title = Ссылка не работает
page-refused-text = Эта ссылка устарела или неверна. Возьмите новую в чате с ботом: команда /link.
page-expired-text = Сессия закончилась. Откройте кабинет снова из чата с ботом или по личной ссылке (/link).
page-stale-form = Страница устарела. Обновите её и попробуйте ещё раз.
page-too-many = Слишком много запросов. Подождите минуту и попробуйте снова.
page-not-found = Такой страницы нет.
page-error-title = Не получилось

page-error-device-name = Имя должно быть от 1 до { $most } символов, без служебных символов.
page-error-device-not-found = Такого устройства у вас нет. Обновите страницу.
page-error-device-limit = Больше устройств добавить нельзя: у вас { $count } из { $limit }. Удалите одно, чтобы добавить новое.
page-error-no-access = Сейчас у вас нет доступа. Оформите подписку ниже.
page-error-node-unavailable = Сервер { $node } сейчас недоступен, ничего не изменено. Попробуйте чуть позже или выберите другой сервер в чате: /server
page-error-node-full = На сервере { $node } нет свободных мест. Выберите другой сервер в чате: /server
page-error-node-not-found = Этого сервера больше нет. Выберите другой в чате: /server
page-error-plan-not-found = Такого тарифа больше нет. Обновите страницу.
page-error-trial-used = Пробный период уже был на этом аккаунте.
page-error-stars-outside = Звёздами можно оплатить только в Telegram: откройте кабинет из бота.
page-error-bad-field = Неверные данные в форме. Обновите страницу и попробуйте ещё раз.
