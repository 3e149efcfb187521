// The sync page's arithmetic and the durations, rates and sizes it shows,
// in both languages (node --test; scripts/test runs it).

import assert from 'node:assert/strict';
import { test } from 'node:test';

// i18n's language switch translates the page; a stand-in is enough here.
globalThis.document = { documentElement: {}, querySelectorAll: () => [] };

const { formatBytes, formatDecimal, formatDuration, formatOffset } = await import('../js/format.js');
const { setLanguage } = await import('../js/i18n.js');
const { tally } = await import('../js/views/sync.js');

test('the summary counts each state and names the worst', () => {
  assert.deepEqual(tally(['in_sync', 'stalled', 'in_sync', 'catching_up']), {
    total: 4,
    counts: { in_sync: 2, catching_up: 1, stalled: 1, down: 0 },
    worst: 'stalled',
  });
  assert.equal(tally(['in_sync', 'down', 'stalled']).worst, 'down');
  assert.deepEqual(tally([]), { total: 0, counts: { in_sync: 0, catching_up: 0, stalled: 0, down: 0 }, worst: null });
});

test('durations, offsets, rates and sizes in Russian', () => {
  setLanguage('ru');
  assert.equal(formatDuration(192), '3 мин 12 с');
  assert.equal(formatDuration(612.4), '10 мин 12 с');
  assert.equal(formatDuration(900), '15 мин', 'no "0 с" after the minutes');
  assert.equal(formatDuration(7260), '2 ч 1 мин');
  assert.equal(formatDuration(0), '0 с');
  assert.equal(formatDuration(0.4), '< 1 с');
  assert.equal(formatDuration(null), '—');
  assert.equal(formatOffset(-432_000), '−7 мин 12 с');
  assert.equal(formatOffset(350), '+350 мс');
  assert.equal(formatDecimal(21000.04, 1), '21\u00a0000');
  assert.equal(formatDecimal(2.94, 1), '2,9');
  assert.equal(formatBytes(3_100_412), '3 МБ');
  assert.equal(formatBytes(5_632), '5,5 КБ');
  assert.equal(formatBytes(512), '512 Б');
});

test('the same in English', () => {
  setLanguage('en');
  assert.equal(formatDuration(192), '3 min 12 s');
  assert.equal(formatDuration(0.4), '< 1 s');
  assert.equal(formatOffset(-432_000), '−7 min 12 s');
  assert.equal(formatDecimal(21000.04, 1), '21,000');
  assert.equal(formatBytes(5_632), '5.5 KB');
  setLanguage('ru');
});

test('a UTC day in the language’s format', async () => {
  const { formatDay } = await import('../js/format.js');
  setLanguage('ru');
  assert.equal(formatDay(Date.UTC(2025, 11, 1, 23, 30)), '01.12.2025', 'the UTC day, whatever the zone');
  setLanguage('en');
  assert.equal(formatDay(Date.UTC(2025, 11, 1)), '01/12/2025');
  setLanguage('ru');
});
