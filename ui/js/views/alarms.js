// The alarms page (`#/alarms`): the open alarms (severity, raised at,
// meter or module, what happened, active or ended, who acknowledged it, or
// an acknowledge control for dispatchers), sortable by severity and time
// and live with the alarm board; under them the event log (GET
// /api/v1/events: alarms, logins, configuration, plugins; a filter per
// kind, «Ещё» for older pages), its newest page read again as alarms
// change.

import { get } from '../api.js';
import {
  EVENT_KINDS, SEVERITIES, alarmText, eventDetail, eventText, knownKind, plural, severityName, subjectOf,
} from '../alarms.js';
import { append, clear, el, table } from '../dom.js';
import { formatCount, formatMinute, formatTime, formatTimeShort, zoneLabel } from '../format.js';
import { t } from '../i18n.js';
import { meterHash } from '../router.js';
import { AckControl } from './alarm-ack.js';

/** Events per page of the log. */
const EVENTS_PAGE = 50;
/** How long a notice (someone acknowledged it first) stays. */
const NOTICE_MS = 15_000;
/** The log's newest page is read again this long after the alarms last changed. */
const EVENTS_RELOAD_MS = 500;
/** The kinds of the log each role sees (the host shows logins to admins, configuration and plugins to dispatchers and up). */
const KINDS_OF = {
  viewer: ['alarm'],
  dispatcher: ['alarm', 'config', 'plugin'],
  operator: ['alarm', 'config', 'plugin'],
  admin: EVENT_KINDS,
};

/** The view: the open alarms of `board` (AlarmBoard), meters named from `tree`; `role` is the user's. Returns its cleanup. */
export function alarmsView(container, board, tree, { role = 'viewer', canAck = false } = {}) {
  const page = new AlarmsPage(container, board, tree, role, canAck);
  page.start();
  return () => page.stop();
}

class AlarmsPage {
  constructor(container, board, tree, role, canAck) {
    this.board = board;
    this.tree = tree;
    this.canAck = canAck;
    this.sort = 'severity';
    this.controls = new Map();
    this.kinds = new Set(KINDS_OF[role] ?? ['alarm']);
    this.offered = KINDS_OF[role] ?? ['alarm'];
    this.events = [];
    this.eventsEnd = false;
    this.eventsLoading = false;
    this.known = new Map();
    this.reloadTimer = null;
    this.noticeTimer = null;
    this.stopped = false;

    this.summary = el('span', { className: 'alarms-summary', id: 'alarms-summary' });
    this.notice = el('p', { className: 'alarms-notice', id: 'alarms-notice', hidden: true });
    this.error = el('p', { className: 'error', id: 'alarms-error', hidden: true });
    const columns = [
      ['severity', t('alarms.severity')],
      ['time', t('alarms.raised', { zone: zoneLabel() })],
      [null, t('alarms.subject')],
      [null, t('alarms.description')],
      [null, t('alarms.state')],
      [null, t('alarms.ack')],
    ];
    const { table: grid, body } = table('alarms-table', columns.map(([, label]) => label));
    grid.id = 'alarms-table';
    this.grid = grid;
    this.body = body;
    this.headers = [...grid.querySelectorAll('th')];
    columns.forEach(([key], i) => {
      if (!key) return;
      const th = this.headers[i];
      th.classList.add('sortable');
      th.dataset.sort = key;
      th.tabIndex = 0;
      const choose = () => {
        this.sort = key;
        this.renderAlarms();
      };
      th.addEventListener('click', choose);
      th.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && choose());
    });
    this.empty = el('p', { className: 'muted', id: 'alarms-empty', hidden: true }, t('alarms.empty'));

