// The alarm board (open alarms from a load and the stream, in order, with
// counts) and what alarms and the event log say in both languages
// (node --test; scripts/test runs it).

import assert from 'node:assert/strict';
import { test } from 'node:test';

// i18n's language switch translates the page; a stand-in is enough here.
globalThis.document = { documentElement: {}, querySelectorAll: () => [] };

const { AlarmBoard, alarmText, eventDetail, eventText, subjectOf } = await import('../js/alarms.js');
const { setLanguage } = await import('../js/i18n.js');

const NBSP = '\u00a0';
const NNBSP = '\u202f';

/** An alarm as the host shows it, `fields` over a raised, active, critical magnet alarm. */
function alarm(fields = {}) {
  return {
    id: 1,
    rule: 'magnet',
    kind: 'state',
    severity: 'critical',
    subject: { kind: 'meter', id: 'gas-1' },
    channel: 'magnet',
    meters: ['gas-1'],
    value: '1',
    unit: null,
    limit: null,
    text: 'magnet is 1',
    raised_at_ms: 1_000,
    reading: { seq: 5, ts_ms: 900, source: 'tcp-in' },
    ended_at_ms: null,
    end_value: null,
    end_reading: null,
    end_reason: null,
    acknowledged: null,
    repeats: 0,
    last_seen_ms: 1_000,
    active: true,
    open: true,
    ...fields,
  };
}

const ACK = { by: 'dina', at_ms: 5_000, comment: 'checked' };

/** A board whose load answers `alarms` (resolved when `release()` is called, if `held`). */
function board(alarms = [], { held = false } = {}) {
  let release = () => {};
  const gate = held ? new Promise((resolve) => { release = resolve; }) : Promise.resolve();
  const b = new AlarmBoard(async () => {
    await gate;
    return { alarms, counts: {} };
  });
  b.running = true;
  return { board: b, release: () => release() };
}

function recorder(target, name) {
  const seen = [];
  target.addEventListener(name, (e) => seen.push(e.detail));
  return seen;
}

test('the board keeps open alarms, most severe then newest first, and counts them', async () => {
  const { board: b } = board([
    alarm({ id: 1, severity: 'info', raised_at_ms: 3_000 }),
    alarm({ id: 2, severity: 'critical', raised_at_ms: 1_000 }),
  ]);
  const changes = recorder(b, 'change');
  const raised = recorder(b, 'raised');
  await b.load();
  assert.equal(changes.length, 1);
  assert.deepEqual(raised, [], 'a load announces nothing');
  b.put(alarm({ id: 3, severity: 'critical', raised_at_ms: 2_000 }));
  b.put(alarm({ id: 4, severity: 'warning', raised_at_ms: 4_000, acknowledged: ACK }));
  assert.deepEqual(b.list().map((a) => a.id), [3, 2, 4, 1]);
  assert.deepEqual(b.list('time').map((a) => a.id), [4, 1, 3, 2]);
  assert.deepEqual(b.unacknowledged().map((a) => a.id), [3, 2, 1]);
  assert.equal(b.newest().id, 3, 'the most severe, newest unacknowledged');
  assert.deepEqual(raised.map((a) => a.id), [3], 'only a new unacknowledged alarm is announced');
  assert.deepEqual(b.counts(), {
    open: 4, active: 4, unacknowledged: 3, by_severity: { critical: 2, warning: 1, info: 1 },
  });
});

test('an alarm no longer open leaves the board, and older news of it never brings it back', async () => {
  const { board: b } = board();
  await b.load();
  b.put(alarm({ id: 7 }));
  b.put(alarm({ id: 7, acknowledged: ACK }));
  assert.equal(b.get(7).acknowledged.by, 'dina');
  assert.equal(b.newest(), null, 'acknowledged: nothing for the banner');
  assert.equal(b.counts().unacknowledged, 0);
  assert.equal(b.put(alarm({ id: 7 })), false, 'the unacknowledged state is older news');
  assert.equal(b.get(7).acknowledged.by, 'dina');
  const ended = alarm({ id: 7, acknowledged: ACK, active: false, open: false, ended_at_ms: 9_000 });
  assert.equal(b.put(ended), true);
  assert.equal(b.get(7), undefined);
  assert.equal(b.counts().open, 0);
  assert.equal(b.put(alarm({ id: 7, acknowledged: ACK })), false, 'a late event of a closed alarm');
  assert.equal(b.get(7), undefined);
});

