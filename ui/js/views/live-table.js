// The live table: the latest value of every signal the user may see, one
// row per device/channel, with the meter's name and state, the channel and
// unit in the user's language, the value in its number format, device time
// and age (counted every second); filled from the global stream's snapshot
// and readings, coloured and sortable by state and age.

import { channelName, unitName } from '../channels.js';
import { clear, el, table } from '../dom.js';
import { formatAge, formatTime, formatValue, zoneLabel } from '../format.js';
import { t } from '../i18n.js';
import { signalKey } from '../live-values.js';
import { meterHash } from '../router.js';

const AGE_TICK_MS = 1000;

/** States from most to least urgent (the host's `/api/v1/board` order). */
export const STATE_ORDER = ['on_hold', 'silent', 'clock_ahead', 'late', 'fresh', 'never_heard'];

/** How rows can be sorted: each a comparison of two readings with their meters. */
const SORTS = {
  meter: (a, b) => a.name.localeCompare(b.name) || a.reading.channel.localeCompare(b.reading.channel),
  state: (a, b) => rank(a.state) - rank(b.state) || SORTS.meter(a, b),
  age: (a, b) => a.reading.ts_ms - b.reading.ts_ms || SORTS.meter(a, b),
};

function rank(state) {
  const at = STATE_ORDER.indexOf(state);
  return at < 0 ? STATE_ORDER.length : at;
}

/**
 * The view: renders `values` (LiveValues) into `container`, naming meters
 * and their states from `tree` (NavigationTree); returns its cleanup.
 */
export function liveTableView(container, values, tree) {
  const filter = el('input', {
    id: 'live-filter',
    type: 'search',
    placeholder: t('live.filter'),
    attrs: { 'aria-label': t('live.filter') },
  });
  const count = el('span', { className: 'muted', id: 'live-count' });
  const columns = [
    ['meter', t('live.device')],
    [null, t('live.channel')],
    [null, t('live.value')],
    [null, t('live.unit')],
    [null, t('live.device_time', { zone: zoneLabel() })],
    ['age', t('live.age')],
    ['state', t('live.state')],
  ];
  const { table: grid, body } = table('live-table', columns.map(([, label]) => label));
  grid.id = 'live-table';
  let sort = 'meter';
  const headers = [...grid.querySelectorAll('th')];
  columns.forEach(([key], i) => {
    if (!key) return;
    const th = headers[i];
    th.classList.add('sortable');
    th.dataset.sort = key;
    th.tabIndex = 0;
    const choose = () => {
      sort = key;
      rebuild = true;
      schedule();
    };
    th.addEventListener('click', choose);
    th.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && choose());
  });
  const empty = el('p', { className: 'muted', id: 'live-empty' }, t('live.empty'));
  container.append(
    el('div', { className: 'view-head' }, el('h1', {}, t('live.title')), filter, count),
    el('div', { className: 'table-scroll' }, grid),
    empty,
  );

  const rows = new Map();
  let frame = 0;
  let rebuild = true;
  const changed = new Set();

  function meterOf(reading) {
    const m = tree.meter(reading.device);
    return { name: m?.metadata?.name ?? null, state: m?.state ?? null };
  }

  function row(reading) {
    const { name, state } = meterOf(reading);
    const tr = el(
      'tr',
      { dataset: { device: reading.device, channel: reading.channel } },
      el(
        'td',
        { className: 'meter' },
        el('a', { href: meterHash(reading.device) }, name ?? reading.device),
        name ? el('span', { className: 'muted meter-id' }, reading.device) : null,
      ),
      el('td', { className: 'channel', title: reading.channel }, channelName(reading.channel)),
      el('td', { className: 'value num' }),
      el('td', { className: 'unit' }),
      el('td', { className: 'device-time' }),
      el('td', { className: 'age' }),
      el('td', { className: 'state' }),
    );
    return { tr, reading, name: name ?? reading.device, state };
  }

  /** Shows the entry's reading; `flash` highlights it as new. */
  function fill(entry, flash) {
    const [, , value, unit, time, , stateCell] = entry.tr.children;
    const r = entry.reading;
    value.textContent = formatValue(r.value);
    value.classList.toggle('conflict', Boolean(r.conflict));
    value.classList.toggle('clock-ahead', Boolean(r.clock_ahead));
    value.title = r.clock_ahead ? t('live.clock_ahead') : '';
    unit.textContent = unitName(r.unit);
    time.textContent = formatTime(r.ts_ms);
    showState(entry, stateCell);
    if (flash) {
      // Highlight the new value: two classes with the same animation under
      // two names, so each change restarts it without a reflow.
      const flip = entry.tr.classList.contains('fresh-a');
      entry.tr.classList.toggle('fresh-a', !flip);
      entry.tr.classList.toggle('fresh-b', flip);
    }
    ages(entry);
  }

  function showState(entry, cell = entry.tr.lastChild) {
    for (const s of STATE_ORDER) entry.tr.classList.toggle(`state-${s}`, entry.state === s);
    cell.textContent = entry.state ? t(`state.${entry.state}`, {}, entry.state) : '—';
  }

  function ages(entry) {
    const age = entry.tr.children[5];
    age.textContent = formatAge(Date.now() - entry.reading.ts_ms);
  }

  function matches(reading) {
    const q = filter.value.trim().toLowerCase();
    if (!q) return true;
    const { name } = meterOf(reading);
    return [reading.device, reading.channel, channelName(reading.channel), name ?? '']
      .some((text) => text.toLowerCase().includes(q));
  }

  function render() {
    frame = 0;
    if (rebuild) {
      rebuild = false;
      // Rows rebuilt for news of the meters (names, states) or a new sort
      // do not flash; those whose reading is new do.
      const flashing = new Set(changed);
      changed.clear();
      clear(body);
      rows.clear();
      const entries = values.sorted().filter(matches).map(row).sort(SORTS[sort]);
      for (const entry of entries) {
        rows.set(signalKey(entry.reading), entry);
        fill(entry, flashing.has(signalKey(entry.reading)));
        body.append(entry.tr);
      }
      headers.forEach((th) => th.classList.toggle('sorted', th.dataset.sort === sort));
    } else {
      for (const key of changed) {
        const entry = rows.get(key);
        if (entry) fill(entry, true);
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
    if (isNew || !rows.has(key) || sort === 'age') {
      if (matches(reading) || rows.has(key)) rebuild = true;
      changed.add(key);
    } else {
      rows.get(key).reading = reading;
      changed.add(key);
    }
    schedule();
  }

  // The tree reloaded (names, states): rows show the news.
  function onMeters() {
    rebuild = true;
    schedule();
  }

  values.addEventListener('change', onChange);
  tree.addEventListener('loaded', onMeters);
  filter.addEventListener('input', () => {
    rebuild = true;
    schedule();
  });
  const ticker = setInterval(() => rows.forEach(ages), AGE_TICK_MS);
  render();

  return () => {
    values.removeEventListener('change', onChange);
    tree.removeEventListener('loaded', onMeters);
    clearInterval(ticker);
    if (frame) cancelAnimationFrame(frame);
  };
}
