// The alarms the user may see: the open ones (active, or not yet
// acknowledged) on a board kept from GET /api/v1/alarms and the global
// stream's `alarm` events, and what an alarm or a line of the event log
// says in the dispatcher's language, built from the machine fields (the
// host's English `text` is only a detail to fall back on).
//
// AlarmBoard events (EventTarget): `change` ({alarm} for one alarm put,
// {} after a load), `raised` (an alarm first seen on the stream, new and
// unacknowledged: what the sound announces).

import { get } from './api.js';
import { channelGender, channelName, unitName } from './channels.js';
import { formatDuration, formatValue } from './format.js';
import { language, t } from './i18n.js';

/** Severities, most urgent first. */
export const SEVERITIES = ['critical', 'warning', 'info'];
/** The kinds of the event log. */
export const EVENT_KINDS = ['alarm', 'login', 'config', 'plugin'];

/** Ids of alarms that left the board remembered (a late event must not bring one back). */
const CLOSED_KEPT = 5000;
/** Between a value and its unit: no line break there. */
const NBSP = '\u00a0';

/** A severity's rank: 0 for the most urgent; an unknown one last. */
export function severityRank(severity) {
  const at = SEVERITIES.indexOf(severity);
  return at < 0 ? SEVERITIES.length : at;
}

/** Newest first. */
export function byTime(a, b) {
  return (b.raised_at_ms ?? 0) - (a.raised_at_ms ?? 0) || b.id - a.id;
}

/** Most severe first, then newest. */
export function bySeverity(a, b) {
  return severityRank(a.severity) - severityRank(b.severity) || byTime(a, b);
}

/** How far an alarm has come: ended and acknowledged count, then repeats, then when last seen. */
function progress(a) {
  return [Number(a.ended_at_ms !== null && a.ended_at_ms !== undefined) + Number(Boolean(a.acknowledged)), a.repeats ?? 0, a.last_seen_ms ?? 0];
}