test('a momentary alarm waits for its acknowledgement and counts its repeats', async () => {
  const { board: b } = board();
  await b.load();
  const raised = recorder(b, 'raised');
  const decrease = alarm({
    id: 9, kind: 'decrease', severity: 'warning', active: false, ended_at_ms: 1_000, channel: 'volume', value: '100', limit: '120', unit: 'm3',
  });
  b.put(decrease);
  b.put({ ...decrease, repeats: 2, last_seen_ms: 3_000 });
  assert.equal(b.get(9).repeats, 2);
  assert.equal(b.put({ ...decrease, repeats: 1, last_seen_ms: 2_000 }), false, 'older news');
  assert.equal(raised.length, 1, 'seen again is not raised again');
  assert.deepEqual(b.counts(), { open: 1, active: 0, unacknowledged: 1, by_severity: { critical: 0, warning: 1, info: 0 } });
  b.put({ ...decrease, repeats: 2, acknowledged: ACK, open: false });
  assert.equal(b.counts().open, 0);
});

test('alarms the stream brings during a load are not undone by its older answer', async () => {
  const { board: b, release } = board([alarm({ id: 1 }), alarm({ id: 2 })], { held: true });
  const loading = b.load();
  b.put(alarm({ id: 1, acknowledged: ACK, active: false, ended_at_ms: 2_000, open: false }));
  b.put(alarm({ id: 3 }));
  release();
  await loading;
  assert.deepEqual(b.list().map((a) => a.id).sort(), [2, 3]);
});

test('a load asked for while one runs runs after it; a stopped board forgets', async () => {
  let calls = 0;
  const b = new AlarmBoard(async () => {
    calls += 1;
    return { alarms: calls === 1 ? [alarm({ id: 1 })] : [alarm({ id: 1 }), alarm({ id: 2 })] };
  });
  await Promise.all([b.start(), b.load()]);
  assert.equal(calls, 2);
  assert.equal(b.counts().open, 2);
  b.stop();
  assert.equal(b.counts().open, 0);
  assert.equal(b.newest(), null);
});

test('a failed load keeps what the board has and says why', async () => {
  let fail = false;
  const b = new AlarmBoard(async () => {
    if (fail) throw new Error('network: down');
    return { alarms: [alarm({ id: 1 })] };
  });
  await b.start();
  fail = true;
  await b.load();
  assert.equal(b.failed, 'network: down');
  assert.equal(b.counts().open, 1);
});

test('the board follows the stream: alarms, and a load again after a gap and each reconnection', async () => {
  let loads = 0;
  const b = new AlarmBoard(async () => {
    loads += 1;
    return { alarms: [] };
  });
  const values = new EventTarget();
  const send = (name, detail) => values.dispatchEvent(new CustomEvent(name, { detail }));
  b.attach(values);
  await b.start();
  send('state', 'connecting');
  send('state', 'connected');
  await b.loading;
  send('state', 'connected');
  send('alarm', alarm({ id: 4 }));
  assert.equal(b.get(4).id, 4);
  send('state', 'reconnecting');
  send('state', 'connected');
  await b.loading;
  send('gap', { after: 1, through: 9 });
  await b.loading;
  assert.equal(loads, 4, 'the start, the first connection, the reconnection, the gap');
});

