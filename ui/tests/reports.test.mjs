// The reports form's query: a month for the monthly report, days with the
// inclusive end made exclusive for the others, nothing for the activity of
// now, the scope only when chosen (node --test; scripts/test runs it).

import assert from 'node:assert/strict';
import { test } from 'node:test';

globalThis.document = { documentElement: {}, querySelectorAll: () => [] };

const { nextDay, previousMonth, reportQuery } = await import('../js/views/reports.js');

const FORM = { month: '2026-02', from: '2026-02-27', to: '2026-02-28', zone: '', site: '', resource: '', meter: '' };

test('a monthly report asks for its month, a daily one for days with the end made exclusive', () => {
  assert.deepEqual(reportQuery({ id: 'monthly', kind: 'consumption', period: 'month' }, FORM, 'ru'),
    { lang: 'ru', period: 'month', month: '2026-02' });
  assert.deepEqual(reportQuery({ id: 'daily', kind: 'consumption', period: 'day' }, FORM, 'en'),
    { lang: 'en', period: 'day', from: '2026-02-27', to: '2026-03-01' });
  assert.deepEqual(reportQuery({ id: 'activity', kind: 'activity' }, { ...FORM, site: 'Дом 3' }, 'ru'),
    { lang: 'ru', site: 'Дом 3' });
});

test('days and months step over month and year ends', () => {
  assert.equal(nextDay('2026-12-31'), '2027-01-01');
  assert.equal(nextDay('2028-02-28'), '2028-02-29');
  assert.equal(previousMonth(new Date(2027, 0, 15)), '2026-12');
});