/** Whether `alarm` is older news than `known` (the same alarm). */
function older(alarm, known) {
  const [a, b] = [progress(alarm), progress(known)];
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

export class AlarmBoard extends EventTarget {
  /** `fetchOpen()` answers as GET /api/v1/alarms does (a stand-in in tests). */
  constructor(fetchOpen = () => get('/api/v1/alarms')) {
    super();
    this.fetchOpen = fetchOpen;
    this.alarms = new Map();
    this.closed = new Set();
    this.running = false;
    this.loading = null;
    this.again = false;
    this.during = null;
    this.failed = null;
    this.streamState = null;
  }

  /**
   * Follows `values` (LiveValues, the global stream): its `alarm` events,
   * and a load again after a `gap` and each time the stream (re)connects.
   */
  attach(values) {
    values.addEventListener('alarm', (e) => this.running && this.put(e.detail));
    values.addEventListener('gap', () => this.running && this.load());
    values.addEventListener('state', (e) => {
      const was = this.streamState;
      this.streamState = e.detail;
      if (this.running && e.detail === 'connected' && was !== 'connected') this.load();
    });
  }

  /** Starts empty (a login) and loads. */
  start() {
    this.running = true;
    this.forgetAll();
    return this.load();
  }

  /** Stops and forgets every alarm (a logout). */
  stop() {
    this.running = false;
    this.forgetAll();
  }

  forgetAll() {
    this.alarms.clear();
    this.closed.clear();
    this.during = null;
    this.failed = null;
    this.emit('change', {});
  }

  /**
   * Loads the open alarms. Alarms the stream brings meanwhile are put
   * again after it, so an answer older than them does not undo them; a
   * load asked for while one runs runs after it.
   */
  load() {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      do {
        this.again = false;
        this.during = [];
        try {
          const answer = await this.fetchOpen();
          if (!this.running) break;
          this.replace(answer?.alarms ?? []);
          this.failed = null;
        } catch (e) {
          this.failed = e.message;
        }
        const during = this.during ?? [];
        this.during = null;
        for (const alarm of during) this.apply(alarm, false);
        if (this.running) this.emit('change', {});
      } while (this.again && this.running);
      this.during = null;
      this.loading = null;
    })();
    return this.loading;
  }

  /** The board becomes `list` (open alarms), less those known closed. */
  replace(list) {
    this.alarms.clear();
    for (const alarm of list) {
      if (alarm.open !== false && !this.closed.has(alarm.id)) this.alarms.set(alarm.id, alarm);
    }
  }

  /**
   * An alarm as it is now (from the stream): kept while open, removed when
   * no longer open; older news of an alarm than the board has is dropped.
   * Answers whether the board changed.
   */
  put(alarm) {
    if (!alarm || alarm.id === undefined || alarm.id === null) return false;
    if (this.during) this.during.push(alarm);
    return this.apply(alarm, true);
  }

  apply(alarm, announce) {
    if (this.closed.has(alarm.id)) return false;
    const known = this.alarms.get(alarm.id);
    if (known && older(alarm, known)) return false;
    if (alarm.open === false) {
      this.closed.add(alarm.id);
      if (this.closed.size > CLOSED_KEPT) this.closed.delete(this.closed.values().next().value);
      const had = this.alarms.delete(alarm.id);
      if (announce && had) this.emit('change', { alarm });
      return had;
    }
    this.alarms.set(alarm.id, alarm);
    if (announce) {
      if (!known && !alarm.acknowledged && !alarm.repeats) this.emit('raised', alarm);
      this.emit('change', { alarm });
    }
    return true;
  }

  /** Open alarm `id`, or undefined. */
  get(id) {
    return this.alarms.get(Number(id));
  }

  /** The open alarms, by `sort`: `severity` (most severe, then newest) or `time` (newest first). */
  list(sort = 'severity') {
    return [...this.alarms.values()].sort(sort === 'time' ? byTime : bySeverity);
  }

  /** The open alarms nobody acknowledged, most severe then newest first. */
  unacknowledged() {
    return this.list('severity').filter((a) => !a.acknowledged);
  }

  /** What the banner shows: the most severe unacknowledged open alarm, the newest of its severity; null when none. */
  newest() {
    return this.unacknowledged()[0] ?? null;
  }

  /** Counts as GET /api/v1/alarms gives them, of the board as it is. */
  counts() {
    const counts = { open: 0, active: 0, unacknowledged: 0, by_severity: Object.fromEntries(SEVERITIES.map((s) => [s, 0])) };
    for (const a of this.alarms.values()) {
      counts.open += 1;
      if (a.active) counts.active += 1;
      if (!a.acknowledged) counts.unacknowledged += 1;
      counts.by_severity[a.severity] = (counts.by_severity[a.severity] ?? 0) + 1;
    }
    return counts;
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

/** A value in the language's number format with its unit ("95,5 °C"). */
export function withUnit(value, unit) {
  const shown = formatValue(value);
  const name = unitName(unit);
  return name ? `${shown}${NBSP}${name}` : shown;
}

/** `key.one`, `key.few`, `key.many` or `key.other` as the language counts `n`. */
export function plural(key, n, vars) {
  const form = new Intl.PluralRules(language()).select(Number(n));
  const chosen = t(`${key}.${form}`, vars, '');
  return chosen || t(`${key}.other`, vars);
}

/** The threshold crossed: above when the value is over the limit. */
function thresholdText(alarm, channel) {
  const { value, unit, limit } = alarm;
  if (limit === null || limit === undefined) return t('alarm.threshold', { channel, value: withUnit(value, unit) });
  const key = Number(value) > Number(limit) ? 'alarm.threshold_above' : 'alarm.threshold_below';
  return t(key, { channel, value: withUnit(value, unit), limit: withUnit(limit, unit) });
}

/** What `alarm` is about, in the current language, from its machine fields. */
export function alarmText(alarm) {
  const channel = channelName(alarm.channel) || alarm.rule;
  const subject = alarm.subject?.id ?? '';
  const { value, unit, limit } = alarm;
  const known = (v) => v !== null && v !== undefined && v !== '';
  switch (alarm.kind) {
    case 'state':
      return t('alarm.state', { channel });
    case 'threshold':
      return thresholdText(alarm, channel);
    case 'decrease':
      return t(`alarm.decrease.${channelGender(alarm.channel)}`, {
        channel,
        from: formatValue(limit),
        to: withUnit(value, unit),
      });
    case 'clock_ahead':
      return known(value) ? t('alarm.clock_ahead', { value: withUnit(value, unit ?? 's') }) : t('alarm.clock_ahead_unknown');
    case 'battery':
      return known(limit)
        ? t('alarm.battery', { value: withUnit(value, unit ?? '%'), limit: withUnit(limit, unit ?? '%') })
        : t('alarm.battery_low', { value: withUnit(value, unit ?? '%') });
    case 'signal':
      return known(limit)
        ? t('alarm.signal', { value: withUnit(value, unit ?? 'dBm'), limit: withUnit(limit, unit ?? 'dBm') })
        : t('alarm.signal_weak', { value: withUnit(value, unit ?? 'dBm') });
    case 'silent':
      return t(alarm.subject?.kind === 'module' ? 'alarm.silent_module' : 'alarm.silent_meter', { id: subject });
    case 'lost_uplinks':
      return plural('alarm.lost_uplinks', value ?? 0, { n: formatValue(value ?? '0') });
    case 'sink_stalled':
      return Number(value) > 0
        ? t('alarm.sink_stalled_lag', { id: subject, lag: formatDuration(Number(value)) })
        : t('alarm.sink_stalled', { id: subject });
    default:
      return t('alarm.unknown', { rule: alarm.rule ?? alarm.kind ?? '' });
  }
}

/** Whether `alarmText` knows the alarm's kind (else the host's `text` says more). */
export function knownKind(alarm) {
  return ['state', 'threshold', 'decrease', 'clock_ahead', 'battery', 'signal', 'silent', 'lost_uplinks', 'sink_stalled']
    .includes(alarm?.kind);
}

/**
 * Who or what `alarm` is about: `label` (a meter's name where `nameOf(id)`
 * knows it, else its id; «Модуль …», «Выгрузка …»), `id` (the meter's id
 * under its name, else null), `meter` (its id, for a link), `meters` (a
 * module's meters).
 */
export function subjectOf(alarm, nameOf = () => null) {
  const kind = alarm.subject?.kind ?? 'meter';
  const id = alarm.subject?.id ?? alarm.meters?.[0] ?? '';
  if (kind === 'module') return { label: t('alarm.module', { id }), id: null, meter: null, meters: alarm.meters ?? [] };
  if (kind === 'sink') return { label: t('alarm.sink', { id }), id: null, meter: null, meters: [] };
  const name = nameOf(id);
  return { label: name ?? id, id: name ? id : null, meter: id, meters: [] };
}

/** Whether `alarmText` names the alarm's subject itself (a silent module, a stalled sink). */
export function textNamesSubject(alarm) {
  return alarm.kind === 'silent' || alarm.kind === 'sink_stalled';
}

/** A severity's name. */
export function severityName(severity) {
  return t(`severity.${severity}`, {}, severity ?? '');
}

/** The plugin instance an event of kind `plugin` names ("plugin instance tcp-in (listener) is now …"), or null. */
function pluginInstance(event) {
  if (event.subject?.kind === 'instance') return { instance: event.subject.id, plugin: event.subject.plugin };
  const m = /^plugin instance (\S+) \(([^)]+)\)/.exec(event.text ?? '');
  return m ? { instance: m[1], plugin: m[2] } : null;
}