/** Each kind in one language: [alarm fields, expected text]. */
function cases(ru) {
  const s = (text) => text.replaceAll(' ', NBSP);
  return [
    [{}, ru ? 'Воздействие магнитом: датчик сработал' : 'Magnet: sensor triggered'],
    [{ channel: 'case-open', rule: 'case-open' }, ru ? 'Вскрытие корпуса: датчик сработал' : 'Case open: sensor triggered'],
    [
      { kind: 'threshold', channel: 'temperature', value: '95.5', unit: 'degC', limit: '90' },
      ru ? `Температура ${s('95,5 °C')} выше ${s('90 °C')}` : `Temperature ${s('95.5 °C')} above ${s('90 °C')}`,
    ],
    [
      { kind: 'threshold', channel: 'flow-temperature', value: '3.25', unit: 'degC', limit: '5' },
      ru ? `Температура подачи ${s('3,25 °C')} ниже ${s('5 °C')}` : `Flow temperature ${s('3.25 °C')} below ${s('5 °C')}`,
    ],
    [
      { kind: 'decrease', channel: 'volume', value: '100', unit: 'm3', limit: '120' },
      ru ? `Объём уменьшился: 120 → ${s('100 м³')}` : `Volume decreased: 120 → ${s('100 m³')}`,
    ],
    [
      { kind: 'decrease', channel: 'energy-import-t1', value: '3644.5', unit: 'kWh', limit: '3700' },
      ru
        ? `Энергия (приём), тариф 1 уменьшилась: 3${NNBSP}700 → ${s(`3${NNBSP}644,5 кВт·ч`)}`
        : `Energy imported, tariff 1 decreased: 3,700 → ${s('3,644.5 kWh')}`,
    ],
    [{ kind: 'clock_ahead', channel: null, value: '600', unit: 's' }, ru ? `Часы устройства спешат на ${s('600 с')}` : `Device clock ahead by ${s('600 s')}`],
    [
      { kind: 'battery', subject: { kind: 'module', id: '0011223344556677' }, channel: null, value: '5', unit: '%', limit: '10' },
      ru ? `Заряд батареи ${s('5 %')} (порог ${s('10 %')})` : `Battery at ${s('5 %')} (threshold ${s('10 %')})`,
    ],
    [
      { kind: 'signal', subject: { kind: 'module', id: '0011223344556677' }, channel: null, value: '-118', unit: 'dBm', limit: '-115' },
      ru ? `Слабый сигнал ${s('−118 дБм')} (порог ${s('−115 дБм')})` : `Weak signal ${s('−118 dBm')} (threshold ${s('−115 dBm')})`,
    ],
    [
      { kind: 'silent', subject: { kind: 'module', id: '0011223344556677' }, channel: null, value: null },
      ru ? 'Модуль 0011223344556677 не на связи' : 'Module 0011223344556677 not heard from',
    ],
    [{ kind: 'silent', channel: null, value: null }, ru ? 'Счётчик gas-1 не на связи' : 'Meter gas-1 not heard from'],
    [
      { kind: 'lost_uplinks', subject: { kind: 'module', id: 'm-1' }, channel: null, value: '7', limit: '5' },
      ru ? 'Потеряно 7 пакетов' : '7 uplinks lost',
    ],
    [
      { kind: 'lost_uplinks', subject: { kind: 'module', id: 'm-1' }, channel: null, value: '22', limit: '5' },
      ru ? 'Потеряно 22 пакета' : '22 uplinks lost',
    ],
    [
      { kind: 'sink_stalled', subject: { kind: 'sink', id: 'pg-main' }, meters: [], channel: null, value: '0', unit: 's' },
      ru ? 'Выгрузка pg-main не работает' : 'Sink pg-main not delivering',
    ],
    [
      { kind: 'sink_stalled', subject: { kind: 'sink', id: 'pg-main' }, meters: [], channel: null, value: '192', unit: 's' },
      ru ? 'Выгрузка pg-main не работает, отставание 3 мин 12 с' : 'Sink pg-main not delivering, 3 min 12 s behind',
    ],
    [{ kind: 'new-kind', rule: 'custom-1' }, ru ? 'Тревога по правилу custom-1' : 'Alarm of rule custom-1'],
  ];
}

test('what each kind of alarm says in Russian', () => {
  setLanguage('ru');
  for (const [fields, expected] of cases(true)) assert.equal(alarmText(alarm(fields)), expected, JSON.stringify(fields));
  const threshold = alarmText(alarm({ kind: 'threshold', channel: 'temperature', value: '95.5', unit: 'degC', limit: '90' }));
  assert.ok(threshold.includes('95,5') && threshold.includes('°C'), threshold);
  assert.ok(!/[A-Za-z]/.test(threshold.replaceAll('°C', '')), `no English in ${threshold}`);
});

test('what each kind of alarm says in English', () => {
  setLanguage('en');
  for (const [fields, expected] of cases(false)) assert.equal(alarmText(alarm(fields)), expected, JSON.stringify(fields));
  setLanguage('ru');
});

