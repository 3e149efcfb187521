// The meter page (`#/meter/<id>`): metadata, the module's activity
// (battery, signal, last seen), a chart of one channel whose history grows
// live from a stream of this device, the newest readings, and the daily
// and monthly deltas.

import { ApiError, get, segment } from '../api.js';
import { ReadingChart } from '../chart.js';
import { clear, el, table } from '../dom.js';
import { channelName, unitName } from '../channels.js';
import { formatAge, formatDate, formatDecimal, formatDuration, formatNumber, formatTime, formatValue, zoneLabel } from '../format.js';
import { t } from '../i18n.js';
import { LiveStream } from '../live-stream.js';
import { StreamIndicator } from './stream-indicator.js';

const HOUR = 3600 * 1000;
const MODULE_RELOAD_MS = 10_000;
const DAY = 24 * HOUR;
const RANGES = [
  ['range.hour', HOUR],
  ['range.day', DAY],
  ['range.week', 7 * DAY],
  ['range.month', 31 * DAY],
];
const HISTORY_LIMIT = 20000;
const TABLE_ROWS = 100;
const DELTAS_RELOAD_MS = 5000;
const HISTORY_WAIT_MS = 3000;
const TICK_MS = 1000;

/** The view; returns its cleanup. */
export function meterView(container, { id }) {
  const page = new MeterPage(container, id);
  page.start();
  return () => page.stop();
}

class MeterPage {
  constructor(container, id) {
    this.id = id;
    this.history = new Map();
    this.seen = new Map();
    this.units = new Map();
    this.channel = null;
    this.range = DAY;
    this.since = new Map();
    this.module = null;
    this.telemetry = null;
    this.timers = [];
    this.deltaTimer = null;

    this.info = el('dl', { className: 'meter-info', id: 'meter-info' });
    this.moduleCard = el('dl', { className: 'module-card', id: 'module-card' });
    this.channelSelect = el('select', { id: 'chart-channel', attrs: { 'aria-label': t('meter.channel') } });
    this.rangeButtons = el(
      'div',
      { className: 'range-buttons' },
      RANGES.map(([label, ms]) => el('button', { type: 'button', dataset: { range: String(ms) } }, t(label))),
    );
    this.chartNote = el('p', { className: 'muted', id: 'chart-note' });
    this.chartBox = el('div', { className: 'chart', id: 'meter-chart' });
    this.indicator = el('div', { className: 'indicator small', id: 'meter-stream' });
    const readings = table('readings-table', [t('meter.time'), t('live.channel'), t('live.value'), t('live.unit')]);
    readings.table.id = 'readings-table';
    this.readingsBody = readings.body;
    this.readingsTime = readings.table.querySelector('th');
    this.daysZone = el('p', { className: 'muted', id: 'deltas-zone' });
    this.days = el('div', { id: 'deltas-day' });
    this.months = el('div', { id: 'deltas-month' });
    this.error = el('p', { className: 'error', id: 'meter-error', hidden: true });
    this.notes = el('div', { id: 'meter-notes' });

    container.append(
      el('div', { className: 'view-head' }, el('h1', { id: 'meter-title' }, t('meter.title', { id })), this.indicator),
      this.error,
      el(
        'div',
        { className: 'cards' },
        el('section', { className: 'card' }, el('h2', {}, t('meter.about')), this.info),
        el('section', { className: 'card' }, el('h2', {}, t('meter.module')), this.moduleCard),
      ),
      el(
        'section',
        { className: 'card' },
        el('div', { className: 'chart-head' }, el('h2', {}, t('meter.chart')), this.channelSelect, this.rangeButtons),
        this.chartBox,
        this.chartNote,
      ),
      el(
        'div',
        { className: 'cards' },
        el('section', { className: 'card' }, el('h2', {}, t('meter.readings')), readings.table),
        el(
          'section',
          { className: 'card' },
          el('h2', {}, t('meter.deltas_day')),
          this.daysZone,
          this.days,
          el('h2', {}, t('meter.deltas_month')),
          this.months,
        ),
      ),
      el('section', { className: 'card', id: 'meter-notes-card' },
        el('div', { className: 'chart-head' }, el('h2', {}, t('meter.notes')),
          el('a', { href: '#/form/inspection-note' }, t('meter.add_note')),
          el('a', { href: '#/form/manual-reading' }, t('meter.add_reading'))),
        this.notes),
    );
    this.chart = new ReadingChart(this.chartBox);
    this.channelSelect.addEventListener('change', () => {
      this.channel = this.channelSelect.value;
      this.drawChart();
    });
    this.rangeButtons.addEventListener('click', (e) => {
      const button = e.target.closest('button');
      if (!button) return;
      this.range = Number(button.dataset.range);
      this.markRange();
      this.loadHistory();
    });
    this.markRange();
  }