/**
 * A line of the event log in the current language: an alarm event says
 * what the alarm is about (when `alarm`, the event's alarm, is known) and
 * what happened to it; a login, configuration or plugin event its code's
 * label, with the user.
 */
export function eventText(event, alarm = null) {
  const user = event.user ? t('event.by', { user: event.user }) : '';
  switch (event.kind) {
    case 'alarm': {
      const what = t(`event.alarm.${event.code}`, {}, event.code);
      if (!alarm) return t('event.alarm_numbered', { id: event.alarm ?? '?', what });
      const comment = event.code === 'acknowledged' && alarm.acknowledged?.comment
        ? t('event.comment', { comment: alarm.acknowledged.comment })
        : '';
      const who = event.code === 'acknowledged' && event.user ? t('event.who', { user: event.user }) : '';
      return `${alarmText(alarm)} — ${what}${who}${comment}`;
    }
    case 'login':
      return `${t(`event.login.${event.code}`, {}, event.code)}${user}`;
    case 'config':
      return `${t(`event.config.${event.code}`, {}, event.code)}${user}`;
    case 'plugin': {
      const state = t(`plugin_state.${event.code}`, {}, event.code);
      const named = pluginInstance(event);
      return named ? t('event.plugin_named', { instance: named.instance, plugin: named.plugin, state }) : t('event.plugin', { state });
    }
    default:
      return t('event.unknown', { kind: event.kind ?? '', code: event.code ?? '' });
  }
}

/**
 * The host's English text of an event, where it says more than
 * `eventText` (a configuration's changes or errors, a login's address,
 * an alarm not known here); null where it does not.
 */
export function eventDetail(event, alarm = null) {
  if (event.kind === 'alarm' && alarm && knownKind(alarm)) return null;
  if (event.kind === 'plugin' && pluginInstance(event)) return null;
  return event.text || null;
}