test('who an alarm is about: a meter by its name where known, a module, a sink', () => {
  setLanguage('ru');
  const names = { 'gas-1': 'Котельная, газ' };
  assert.deepEqual(subjectOf(alarm(), (id) => names[id] ?? null), { label: 'Котельная, газ', id: 'gas-1', meter: 'gas-1', meters: [] });
  assert.deepEqual(subjectOf(alarm(), () => null), { label: 'gas-1', id: null, meter: 'gas-1', meters: [] });
  const module = alarm({ kind: 'battery', subject: { kind: 'module', id: 'm-1' }, meters: ['gas-1', 'gas-2'] });
  assert.equal(subjectOf(module).label, 'Модуль m-1');
  assert.deepEqual(subjectOf(module).meters, ['gas-1', 'gas-2']);
  assert.equal(subjectOf(alarm({ subject: { kind: 'sink', id: 'pg' } })).label, 'Выгрузка pg');
  setLanguage('en');
  assert.equal(subjectOf(module).label, 'Module m-1');
  setLanguage('ru');
});

/** An event of the log. */
function event(fields) {
  return { seq: 10, at_ms: 1_000, kind: 'alarm', code: 'raised', text: 'gas-1: magnet is 1', user: null, alarm: 1, severity: 'critical', meters: ['gas-1'], ...fields };
}

test('the event log in Russian: alarm events say what the alarm is about, the others their code and user', () => {
  setLanguage('ru');
  const magnet = alarm({ acknowledged: { by: 'dina', at_ms: 2_000, comment: 'пломба цела' } });
  assert.equal(eventText(event({}), magnet), 'Воздействие магнитом: датчик сработал — возникла');
  assert.equal(eventDetail(event({}), magnet), null, 'the alarm is known: no English');
  assert.equal(eventText(event({ code: 'ended' }), magnet), 'Воздействие магнитом: датчик сработал — завершилась');
  assert.equal(eventText(event({ code: 'repeated' }), magnet), 'Воздействие магнитом: датчик сработал — повторилась');
  assert.equal(
    eventText(event({ code: 'acknowledged', user: 'dina' }), magnet),
    'Воздействие магнитом: датчик сработал — подтверждена (dina): «пломба цела»',
  );
  assert.equal(eventText(event({ alarm: 12 })), 'Тревога №12 — возникла', 'an alarm not known here');
  assert.equal(eventDetail(event({ alarm: 12 })), 'gas-1: magnet is 1', 'then the host says what it was');
  const login = event({ kind: 'login', code: 'login', user: 'dina', alarm: null, severity: null, meters: [], text: 'dina login from 127.0.0.1' });
  assert.equal(eventText(login), 'Вход в систему: dina');
  assert.equal(eventText({ ...login, code: 'login_failed', user: 'eve' }), 'Неудачная попытка входа: eve');
  assert.equal(eventText({ ...login, code: 'logout' }), 'Выход из системы: dina');
  const config = event({ kind: 'config', code: 'refused', alarm: null, severity: null, meters: [], text: 'configuration change refused: x' });
  assert.equal(eventText(config), 'Изменение конфигурации отклонено');
  assert.equal(eventDetail(config), 'configuration change refused: x');
  assert.equal(eventText({ ...config, code: 'applied' }), 'Конфигурация применена');
  assert.equal(eventText({ ...config, code: 'started' }), 'Сервер запущен');
  const plugin = event({ kind: 'plugin', code: 'quarantined', alarm: null, severity: null, meters: [], text: 'plugin instance tcp-in (listener) is now quarantined' });
  assert.equal(eventText(plugin), 'Плагин tcp-in (listener): отключён после сбоев');
  assert.equal(eventDetail(plugin), null);
  assert.equal(eventText({ ...plugin, code: 'running', text: 'something else' }), 'Плагин: работает');
});

test('the event log in English', () => {
  setLanguage('en');
  const magnet = alarm({ acknowledged: { by: 'dina', at_ms: 2_000, comment: 'seal intact' } });
  assert.equal(eventText(event({}), magnet), 'Magnet: sensor triggered — raised');
  assert.equal(eventText(event({ code: 'acknowledged', user: 'dina' }), magnet), 'Magnet: sensor triggered — acknowledged by dina: “seal intact”');
  assert.equal(eventText(event({ alarm: 12, code: 'ended' })), 'Alarm #12 — ended');
  assert.equal(eventText(event({ kind: 'login', code: 'login_failed', user: 'eve', alarm: null })), 'Failed login: eve');
  assert.equal(eventText(event({ kind: 'config', code: 'applied', alarm: null })), 'Configuration applied');
  assert.equal(
    eventText(event({ kind: 'plugin', code: 'backoff', alarm: null, text: 'plugin instance vega-1 (vega) is now backoff' })),
    'Plugin vega-1 (vega): backing off',
  );
  setLanguage('ru');
});
