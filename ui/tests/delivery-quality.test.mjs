// The client's delivery-quality arithmetic (node --test; scripts/test runs it).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DeliveryQuality, isLate, oneWayDelay } from '../js/delivery-quality.js';

test('T3 is half the round trip and late when 2·T3 > Tc', () => {
  assert.equal(oneWayDelay(1000, 1040), 20);
  assert.equal(isLate(2500, 5000), false, 'exactly Tc is not late');
  assert.equal(isLate(2501, 5000), true);
});

test('an answer sets T3; an unanswered request is overdue after Tc', () => {
  const q = new DeliveryQuality(1000);
  assert.deepEqual(q.verdict(0), { t3: null, tc: 1000, late: false, overdue: false, waiting: 0 });
  q.sent(10_000);
  assert.equal(q.verdict(10_900).late, false, 'still within Tc');
  const overdue = q.verdict(11_200);
  assert.equal(overdue.overdue, true);
  assert.equal(overdue.late, true);
  assert.equal(overdue.waiting, 1200);
  q.answered(10_000, 11_300);
  assert.equal(q.t3, 650);
  assert.equal(q.verdict(11_300).late, true, '2·650 > 1000: the answer itself was late');
  q.sent(12_000);
  q.answered(12_000, 12_040);
  assert.deepEqual(q.verdict(12_040), { t3: 20, tc: 1000, late: false, overdue: false, waiting: 0 });
});

test('a refused request does not wait, and an answer forgets older lost ones', () => {
  const q = new DeliveryQuality(1000);
  q.sent(1);
  q.sent(2);
  q.dropped(2);
  assert.deepEqual(q.outstanding, [1]);
  q.sent(3);
  q.answered(3, 13);
  assert.deepEqual(q.outstanding, []);
  assert.equal(q.verdict(5000).overdue, false);
});
