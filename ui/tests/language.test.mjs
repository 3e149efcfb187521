// Data in the dispatcher's language: exact values in the language's number
// format, channel and unit names, and which reading is a signal's latest
// when a device clock ran ahead (node --test; scripts/test runs it).

import assert from 'node:assert/strict';
import { test } from 'node:test';

// i18n's language switch translates the page; a stand-in is enough here.
globalThis.document = { documentElement: {}, querySelectorAll: () => [] };

const { formatDate, formatTime, formatValue, zoneLabel } = await import('../js/format.js');
const { channelName, unitName } = await import('../js/channels.js');
const { setLanguage } = await import('../js/i18n.js');
const { supersedes } = await import('../js/live-values.js');

const NNBSP = '\u202f';

test('exact values in Russian: narrow no-break spaces between thousands, a decimal comma, every digit', () => {
  setLanguage('ru');
  assert.equal(formatValue('3644.5'), `3${NNBSP}644,5`);
  assert.equal(formatValue('1234567.000'), `1${NNBSP}234${NNBSP}567,000`);
  assert.equal(formatValue('0.125'), '0,125');
  assert.equal(formatValue('-12'), '−12');
  assert.equal(formatValue('999'), '999');
  assert.equal(formatValue('12345678901234567890.5'), `12${NNBSP}345${NNBSP}678${NNBSP}901${NNBSP}234${NNBSP}567${NNBSP}890,5`);
  assert.equal(formatValue('on'), 'on', 'not a decimal: as it is');
  assert.equal(formatValue(null), '—');
});

test('exact values in English', () => {
  setLanguage('en');
  assert.equal(formatValue('3644.5'), '3,644.5');
  assert.equal(formatValue('-0.5'), '−0.5');
});

test('channels and units by name, with tariffs and phases; unknown ones as they are', () => {
  setLanguage('ru');
  assert.equal(channelName('volume'), 'Объём');
  assert.equal(channelName('case-open'), 'Вскрытие корпуса');
  assert.equal(channelName('energy-import-t2'), 'Энергия (приём), тариф 2');
  assert.equal(channelName('voltage-l3'), 'Напряжение, фаза L3');
  assert.equal(channelName('vendor-thing'), 'vendor-thing');
  assert.equal(unitName('m3'), 'м³');
  assert.equal(unitName('degC'), '°C');
  assert.equal(unitName('kWh'), 'кВт·ч');
  assert.equal(unitName(''), '');
  assert.equal(unitName('furlong'), 'furlong');
  setLanguage('en');
  assert.equal(channelName('energy-import-t2'), 'Energy imported, tariff 2');
  assert.equal(unitName('m3'), 'm³');
  assert.equal(unitName('kWh'), 'kWh');
});

test('a reading from a clock ahead never replaces a trustworthy value, and any trustworthy one replaces it', () => {
  const now = 1_000_000;
  const trusted = { ts_ms: now, clock_ahead: false };
  const ahead = { ts_ms: now + 600_000, clock_ahead: true };
  const newer = { ts_ms: now + 60_000, clock_ahead: false };
  assert.equal(supersedes(ahead, trusted), false);
  assert.equal(supersedes(newer, ahead), true);
  assert.equal(supersedes(trusted, newer), false, 'older');
  assert.equal(supersedes(newer, trusted), true);
});

test("a meter's days: times in its zone, labelled, and periods named by their local date", () => {
  setLanguage('ru');
  // 21:30 UTC on 5 December is already the 6th in Moscow: the meter's day.
  const at = Date.UTC(2026, 11, 5, 21, 30, 0);
  assert.equal(formatTime(at, 'Europe/Moscow'), '06.12.2026, 00:30:00');
  assert.equal(zoneLabel(at, 'Europe/Moscow'), 'Europe/Moscow, UTC+3');
  assert.equal(formatDate('2026-12-06'), '06.12.2026');
  assert.match(formatDate('2026-12'), /^декабрь 2026/);
  setLanguage('en');
  assert.equal(formatDate('2026-12-06'), '06/12/2026');
  assert.equal(formatDate('2026-12'), 'December 2026');
  assert.equal(formatDate(null), '—');
});

test("a server's refusal in the user's language, by its stable code, with the server's detail", async () => {
  const { errorMessage } = await import('../js/api.js');
  setLanguage('ru');
  assert.equal(
    errorMessage(409, { ok: false, error: 'alarm 7 was acknowledged already, by oleg', code: 'alarm_acknowledged' }),
    'Тревога уже подтверждена (409): alarm 7 was acknowledged already, by oleg',
  );
  assert.equal(errorMessage(404, { ok: false, error: 'no meter x', code: 'not_found' }), 'Не найдено (404): no meter x');
  assert.equal(errorMessage(418, { ok: false, error: 'odd', code: 'im_a_teapot' }), 'odd', 'an unknown code: the detail');
  assert.equal(errorMessage(502, 'Bad Gateway'), 'Ошибка сервера (502)');
  setLanguage('en');
  assert.equal(errorMessage(403, { ok: false, error: 'dispatchers only', code: 'forbidden' }), 'Not allowed (403): dispatchers only');
});