    const events = table('events-table', [t('events.time', { zone: zoneLabel() }), t('events.kind'), t('events.event'), t('events.subject')]);
    events.table.id = 'events-table';
    this.eventsTable = events.table;
    this.eventsBody = events.body;
    this.eventsEmpty = el('p', { className: 'muted', id: 'events-empty', hidden: true }, t('events.empty'));
    this.eventsEndNote = el('p', { className: 'muted', id: 'events-end', hidden: true }, t('events.end'));
    this.eventsError = el('p', { className: 'error', hidden: true });
    this.more = el('button', { type: 'button', id: 'events-more', className: 'events-more', on: { click: () => this.loadEvents(true) } }, t('events.more'));
    const filters = this.offered.length > 1
      ? el('div', { className: 'events-filters', id: 'events-filters' }, this.offered.map((kind) => el(
        'label',
        { className: 'events-filter' },
        el('input', {
          type: 'checkbox',
          checked: this.kinds.has(kind),
          dataset: { kind },
          on: { change: (e) => this.filter(kind, e.target.checked) },
        }),
        t(`events.kind.${kind}`),
      )))
      : null;

    container.append(
      el('div', { className: 'view-head' }, el('h1', {}, t('alarms.title')), this.summary),
      this.error,
      el(
        'section',
        { className: 'card', id: 'alarms-card' },
        el('h2', {}, t('alarms.open')),
        this.notice,
        el('div', { className: 'table-scroll' }, grid),
        this.empty,
      ),
      el(
        'section',
        { className: 'card', id: 'events-card' },
        el('div', { className: 'events-head' }, el('h2', {}, t('events.title')), filters),
        this.eventsError,
        el('div', { className: 'table-scroll' }, this.eventsTable),
        this.eventsEmpty,
        el('div', { className: 'events-foot' }, this.more, this.eventsEndNote),
      ),
    );