  start() {
    this.stream = new LiveStream({ device: this.id });
    this.streamIndicator = new StreamIndicator(this.indicator, 'meter-stream');
    this.streamIndicator.attach(this.stream);
    this.stream.addEventListener('reading', (e) => this.add([e.detail], true));
    this.stream.addEventListener('gap', () => this.loadHistory());
    this.stream.addEventListener('refused', (e) => {
      // Not this user's meter: nothing of it is asked for.
      this.refused = true;
      // The host's reason is for the log; the dispatcher reads her language.
      console.warn(`stream refused: ${e.detail?.error}`);
      this.fail(t('meter.refused'));
    });
    // History is read once the stream is subscribed, so no reading falls
    // between the two (a reading in both is kept once).
    let historyAsked = false;
    const history = () => {
      if (historyAsked || this.refused) return;
      historyAsked = true;
      this.load();
    };
    this.stream.addEventListener('state', (e) => e.detail === 'connected' && history(), { once: false });
    this.timers.push(setTimeout(history, HISTORY_WAIT_MS));
    this.timers.push(setInterval(() => this.renderModule(), TICK_MS));
    // The module card is live: last heard, battery, signal and state move.
    this.timers.push(setInterval(() => this.reloadModule(), MODULE_RELOAD_MS));
    this.stream.start();
  }

