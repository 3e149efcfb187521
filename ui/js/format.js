// Formatting of times, ages and numbers in the current language.

import { language, t } from './i18n.js';

function locale() {
  return language() === 'ru' ? 'ru-RU' : 'en-GB';
}

/** A device or server time (ms since the epoch) in the browser's zone. */
export function formatTime(ms) {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms).toLocaleString(locale(), {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

/** A date only (deltas' periods are named by their local date already). */
export function formatDate(text) {
  return text ?? '—';
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

/** A number or a placeholder. */
export function formatNumber(value, unit = '') {
  if (value === null || value === undefined) return '—';
  return unit ? `${value} ${unit}` : String(value);
}