    this.onChange = (e) => {
      const alarm = e.detail?.alarm;
      if (alarm) this.known.set(alarm.id, alarm);
      this.renderAlarms();
      this.renderEvents();
      clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => this.loadNewestEvents(), EVENTS_RELOAD_MS);
    };
    this.onMeters = () => {
      this.renderAlarms();
      this.renderEvents();
    };
  }

  start() {
    this.board.addEventListener('change', this.onChange);
    this.tree.addEventListener('loaded', this.onMeters);
    this.renderAlarms();
    this.loadEvents(false);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.reloadTimer);
    clearTimeout(this.noticeTimer);
    this.board.removeEventListener('change', this.onChange);
    this.tree.removeEventListener('loaded', this.onMeters);
  }

  nameOf(id) {
    return this.tree.meter(id)?.metadata?.name ?? null;
  }

  renderAlarms() {
    const counts = this.board.counts();
    append(clear(this.summary), [
      el('span', {}, t('alarms.summary', {
        open: formatCount(counts.open),
        active: formatCount(counts.active),
        unacknowledged: formatCount(counts.unacknowledged),
      })),
      SEVERITIES.filter((s) => counts.by_severity[s] > 0).map((s) => el(
        'span',
        { className: `severity-count severity-${s}`, dataset: { severity: s } },
        `${severityName(s)}: ${formatCount(counts.by_severity[s])}`,
      )),
    ]);
    this.error.hidden = !this.board.failed;
    this.error.textContent = this.board.failed ? t('alarms.updated_failed', { error: this.board.failed }) : '';

    const focused = this.body.contains(document.activeElement) ? document.activeElement : null;
    const alarms = this.board.list(this.sort);
    for (const [id, control] of [...this.controls]) {
      const alarm = this.board.get(id);
      const overtaken = control.overtaken(alarm);
      if (overtaken) this.showNotice(overtaken);
      if (!alarm || alarm.acknowledged) this.controls.delete(id);
    }
    clear(this.body).append(...alarms.map((a) => this.row(a)));
    if (focused?.isConnected && document.activeElement !== focused) focused.focus();
    this.empty.hidden = alarms.length > 0;
    this.grid.hidden = alarms.length === 0;
    this.headers.forEach((th) => th.classList.toggle('sorted', th.dataset.sort === this.sort));
  }

  row(alarm) {
    const subject = subjectOf(alarm, (id) => this.nameOf(id));
    const momentary = alarm.ended_at_ms !== null && alarm.ended_at_ms === alarm.raised_at_ms;
    let state;
    if (alarm.active) state = el('span', { className: 'alarm-state active' }, t('alarms.active'));
    else if (momentary) state = el('span', { className: 'alarm-state momentary' }, t('alarms.momentary'));
    else {
      state = el(
        'span',
        { className: 'alarm-state ended', title: formatTime(alarm.ended_at_ms) },
        t('alarms.ended', { time: formatMinute(alarm.ended_at_ms) }),
      );
    }
    return el(
      'tr',
      {
        className: `alarm-row severity-${alarm.severity}${alarm.acknowledged ? ' acknowledged' : ''}`,
        dataset: {
          alarm: String(alarm.id),
          severity: alarm.severity,
          active: String(Boolean(alarm.active)),
          acknowledged: String(Boolean(alarm.acknowledged)),
        },
      },
      el(
        'td',
        { className: 'alarm-severity' },
        el('span', { className: `severity-badge severity-${alarm.severity}` }, severityName(alarm.severity)),
      ),
      el('td', { className: 'alarm-time', title: formatTime(alarm.raised_at_ms) }, formatTimeShort(alarm.raised_at_ms)),
      el('td', { className: 'alarm-subject' }, this.subjectCell(subject)),
      el(
        'td',
        { className: 'alarm-text' },
        el('span', { className: 'main' }, alarmText(alarm)),
        alarm.repeats > 0
          ? el('span', { className: 'sub alarm-repeats' }, plural('alarm.repeats', alarm.repeats, {
            n: formatCount(alarm.repeats),
            time: formatTimeShort(alarm.last_seen_ms),
          }))
          : null,
        knownKind(alarm) ? null : el('span', { className: 'sub' }, alarm.text),
      ),
      el('td', { className: 'alarm-state-cell' }, state),
      el('td', { className: 'alarm-ack-cell' }, this.ackCell(alarm)),
    );
  }

  subjectCell(subject) {
    return [
      subject.meter
        ? el('a', { href: meterHash(subject.meter), className: 'main' }, subject.label)
        : el('span', { className: 'main' }, subject.label),
      subject.id ? el('span', { className: 'sub meter-id' }, subject.id) : null,
      subject.meters.length
        ? el('span', { className: 'sub' }, t('alarms.meters', { meters: subject.meters.map((m) => this.nameOf(m) ?? m).join(', ') }))
        : null,
    ];
  }

  ackCell(alarm) {
    const ack = alarm.acknowledged;
    if (ack) {
      return [
        el(
          'span',
          { className: 'main alarm-acked-by', title: formatTime(ack.at_ms) },
          t('alarms.acked', { by: ack.by, time: formatTimeShort(ack.at_ms) }),
        ),
        ack.comment ? el('span', { className: 'sub alarm-ack-text' }, ack.comment) : null,
      ];
    }
    if (!this.canAck) return el('span', { className: 'muted' }, t('alarms.not_acked'));
    let control = this.controls.get(alarm.id);
    if (control) {
      control.render();
    } else {
      control = new AckControl(alarm.id, this.board, {
        onNotice: (text) => this.showNotice(text),
        onDone: () => this.renderAlarms(),
      });
      this.controls.set(alarm.id, control);
    }
    return control.node;
  }

  showNotice(text) {
    clearTimeout(this.noticeTimer);
    this.notice.hidden = !text;
    this.notice.textContent = text ?? '';
    if (text) this.noticeTimer = setTimeout(() => this.showNotice(null), NOTICE_MS);
  }

  filter(kind, on) {
    if (on) this.kinds.add(kind);
    else this.kinds.delete(kind);
    this.loadEvents(false);
  }

  /** The kinds asked for, in the API's form; null when none is. */
  kindQuery() {
    const kinds = this.offered.filter((k) => this.kinds.has(k));
    return kinds.length ? kinds.join(',') : null;
  }

  /** The log's first page (`older` false) or the page after the oldest shown. */
  async loadEvents(older) {
    const kind = this.kindQuery();
    if (!kind) {
      this.events = [];
      this.eventsEnd = true;
      this.renderEvents();
      return;
    }
    const before = older ? this.events.at(-1)?.seq : undefined;
    this.eventsLoading = true;
    this.more.disabled = true;
    try {
      const answer = await get('/api/v1/events', { kind, before, limit: EVENTS_PAGE });
      if (this.stopped || kind !== this.kindQuery()) return;
      const page = answer.events ?? [];
      await this.learnAlarms(page);
      if (this.stopped || kind !== this.kindQuery()) return;
      this.events = older ? this.events.concat(page) : page;
      this.eventsEnd = page.length < EVENTS_PAGE;
      this.eventsError.hidden = true;
    } catch (e) {
      this.eventsError.hidden = false;
      this.eventsError.textContent = t('error.failed', { error: e.message });
    } finally {
      this.eventsLoading = false;
    }
    this.renderEvents();
  }

  /** The newest page again: events newer than those shown go on top. */
  async loadNewestEvents() {
    const kind = this.kindQuery();
    if (!kind || this.eventsLoading || this.stopped) return;
    try {
      const answer = await get('/api/v1/events', { kind, limit: EVENTS_PAGE });
      if (this.stopped || kind !== this.kindQuery()) return;
      const page = answer.events ?? [];
      const newest = this.events[0]?.seq ?? -1;
      const fresh = page.filter((e) => e.seq > newest);
      if (!fresh.length) return;
      await this.learnAlarms(fresh);
      if (this.stopped || kind !== this.kindQuery() || newest !== (this.events[0]?.seq ?? -1)) return;
      if (fresh.length === page.length) {
        // All of the page is new: what lies between it and the shown is unknown, so the page starts over.
        this.events = page;
        this.eventsEnd = page.length < EVENTS_PAGE;
      } else {
        this.events = fresh.concat(this.events);
      }
      this.renderEvents();
    } catch {
      // The next change tries again; the page keeps what it shows.
    }
  }

  /** The alarms `events` name that neither the board nor this page knows: read, the range of them in one request. */
  async learnAlarms(events) {
    const unknown = [...new Set(events.map((e) => e.alarm).filter((id) => id !== null && id !== undefined))]
      .filter((id) => !this.board.get(id) && !this.known.has(id));
    if (!unknown.length) return;
    const [low, high] = [Math.min(...unknown), Math.max(...unknown)];
    try {
      const answer = await get('/api/v1/alarms', { all: true, before: high + 1, limit: Math.min(5000, high - low + 1) });
      for (const alarm of answer.alarms ?? []) this.known.set(alarm.id, alarm);
    } catch {
      // Shown by number, with the host's text.
    }
  }

  alarmOf(event) {
    if (event.alarm === null || event.alarm === undefined) return null;
    return this.board.get(event.alarm) ?? this.known.get(event.alarm) ?? null;
  }

  renderEvents() {
    const rows = this.events.map((event) => {
      const alarm = this.alarmOf(event);
      const detail = eventDetail(event, alarm);
      const subject = alarm
        ? subjectOf(alarm, (id) => this.nameOf(id))
        : null;
      const meters = event.meters?.length ? event.meters.map((m) => this.nameOf(m) ?? m).join(', ') : '';
      return el(
        'tr',
        {
          className: `event-row kind-${event.kind}${event.severity ? ` severity-${event.severity}` : ''}`,
          dataset: { seq: String(event.seq), kind: event.kind, code: event.code, alarm: event.alarm ?? '' },
        },
        el('td', { className: 'event-time', title: formatTime(event.at_ms) }, formatTimeShort(event.at_ms)),
        el(
          'td',
          { className: 'event-kind' },
          event.severity ? el('span', { className: `state-dot severity-dot severity-${event.severity}`, title: severityName(event.severity) }) : null,
          t(`events.row.${event.kind}`, {}, event.kind),
        ),
        el(
          'td',
          { className: 'event-text' },
          el('span', { className: 'main' }, eventText(event, alarm)),
          detail ? el('span', { className: 'sub event-detail' }, detail) : null,
        ),
        el('td', { className: 'event-subject' }, subject ? subject.label : meters),
      );
    });
    clear(this.eventsBody);
    append(this.eventsBody, rows);
    this.eventsTable.hidden = rows.length === 0;
    this.eventsEmpty.hidden = rows.length > 0 || this.eventsLoading;
    this.more.hidden = this.eventsEnd;
    this.more.disabled = this.eventsLoading;
    this.eventsEndNote.hidden = !this.eventsEnd || rows.length === 0;
  }
}