  stop() {
    this.stream.stop();
    this.streamIndicator.destroy();
    this.chart.destroy();
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.deltaTimer);
  }

  fail(message) {
    this.error.hidden = !message;
    this.error.textContent = message ?? '';
  }

  async load() {
    let latest;
    try {
      latest = await get(`/api/v1/devices/${segment(this.id)}/latest`);
    } catch (e) {
      const unknown = e instanceof ApiError && (e.status === 404 || e.status === 403);
      this.fail(unknown ? t('meter.unknown', { id: this.id }) : t('error.failed', { error: e.message }));
      return;
    }
    const meter = await get(`/api/v1/meters/${segment(this.id)}`).catch(() => null);
    this.meter = meter;
    this.telemetry = latest.telemetry;
    for (const r of latest.readings) this.units.set(r.channel, r.unit);
    for (const [name, channel] of Object.entries(meter?.channels ?? {})) {
      if (!this.units.has(name)) this.units.set(name, channel.unit);
    }
    const cumulative = latest.readings.find((r) => r.kind === 'cumulative')?.channel;
    this.channel = meter?.metadata?.billing_channel ?? cumulative ?? latest.readings[0]?.channel ?? null;
    this.renderChannels();
    this.renderInfo();
    this.renderZone();
    this.moduleId = meter?.module ?? latest.telemetry?.module;
    await this.reloadModule();
    await this.loadHistory();
    this.loadDeltas();
    this.loadNotes();
  }

  /** The meter's inspection notes (the inspection-note form's), newest first. */
  async loadNotes() {
    let answer;
    try {
      answer = await get('/api/v1/notes', { subject: this.id, limit: 20 });
    } catch (e) {
      clear(this.notes).append(el('p', { className: 'error' }, e.message));
      return;
    }
    clear(this.notes);
    if (!answer.notes.length) {
      this.notes.append(el('p', { className: 'muted' }, t('forms.no_notes')));
      return;
    }
    this.notes.append(el('ul', { className: 'notes-list' }, answer.notes.map((note) => el('li', { dataset: { note: String(note.id) } },
      el('div', { className: 'note-head' }, [
        `№ ${note.id}`, formatTime(note.at_ms), note.user,
        note.values.condition ? t(`note.condition.${note.values.condition}`, {}, note.values.condition) : null,
      ].filter(Boolean).join(' · ')),
      el('div', { className: 'note-text' }, note.values.text ?? '')))));
  }

  /** Each channel's readings over the chosen range, narrowed from the end when there are too many. */
  async loadHistory() {
    const channels = [...this.units.keys()];
    await Promise.all(channels.map((channel) => this.loadChannel(channel)));
    this.drawChart();
    this.renderReadings();
  }

  async loadChannel(channel) {
    let span = this.range;
    for (;;) {
      const from = Date.now() - span;
      let readings;
      try {
        readings = await get('/api/v1/readings', { device: this.id, channel, from, limit: HISTORY_LIMIT });
      } catch (e) {
        this.fail(e.message);
        return;
      }
      if (readings.length < HISTORY_LIMIT || span <= HOUR) {
        this.since.set(channel, { from, cut: readings.length >= HISTORY_LIMIT });
        // Merged, not replaced: live readings that came meanwhile stay.
        this.keepSince(channel, from);
        this.add(readings, false);
        return;
      }
      span = Math.max(HOUR, Math.floor(span / 4));
    }
  }

  /** Drops a channel's readings from before `from` (a shorter range was chosen). */
  keepSince(channel, from) {
    const list = (this.history.get(channel) ?? []).filter((r) => r.ts_ms >= from);
    this.history.set(channel, list);
    this.seen.set(channel, new Set(list.map((r) => r.seq)));
  }

  /** Adds readings (from the archive or live), once each (by archive sequence). */
  add(readings, live) {
    const touched = new Set();
    for (const r of readings) {
      if (!this.history.has(r.channel)) {
        this.history.set(r.channel, []);
        this.seen.set(r.channel, new Set());
        if (!this.units.has(r.channel)) {
          this.units.set(r.channel, r.unit);
          this.renderChannels();
        }
      }
      const seen = this.seen.get(r.channel);
      if (seen.has(r.seq)) continue;
      seen.add(r.seq);
      this.history.get(r.channel).push(r);
      touched.add(r.channel);
    }
    for (const channel of touched) this.history.get(channel).sort((a, b) => a.ts_ms - b.ts_ms || a.seq - b.seq);
    if (!touched.size) return;
    if (touched.has(this.channel)) this.drawChart();
    this.renderReadings();
    if (live) this.scheduleDeltas();
  }

  async reloadModule() {
    if (!this.moduleId) return;
    const module = await get(`/api/v1/modules/${segment(this.moduleId)}`).catch(() => null);
    if (module) this.module = module;
    this.renderModule();
  }

  renderChannels() {
    clear(this.channelSelect).append(
      ...[...this.units.keys()].sort().map((c) => el('option', { value: c, selected: c === this.channel }, channelName(c))),
    );
  }

  markRange() {
    for (const button of this.rangeButtons.children) {
      button.classList.toggle('active', Number(button.dataset.range) === this.range);
    }
  }

  drawChart() {
    if (!this.channel) return;
    const readings = this.history.get(this.channel) ?? [];
    this.chart.show(readings, channelName(this.channel), unitName(this.units.get(this.channel)));
    const since = this.since.get(this.channel);
    this.chartNote.textContent = since
      ? t(since.cut ? 'chart.since_cut' : 'chart.since', { since: formatTime(since.from), n: readings.length })
      : '';
  }

  /** The meter's time zone, where its days begin and end (the deltas' and the readings' times). */
  zone() {
    return this.meter?.time_zone_in_use ?? undefined;
  }

  /** Times labelled with the meter's zone: its days are the deltas' days. */
  renderZone() {
    const zone = this.zone();
    this.readingsTime.textContent = t('live.device_time', { zone: zoneLabel(Date.now(), zone) });
    this.daysZone.textContent = zone ? t('deltas.zone', { zone: zoneLabel(Date.now(), zone) }) : '';
  }

  renderReadings() {
    const all = [...this.history.values()].flat().sort((a, b) => b.ts_ms - a.ts_ms || b.seq - a.seq);
    clear(this.readingsBody).append(
      ...all.slice(0, TABLE_ROWS).map((r) =>
        el(
          'tr',
          { dataset: { seq: String(r.seq), channel: r.channel } },
          el('td', {}, formatTime(r.ts_ms, this.zone())),
          el('td', { title: r.channel }, channelName(r.channel)),
          el(
            'td',
            {
              className: `value num${r.conflict ? ' conflict' : ''}${r.clock_ahead ? ' clock-ahead' : ''}`,
              title: r.conflict ? t('meter.conflict') : r.clock_ahead ? t('live.clock_ahead') : '',
            },
            formatValue(r.value),
            r.source === 'manual' ? el('span', { className: 'manual-mark', title: r.note ?? '' }, ` ${t('meter.manual', { who: r.entered_by ?? '' })}`) : null,
          ),
          el('td', {}, unitName(r.unit)),
        ),
      ),
    );
  }

  renderInfo() {
    const m = this.meter?.metadata ?? {};
    const rows = [
      ['meter.name', m.name],
      ['meter.resource', m.resource ? t(`resource.${m.resource}`, {}, m.resource) : null],
      ['meter.site', m.site],
      ['meter.address', m.address],
      ['meter.account', m.consumer_account],
      ['meter.zone', this.meter?.time_zone_in_use],
      ['meter.source', this.meter?.source],
      ['meter.first_seen', this.meter?.first_seen ? formatTime(Date.parse(this.meter.first_seen), this.zone()) : null],
      ['meter.last_seen', this.meter?.last_seen ? formatTime(Date.parse(this.meter.last_seen), this.zone()) : null],
    ];
    clear(this.info).append(...rows.flatMap(([key, value]) => [el('dt', {}, t(key)), el('dd', {}, value ?? '—')]));
  }

  renderModule() {
    const m = this.module;
    const tel = this.telemetry;
    if (!m && !tel) {
      clear(this.moduleCard).append(el('dd', { className: 'muted' }, t('module.none')));
      return;
    }
    const lastSeen = m?.last_received_at ? Date.parse(m.last_received_at) : tel?.ts_ms;
    const rows = [
      ['module.id', m?.module ?? tel?.module],
      ['module.state', m ? t(`state.${m.state}`, {}, m.state) : null],
      ['module.battery', formatNumber(m?.battery_pct ?? tel?.battery_pct, '%')],
      ['module.rssi', formatNumber(m?.rssi_dbm ?? tel?.rssi_dbm, t('unit.dbm'))],
      ['module.snr', withUnit(formatDecimal(m?.snr_db ?? tel?.snr_db, 1), t('unit.db'))],
      ['module.last_seen', lastSeen ? `${formatTime(lastSeen)} (${t('module.ago', { age: formatAge(Date.now() - lastSeen) })})` : null],
      ['module.period', m?.judged_period_ms ? formatDuration(m.judged_period_ms / 1000) : null],
      ['module.lost', m ? String(m.lost_uplinks) : null],
    ];
    const card = clear(this.moduleCard);
    card.dataset.state = m?.state ?? '';
    card.append(...rows.flatMap(([key, value]) => [el('dt', {}, t(key)), el('dd', {}, value ?? '—')]));
  }

  scheduleDeltas() {
    if (this.deltaTimer) return;
    this.deltaTimer = setTimeout(() => {
      this.deltaTimer = null;
      this.loadDeltas();
    }, DELTAS_RELOAD_MS);
  }

  async loadDeltas() {
    const now = Date.now();
    const periods = [
      ['day', this.days, now - 31 * DAY],
      ['month', this.months, now - 366 * DAY],
    ];
    await Promise.all(
      periods.map(async ([period, box, from]) => {
        try {
          const deltas = await get('/api/v1/deltas', { meter: this.id, period, from });
          this.renderDeltas(box, deltas);
        } catch (e) {
          clear(box).append(el('p', { className: 'muted' }, e instanceof ApiError && e.status === 404 ? t('deltas.none') : e.message));
        }
      }),
    );
  }

  renderDeltas(box, deltas) {
    if (!deltas.length) {
      clear(box).append(el('p', { className: 'muted' }, t('deltas.none')));
      return;
    }
    const { table: grid, body } = table('deltas-table', [t('deltas.period'), t('live.channel'), t('deltas.consumption'), t('deltas.flags')]);
    // One scale per channel: "0,000 кВт·ч" beside "12,500 кВт·ч", never "0 кВт·ч".
    const scales = new Map();
    for (const d of deltas) scales.set(d.channel, Math.max(scales.get(d.channel) ?? 0, fractionDigits(d.consumption)));
    for (const d of [...deltas].reverse()) {
      const flags = ['in_progress', 'estimated', 'partial_start', 'conflict', 'unexplained_decrease']
        .filter((f) => d[f])
        .map((f) => t(`deltas.${f}`));
      if (d.rollovers) flags.push(t('deltas.rollovers', { n: d.rollovers }));
      body.append(
        el(
          'tr',
          { className: d.in_progress ? 'in-progress' : '' },
          el('td', { title: d.start }, formatDate(d.start)),
          el('td', { title: d.channel }, channelName(d.channel)),
          el('td', { className: 'num' }, withUnit(formatValue(atScale(d.consumption, scales.get(d.channel))), unitName(this.units.get(d.channel)))),
          el('td', { className: 'muted' }, flags.join(', ')),
        ),
      );
    }
    clear(box).append(grid);
  }
}

/** A formatted number with its unit, or the placeholder. */
function withUnit(text, unit) {
  if (text === '—' || !unit) return text;
  return `${text} ${unit}`;
}

/** How many digits a decimal string has after its point. */
function fractionDigits(text) {
  const at = String(text ?? '').indexOf('.');
  return at < 0 ? 0 : String(text).length - at - 1;
}

/** A decimal string padded with zeros to `digits` after the point (exact: never rounded). */
export function atScale(text, digits) {
  if (text === null || text === undefined || !/^-?\d+(\.\d+)?$/.test(String(text))) return text;
  const have = fractionDigits(text);
  if (have >= digits) return String(text);
  return `${text}${have === 0 ? '.' : ''}${'0'.repeat(digits - have)}`;
}
