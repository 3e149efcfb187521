// Formatting of times, ages and numbers in the current language.

import { language, t } from './i18n.js';

function locale() {
  return language() === 'ru' ? 'ru-RU' : 'en-GB';
}

/** A device or server time (ms since the epoch) in the browser's zone, or in the IANA `zone` given. */
export function formatTime(ms, zone = undefined) {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms).toLocaleString(locale(), {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    timeZone: zone,
  });
}

/**
 * A zone as an offset ("UTC+3"), to label times shown in it: the browser's,
 * or the IANA `zone` given, named too ("Europe/Moscow, UTC+3").
 */
export function zoneLabel(at = Date.now(), zone = undefined) {
  const part = new Intl.DateTimeFormat('en-GB', { timeZoneName: 'shortOffset', timeZone: zone })
    .formatToParts(new Date(at))
    .find((p) => p.type === 'timeZoneName');
  const offset = part ? part.value.replace('GMT', 'UTC') : 'UTC';
  return zone ? `${zone}, ${offset}` : offset;
}

/**
 * A time for a status column: the time of day when it is today's
 * ("17:50:04"), the day and minute within the year ("03.12, 16:52"),
 * else the date ("03.12.2024").
 */
export function formatTimeShort(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return '—';
  const at = new Date(ms);
  const today = new Date(now);
  if (at.toDateString() === today.toDateString()) {
    return at.toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }
  if (at.getFullYear() === today.getFullYear()) {
    return at.toLocaleString(locale(), { day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' });
  }
  return at.toLocaleDateString(locale(), { year: 'numeric', month: '2-digit', day: '2-digit' });
}

/** A time to the minute: "17:50" when it is today's, else "03.12, 16:52" (with the year when another year's). */
export function formatMinute(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return '—';
  const at = new Date(ms);
  const today = new Date(now);
  if (at.toDateString() === today.toDateString()) {
    return at.toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit' });
  }
  const year = at.getFullYear() === today.getFullYear() ? undefined : 'numeric';
  return at.toLocaleString(locale(), { year, day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' });
}

/** The UTC day of a time in ms, in the language's date format ("01.12.2025"). */
export function formatDay(ms) {
  if (ms === null || ms === undefined || Number.isNaN(Number(ms))) return '—';
  return new Date(ms).toLocaleDateString(locale(), { year: 'numeric', month: '2-digit', day: '2-digit', timeZone: 'UTC' });
}

/**
 * A period named by its local date (`YYYY-MM-DD` a day, `YYYY-MM` a month,
 * as the deltas name them) in the language's format: "05.12.2026",
 * "декабрь 2026" / "December 2026".
 */
export function formatDate(text) {
  if (!text) return '—';
  const m = /^(\d{4})-(\d{2})(?:-(\d{2}))?$/.exec(text);
  if (!m) return text;
  const [, y, mo, d] = m;
  if (d) return new Date(Date.UTC(+y, +mo - 1, +d)).toLocaleDateString(locale(), { year: 'numeric', month: '2-digit', day: '2-digit', timeZone: 'UTC' });
  return new Date(Date.UTC(+y, +mo - 1, 1)).toLocaleDateString(locale(), { year: 'numeric', month: 'long', timeZone: 'UTC' });
}

/** An age in ms as "5 s", "3 min 2 s", "2 h 5 min", "3 d 4 h". */
export function formatAge(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return t('unit.s', { n: s });
  const m = Math.floor(s / 60);
  if (m < 60) return `${t('unit.min', { n: m })} ${t('unit.s', { n: s % 60 })}`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${t('unit.h', { n: h })} ${t('unit.min', { n: m % 60 })}`;
  return `${t('unit.d', { n: Math.floor(h / 24) })} ${t('unit.h', { n: h % 24 })}`;
}

/**
 * A duration in seconds (a lag, a time to catch up) as "3 min 12 s",
 * "15 min", "2 h 5 min"; "< 1 s" for a fraction of a second, "—" when
 * unknown.
 */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return '—';
  if (seconds > 0 && seconds < 1) return t('unit.under_s');
  // A zero second (minute, hour) after a larger unit says nothing.
  return formatAge(seconds * 1000).replace(/ (?:0 [^ \d]+)$/, '');
}

/** A signed offset in ms (a clock's) as "+7 min 12 s", "−350 ms". */
export function formatOffset(ms) {
  if (ms === null || ms === undefined || Number.isNaN(Number(ms))) return '—';
  const sign = ms < 0 ? '−' : '+';
  const size = Math.abs(ms);
  return `${sign}${size < 1000 ? t('unit.ms', { n: Math.round(size) }) : formatDuration(size / 1000)}`;
}

/** A decimal with up to `digits` fraction digits, grouped as the language writes it ("21 000,5" in Russian). */
export function formatDecimal(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return '—';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);
}

/** A size in bytes as "512 B", "3.1 MB" (binary multiples, the language's units and separators). */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined || Number.isNaN(Number(bytes))) return '—';
  const units = ['unit.b', 'unit.kb', 'unit.mb', 'unit.gb', 'unit.tb'];
  let size = Number(bytes);
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return t(units[unit], { n: formatDecimal(size, unit === 0 ? 0 : 1) });
}

/** Milliseconds, rounded: "12 ms", "1.4 s". */
export function formatMs(ms) {
  if (ms === null || ms === undefined) return '—';
  if (Math.abs(ms) < 1000) return t('unit.ms', { n: Math.round(ms) });
  return t('unit.s', { n: (ms / 1000).toFixed(1) });
}

/** A count or a sequence number with the language's digit grouping ("12 345" in Russian, "12,345" in English). */
export function formatCount(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return '—';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 0 }).format(value);
}

/** The language's digit group separator: a narrow no-break space in Russian, a comma in English. */
function groupSeparator() {
  return language() === 'ru' ? '\u202f' : ',';
}

/**
 * An exact decimal as the host sends it ("3644.50", "-0.125") in the
 * language's format ("3 644,50" in Russian, "3,644.50" in English): digits
 * grouped in thousands, the language's decimal mark, every digit kept (the
 * value is a meter's register, not a float). Text that is not a decimal is
 * shown as it is.
 */
export function formatValue(text) {
  if (text === null || text === undefined) return '—';
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(text));
  if (!m) return String(text);
  const [, sign, whole, fraction] = m;
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, groupSeparator());
  const mark = language() === 'ru' ? ',' : '.';
  return `${sign ? '−' : ''}${grouped}${fraction !== undefined ? mark + fraction : ''}`;
}

/** A number or a placeholder. */
export function formatNumber(value, unit = '') {
  if (value === null || value === undefined) return '—';
  return unit ? `${value} ${unit}` : String(value);
}
