// The live table: the latest value of every signal the user may see, one
// row per device/channel, with its unit, device time and age (counted
// every second), filled from the global stream's snapshot and readings.

import { clear, el, table } from '../dom.js';
import { formatAge, formatTime } from '../format.js';
import { t } from '../i18n.js';
import { signalKey } from '../live-values.js';
import { meterHash } from '../router.js';

const AGE_TICK_MS = 1000;

/** The view: renders `values` (LiveValues) into `container`; returns its cleanup. */
export function liveTableView(container, values) {
  const filter = el('input', {
    id: 'live-filter',
    type: 'search',
    placeholder: t('live.filter'),
    attrs: { 'aria-label': t('live.filter') },
  });
  const count = el('span', { className: 'muted', id: 'live-count' });
  const { table: grid, body } = table('live-table', [
    t('live.device'), t('live.channel'), t('live.value'), t('live.unit'), t('live.device_time'), t('live.age'),
  ]);
  grid.id = 'live-table';
  const empty = el('p', { className: 'muted', id: 'live-empty' }, t('live.empty'));
  container.append(
    el('div', { className: 'view-head' }, el('h1', {}, t('live.title')), filter, count),
    grid,
    empty,
  );

  const rows = new Map();
  let frame = 0;
  let rebuild = true;
  const changed = new Set();

  function row(reading) {
    const age = el('td', { className: 'age' });
    const tr = el(
      'tr',
      { dataset: { device: reading.device, channel: reading.channel } },
      el('td', {}, el('a', { href: meterHash(reading.device) }, reading.device)),
      el('td', {}, reading.channel),
      el('td', { className: 'value num' }),
      el('td', { className: 'unit' }),
      el('td', { className: 'device-time' }),
      age,
    );
    return { tr, reading };
  }

  function fill(entry) {
    const [, , value, unit, time] = entry.tr.children;
    const r = entry.reading;
    value.textContent = r.value;
    value.classList.toggle('conflict', Boolean(r.conflict));
    unit.textContent = r.unit ?? '';
    time.textContent = formatTime(r.ts_ms);
    // Highlight the new value: two classes with the same animation under
    // two names, so each change restarts it without a reflow.
    const flip = entry.tr.classList.contains('fresh-a');
    entry.tr.classList.toggle('fresh-a', !flip);
    entry.tr.classList.toggle('fresh-b', flip);
    ages(entry);
  }

  function ages(entry) {
    const age = entry.tr.lastChild;
    age.textContent = formatAge(Date.now() - entry.reading.ts_ms);
  }

  function matches(reading) {
    const q = filter.value.trim().toLowerCase();
    return !q || reading.device.toLowerCase().includes(q) || reading.channel.toLowerCase().includes(q);
  }

  function render() {
    frame = 0;
    if (rebuild) {
      rebuild = false;
      changed.clear();
      clear(body);
      rows.clear();
      for (const reading of values.sorted()) {
        if (!matches(reading)) continue;
        const entry = row(reading);
        rows.set(signalKey(reading), entry);
        fill(entry);
        body.append(entry.tr);
      }
    } else {
      for (const key of changed) {
        const entry = rows.get(key);
        if (entry) fill(entry);
      }
      changed.clear();
    }
    empty.hidden = rows.size > 0;
    count.textContent = t('live.count', { n: rows.size });
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(render);
  }

  function onChange(e) {
    const { reading, isNew } = e.detail;
    const key = signalKey(reading);
    if (isNew || !rows.has(key)) {
      if (matches(reading)) rebuild = true;
    } else {
      rows.get(key).reading = reading;
      changed.add(key);
    }
    schedule();
  }

  values.addEventListener('change', onChange);
  filter.addEventListener('input', () => {
    rebuild = true;
    schedule();
  });
  const ticker = setInterval(() => rows.forEach(ages), AGE_TICK_MS);
  render();

  return () => {
    values.removeEventListener('change', onChange);
    clearInterval(ticker);
    if (frame) cancelAnimationFrame(frame);
  };
}
