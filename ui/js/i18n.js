// Every string of the UI, in Russian (the default) and English, and the
// switch between them. Static text in the page names its key in
// `data-i18n` (`data-i18n-title` for a title, `data-i18n-placeholder`).

const STRINGS = {
  'nav.live': { ru: 'Текущие значения', en: 'Live values' },
  'nav.plugins': { ru: 'Плагины', en: 'Plugins' },
  'nav.sync': { ru: 'Синхронизация', en: 'Sync' },
  'session.logout': { ru: 'Выйти', en: 'Log out' },
  'session.ended': { ru: 'Сеанс завершён, войдите снова.', en: 'The session has ended; log in again.' },
  'session.closed': { ru: 'Поток закрыт сервером: {reason}. Войдите снова.', en: 'The server closed the stream: {reason}. Log in again.' },
  'language.switch': { ru: 'Switch to English', en: 'Переключить на русский' },
  'role.viewer': { ru: 'наблюдатель', en: 'viewer' },
  'role.dispatcher': { ru: 'диспетчер', en: 'dispatcher' },
  'role.operator': { ru: 'оператор', en: 'operator' },
  'role.admin': { ru: 'администратор', en: 'admin' },
  'error.failed': { ru: 'Ошибка: {error}', en: 'Failed: {error}' },

  'login.subtitle': { ru: 'Диспетчерская АСКУЭ', en: 'Metering dispatcher console' },
  'login.user': { ru: 'Пользователь', en: 'User' },
  'login.password': { ru: 'Пароль', en: 'Password' },
  'login.submit': { ru: 'Войти', en: 'Log in' },
  'login.wrong': { ru: 'Неверное имя пользователя или пароль.', en: 'Wrong user name or password.' },
  'login.throttled': { ru: 'Слишком много неудачных попыток: {error}', en: 'Too many failed logins: {error}' },
  'login.first_run': {
    ru: 'Пользователей ещё нет. Создайте первого администратора на сервере:',
    en: 'There are no users yet. Create the first admin on the server:',
  },

  'stream.connecting': { ru: 'Подключение…', en: 'Connecting…' },
  'stream.connected': { ru: 'На связи', en: 'Connected' },
  'stream.reconnecting': { ru: 'Переподключение…', en: 'Reconnecting…' },
  'stream.closed': { ru: 'Отключено', en: 'Closed' },
  'quality.t3': { ru: 'T3 {t3}', en: 'T3 {t3}' },
  'quality.late': { ru: 'данные запаздывают', en: 'data are late' },
  'quality.overdue': { ru: 'нет ответа {waiting}', en: 'no answer for {waiting}' },
  'quality.explain': {
    ru: 'Время доставки T3 = (Tr − Ts) / 2 по контрольному запросу каждые {tc}; предупреждение при 2·T3 > Tc',
    en: 'Delivery time T3 = (Tr − Ts) / 2 from a control request every {tc}; warns when 2·T3 > Tc',
  },

  'tree.title': { ru: 'Объекты учёта', en: 'Metering points' },
  'tree.empty': { ru: 'Нет доступных счётчиков.', en: 'No meters to show.' },
  'tree.no_resource': { ru: 'Ресурс не указан', en: 'No resource' },
  'tree.no_site': { ru: 'Объект не указан', en: 'No site' },
  'tree.module': { ru: 'Модуль {module}', en: 'Module {module}' },
  'tree.no_module': { ru: 'Без модуля', en: 'No module' },
  'resource.gas': { ru: 'Газ', en: 'Gas' },
  'resource.electricity': { ru: 'Электроэнергия', en: 'Electricity' },
  'resource.heat': { ru: 'Тепло', en: 'Heat' },
  'resource.cold_water': { ru: 'Холодная вода', en: 'Cold water' },
  'resource.hot_water': { ru: 'Горячая вода', en: 'Hot water' },

  'live.title': { ru: 'Текущие значения', en: 'Live values' },
  'live.filter': { ru: 'Фильтр: счётчик или канал', en: 'Filter: meter or channel' },
  'live.count': { ru: 'сигналов: {n}', en: '{n} signals' },
  'live.empty': { ru: 'Значений пока нет.', en: 'No values yet.' },
  'live.device': { ru: 'Счётчик', en: 'Meter' },
  'live.channel': { ru: 'Канал', en: 'Channel' },
  'live.value': { ru: 'Значение', en: 'Value' },
  'live.unit': { ru: 'Ед.', en: 'Unit' },
  'live.device_time': { ru: 'Время прибора', en: 'Device time' },
  'live.age': { ru: 'Давность', en: 'Age' },

  'meter.title': { ru: 'Счётчик {id}', en: 'Meter {id}' },
  'meter.unknown': { ru: 'Счётчика {id} нет в архиве.', en: 'There is no meter {id} in the archive.' },
  'meter.refused': { ru: 'Нет доступа к этому счётчику.', en: 'You may not see this meter.' },
  'meter.about': { ru: 'Сведения', en: 'About' },
  'meter.module': { ru: 'Модуль связи', en: 'Communication module' },
  'meter.chart': { ru: 'График', en: 'Chart' },
  'meter.channel': { ru: 'Канал графика', en: 'Chart channel' },
  'meter.readings': { ru: 'Последние показания', en: 'Latest readings' },
  'meter.deltas_day': { ru: 'Потребление по суткам', en: 'Daily consumption' },
  'meter.deltas_month': { ru: 'Потребление по месяцам', en: 'Monthly consumption' },
  'meter.time': { ru: 'Время прибора', en: 'Device time' },
  'meter.conflict': { ru: 'Противоречит более раннему показанию', en: 'Contradicts an earlier reading' },
  'meter.name': { ru: 'Название', en: 'Name' },
  'meter.resource': { ru: 'Ресурс', en: 'Resource' },
  'meter.site': { ru: 'Объект', en: 'Site' },
  'meter.address': { ru: 'Адрес', en: 'Address' },
  'meter.account': { ru: 'Лицевой счёт', en: 'Consumer account' },
  'meter.zone': { ru: 'Часовой пояс', en: 'Time zone' },
  'meter.source': { ru: 'Источник', en: 'Source' },
  'meter.first_seen': { ru: 'Первое показание', en: 'First reading' },
  'meter.last_seen': { ru: 'Последнее показание', en: 'Last reading' },
  'range.hour': { ru: 'Час', en: 'Hour' },
  'range.day': { ru: 'Сутки', en: 'Day' },
  'range.week': { ru: 'Неделя', en: 'Week' },
  'range.month': { ru: 'Месяц', en: 'Month' },
  'chart.missing': {
    ru: 'График недоступен: библиотека uPlot не собрана. Выполните',
    en: 'No chart: the uPlot library was not built. Run',
  },
  'chart.since': { ru: 'С {since}: показаний {n}', en: 'Since {since}: {n} readings' },
  'chart.since_cut': {
    ru: 'С {since}: показаний {n} (период сокращён, показаний слишком много)',
    en: 'Since {since}: {n} readings (range shortened: too many readings)',
  },

  'module.none': { ru: 'Нет сведений о модуле.', en: 'Nothing known about a module.' },
  'module.id': { ru: 'Модуль', en: 'Module' },
  'module.state': { ru: 'Состояние', en: 'State' },
  'module.state_active': { ru: 'на связи', en: 'active' },
  'module.state_silent': { ru: 'молчит', en: 'silent' },
  'module.state_unknown': { ru: 'неизвестно', en: 'unknown' },
  'module.battery': { ru: 'Батарея', en: 'Battery' },
  'module.rssi': { ru: 'RSSI', en: 'RSSI' },
  'module.snr': { ru: 'SNR', en: 'SNR' },
  'module.last_seen': { ru: 'Последняя связь', en: 'Last heard' },
  'module.ago': { ru: '{age} назад', en: '{age} ago' },
  'module.period': { ru: 'Период выхода на связь', en: 'Reporting period' },
  'module.lost': { ru: 'Потеряно пакетов', en: 'Lost uplinks' },

  'deltas.none': { ru: 'Нет данных о потреблении.', en: 'No consumption data.' },
  'deltas.period': { ru: 'Период', en: 'Period' },
  'deltas.consumption': { ru: 'Потребление', en: 'Consumption' },
  'deltas.flags': { ru: 'Отметки', en: 'Flags' },
  'deltas.in_progress': { ru: 'идёт', en: 'in progress' },
  'deltas.estimated': { ru: 'оценка', en: 'estimated' },
  'deltas.partial_start': { ru: 'неполный', en: 'partial' },
  'deltas.conflict': { ru: 'противоречие', en: 'conflict' },
  'deltas.unexplained_decrease': { ru: 'необъяснимое уменьшение', en: 'unexplained decrease' },
  'deltas.rollovers': { ru: 'переполнений: {n}', en: '{n} rollovers' },

  'plugins.title': { ru: 'Состояние плагинов', en: 'Plugin status' },
  'plugins.forbidden': { ru: 'Эта страница доступна диспетчерам и выше.', en: 'This page is for dispatchers and above.' },
  'plugins.updated': { ru: 'обновлено {time}', en: 'updated {time}' },
  'plugins.instances': { ru: 'Экземпляры', en: 'Instances' },
  'plugins.instance': { ru: 'Экземпляр', en: 'Instance' },
  'plugins.plugin': { ru: 'Плагин', en: 'Plugin' },
  'plugins.state': { ru: 'Состояние', en: 'State' },
  'plugins.uptime': { ru: 'Работает', en: 'Up for' },
  'plugins.uptime_total': { ru: 'Сервер работает {uptime}.', en: 'The server has been up for {uptime}.' },
  'plugins.calls': { ru: 'Вызовы', en: 'Calls' },
  'plugins.failures': { ru: 'Сбои', en: 'Failures' },
  'plugins.last_error': { ru: 'Последняя ошибка', en: 'Last error' },
  'plugins.sources': { ru: 'Счётчики по источникам', en: 'Counters per source' },
  'plugins.source': { ru: 'Источник', en: 'Source' },
  'plugins.rate': { ru: 'Скорость', en: 'Rate' },
  'plugins.per_s': { ru: '{n}/с', en: '{n}/s' },
  'plugins.balanced': {
    ru: 'Баланс сходится: получено = в архиве + повторы + карантин + отклонено.',
    en: 'Balanced: received = archived + duplicate + quarantined + rejected.',
  },
  'plugins.unbalanced': {
    ru: 'Баланс пока не сходится (кадры в обработке).',
    en: 'Not balanced yet (frames in flight).',
  },
  'plugins.plugins': { ru: 'Загруженные плагины', en: 'Loaded plugins' },
  'plugins.roles': { ru: 'Роли', en: 'Roles' },
  'plugins.description': { ru: 'Описание', en: 'Description' },
  'plugins.refused': { ru: 'Не загружены', en: 'Refused' },
  'plugins.quarantine': { ru: 'Карантин', en: 'Quarantine' },
  'plugins.quarantine_empty': { ru: 'Карантин пуст.', en: 'The quarantine is empty.' },
  'plugins.received_at': { ru: 'Получен', en: 'Received' },
  'plugins.peer': { ru: 'Отправитель', en: 'Peer' },
  'plugins.reason': { ru: 'Причина', en: 'Reason' },
  'plugins.payload': { ru: 'Содержимое', en: 'Payload' },
  'sinks.title': { ru: 'Выгрузки', en: 'Sinks' },
  'sinks.empty': {
    ru: 'Выгрузки не настроены: добавьте [sinks.<id>] в конфигурацию (docs/sinks.md)',
    en: 'No sinks configured: add [sinks.<id>] to the configuration (docs/sinks.md)',
  },
  'sinks.sink': { ru: 'Выгрузка и куда', en: 'Sink and target' },
  'sinks.schema': { ru: 'схема {schema}', en: 'schema {schema}' },
  'sinks.position': { ru: 'Позиция', en: 'Position' },
  'sinks.of_head': { ru: 'из {head}', en: 'of {head}' },
  'sinks.lag': { ru: 'Отставание', en: 'Lag' },
  'sinks.record': { ru: '{n} зап.', en: '{n} record' },
  'sinks.records': { ru: '{n} зап.', en: '{n} records' },
  'sinks.delivered': { ru: 'Записано', en: 'Delivered' },
  'sinks.batches': { ru: 'пакетов: {n}', en: 'batches: {n}' },
  'sinks.retried': { ru: 'Неудачные попытки', en: 'Retried' },
  'sinks.rejected': { ru: 'Отклонено', en: 'Rejected' },
  'sinks.rejected_hint': {
    ru: 'Записи в списке отклонённых (GET /api/v1/sinks/{id}/dead-letters)',
    en: 'Records on the dead-letter list (GET /api/v1/sinks/{id}/dead-letters)',
  },
  'sinks.last_success': { ru: 'Последняя запись', en: 'Last success' },
  'sinks.never': { ru: 'ещё не было', en: 'never' },
  'sinks.last_error': { ru: 'Последняя ошибка ({time}):', en: 'Last error ({time}):' },
  'sinks.error_before_success': { ru: '(до последней записи)', en: '(before the last success)' },
  'sink_state.starting': { ru: 'запуск', en: 'starting' },
  'sink_state.running': { ru: 'работает', en: 'running' },
  'sink_state.retrying': { ru: 'повторяет попытку', en: 'retrying' },
  'sink_state.waiting': { ru: 'ждёт плагин', en: 'waiting for its plugin' },
  'sink_state.stopped': { ru: 'остановлена', en: 'stopped' },
  'sync.title': { ru: 'Синхронизация с центром', en: 'Sync with the monitoring center' },
  'sync.links': { ru: 'Связи с центром', en: 'Links to the center' },
  'sync.links_hint': { ru: 'этот сервер передаёт свои данные', en: 'this host sends its data' },
  'sync.sites': { ru: 'Сайты', en: 'Sites' },
  'sync.sites_hint': { ru: 'данные, которые принимает этот сервер', en: 'the data this host takes in' },
  'sync.empty': {
    ru: 'Синхронизация не настроена. На сайте добавьте выгрузку {sink}, в центре — {site} (docs/sync.md).',
    en: 'Sync is not configured. At a site add a sink {sink}, at a center {site} (docs/sync.md).',
  },
  'sync.summary_sites': { ru: 'Сайтов: {n}', en: 'Sites: {n}' },
  'sync.summary_links': { ru: 'Связей с центром: {n}', en: 'Links to the center: {n}' },
  'sync.summary_all': { ru: 'Связей: {n}', en: 'Links: {n}' },
  'sync.count.in_sync': { ru: 'в синхроне {n}', en: 'in sync {n}' },
  'sync.count.catching_up': { ru: 'догоняют {n}', en: 'catching up {n}' },
  'sync.count.stalled': { ru: 'стоят {n}', en: 'stalled {n}' },
  'sync.count.down': { ru: 'нет связи {n}', en: 'down {n}' },
  'sync.link': { ru: 'Связь и куда', en: 'Link and target' },
  'sync.site': { ru: 'Сайт', en: 'Site' },
  'sync.as_site': { ru: 'сайт {site}', en: 'as site {site}' },
  'sync.state': { ru: 'Состояние', en: 'State' },
  'sync.lag': { ru: 'Отставание', en: 'Lag' },
  'sync.last_success': { ru: 'Последний пакет', en: 'Last batch' },
  'sync.delivered': { ru: 'Передано', en: 'Delivered' },
  'sync.last_contact': { ru: 'Последняя связь', en: 'Last contact' },
  'sync.last_batch': { ru: 'Последний пакет', en: 'Last batch' },
  'sync.readings': { ru: 'Получено показаний', en: 'Readings received' },
  'sync.throughput': { ru: 'Скорость', en: 'Throughput' },
  'sync.per_s': { ru: '{n} пок./с', en: '{n} readings/s' },
  'sync.eta': { ru: 'Догонит через', en: 'Catches up in' },
  'sync.batches': { ru: 'пакетов: {n}', en: 'batches: {n}' },
  'sync.batches_bytes': { ru: 'пакетов: {n}, {bytes}', en: 'batches: {n}, {bytes}' },
  'sync.never': { ru: 'ещё не было', en: 'never' },
  'sync.ago': { ru: '{age} назад', en: '{age} ago' },
  'sync.no_answer': { ru: 'пакет без ответа {age}', en: 'a batch unanswered for {age}' },
  'sync.unavailable': { ru: 'центр недоступен', en: 'the center cannot be reached' },
  'sync.refused': { ru: 'центр отказывает (см. ошибку)', en: 'the center refuses (see the error)' },
  'sync.alarm_lag': {
    ru: 'тревога с {since}: отставание больше {limit}',
    en: 'alarm since {since}: behind by more than {limit}',
  },
  'sync.alarm_behind': { ru: 'тревога: отставание {lag}, больше допустимого', en: 'alarm: {lag} behind, more than allowed' },
  'sync.rate': { ru: 'Скорость', en: 'Rate' },
  'sync.records_per_s': { ru: '{n} зап./с', en: '{n} records/s' },
  'sync.eta_in': { ru: 'догонит через {eta}', en: 'caught up in {eta}' },
  'sync.check_clean': {
    ru: 'Сверка {time} за {from}–{to} (UTC): приборо-суток {days}, показаний {n} — расхождений нет.',
    en: 'Check at {time} of {from}–{to} (UTC): {days} meter days, {n} readings — both ends hold the same.',
  },
  'sync.check_at': { ru: 'Сверка {time} за {from}–{to} (UTC):', en: 'Check at {time} of {from}–{to} (UTC):' },
  'sync.check_different': {
    ru: 'расходятся приборо-суток: {n} из {days}.',
    en: '{n} of {days} meter days differ.',
  },
  'sync.check_difference': {
    ru: '{meter} за {day}: на сайте {site}, в центре {center}',
    en: '{meter} on {day}: {site} at the site, {center} at the center',
  },
  'sync.check_nothing': { ru: 'ничего', en: 'nothing' },
  'sync.check_more': { ru: 'и ещё {n}', en: 'and {n} more' },
  'sync.alarm_silent': { ru: 'тревога: нет связи {age}', en: 'alarm: not heard from for {age}' },
  'sync.alarm_never': {
    ru: 'тревога: не выходил на связь с запуска центра',
    en: 'alarm: not heard from since the center started',
  },
  'sync.last_error': { ru: 'Последняя ошибка ({time}):', en: 'Last error ({time}):' },
  'sync.error_before_success': { ru: '(до последнего пакета)', en: '(before the last batch)' },
  'sync.clock': {
    ru: 'Часы сайта расходятся с часами центра на {offset}; отставание считается по часам сайта.',
    en: 'The site\'s clock is {offset} off the center\'s; the lag is measured by the site\'s clock.',
  },
  'sync.unreadable': {
    ru: 'Записей, которые сайт не смог прочитать: {n} (повреждённый архив сайта).',
    en: 'Records the site could not read: {n} (a damaged archive at the site).',
  },
  'sync_state.in_sync': { ru: 'в синхроне', en: 'in sync' },
  'sync_state.catching_up': { ru: 'догоняет', en: 'catching up' },
  'sync_state.stalled': { ru: 'стоит', en: 'stalled' },
  'sync_state.down': { ru: 'нет связи', en: 'down' },
  'counter.received': { ru: 'Получено', en: 'Received' },
  'counter.archived': { ru: 'В архиве', en: 'Archived' },
  'counter.duplicate': { ru: 'Повторы', en: 'Duplicate' },
  'counter.quarantined': { ru: 'Карантин', en: 'Quarantined' },
  'counter.rejected': { ru: 'Отклонено', en: 'Rejected' },

  'unit.ms': { ru: '{n} мс', en: '{n} ms' },
  'unit.s': { ru: '{n} с', en: '{n} s' },
  'unit.under_s': { ru: '< 1 с', en: '< 1 s' },
  'unit.min': { ru: '{n} мин', en: '{n} min' },
  'unit.h': { ru: '{n} ч', en: '{n} h' },
  'unit.d': { ru: '{n} д', en: '{n} d' },
  'unit.dbm': { ru: 'дБм', en: 'dBm' },
  'unit.db': { ru: 'дБ', en: 'dB' },
  'unit.b': { ru: '{n} Б', en: '{n} B' },
  'unit.kb': { ru: '{n} КБ', en: '{n} KB' },
  'unit.mb': { ru: '{n} МБ', en: '{n} MB' },
  'unit.gb': { ru: '{n} ГБ', en: '{n} GB' },
  'unit.tb': { ru: '{n} ТБ', en: '{n} TB' },
};

/** The languages, the default first. */
export const LANGUAGES = ['ru', 'en'];

let current = LANGUAGES[0];
const listeners = new Set();

/** The current language code. */
export function language() {
  return current;
}

/**
 * The text of `key` in the current language with `{name}` replaced from
 * `vars`; `fallback` (or the key) when the table has none.
 */
export function t(key, vars = {}, fallback = key) {
  const entry = STRINGS[key];
  const text = entry ? entry[current] ?? entry[LANGUAGES[0]] : fallback;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Translates the static text of `root` (elements with `data-i18n…`). */
export function translatePage(root = document) {
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-title]')) node.title = t(node.dataset.i18nTitle);
  for (const node of root.querySelectorAll('[data-i18n-placeholder]')) node.placeholder = t(node.dataset.i18nPlaceholder);
}

/** Switches to `code` (an unknown code is the default) and tells every listener. */
export function setLanguage(code) {
  const next = LANGUAGES.includes(code) ? code : LANGUAGES[0];
  const changed = next !== current;
  current = next;
  document.documentElement.lang = current;
  translatePage();
  if (changed) for (const listener of listeners) listener(current);
}

/** Calls `listener(code)` after each change; returns the unsubscribe function. */
export function onLanguageChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
