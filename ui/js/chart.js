// The meter page's chart: uPlot (built into ui/vendor/ by scripts/build-ui,
// loaded on first use). Without it the chart's place says how to build it;
// the rest of the page works.

import { el, clear } from './dom.js';
import { formatDecimal, formatTime, zoneLabel } from './format.js';
import { language, t } from './i18n.js';

const VENDOR_SCRIPT = '/ui/vendor/uPlot.iife.min.js';
const VENDOR_STYLE = '/ui/vendor/uPlot.min.css';
const HEIGHT_SHARE = 0.38;
const MIN_HEIGHT = 220;

let loading = null;

/** uPlot, loading it once; rejects when scripts/build-ui has not been run. */
export function loadChartLibrary() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const style = el('link', { rel: 'stylesheet', href: VENDOR_STYLE });
      const script = el('script', { src: VENDOR_SCRIPT });
      script.addEventListener('load', () => (window.uPlot ? resolve(window.uPlot) : reject(new Error('no uPlot'))));
      script.addEventListener('error', () => {
        loading = null;
        style.remove();
        script.remove();
        reject(new Error(`${VENDOR_SCRIPT} is missing`));
      });
      document.head.append(style, script);
    });
  }
  return loading;
}

/** A time chart of one channel's numeric readings. */
export class ReadingChart {
  constructor(container) {
    this.container = container;
    this.plot = null;
    this.missing = false;
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(container);
  }

  size() {
    const width = Math.max(200, this.container.clientWidth);
    const height = Math.max(MIN_HEIGHT, Math.round(window.innerHeight * HEIGHT_SHARE));
    return { width, height };
  }

  fit() {
    if (this.plot) this.plot.setSize(this.size());
  }

  /** Shows `readings` (sorted by time) of a channel labelled `label` in `unit`. */
  async show(readings, label, unit) {
    let uPlot;
    try {
      uPlot = await loadChartLibrary();
    } catch {
      this.missing = true;
      clear(this.container).append(
        el('div', { className: 'chart-missing', id: 'chart-missing' }, t('chart.missing'), ' ', el('code', {}, 'scripts/build-ui')),
      );
      return;
    }
    const data = toData(readings);
    if (this.plot && this.label === label && this.unit === unit) {
      this.plot.setData(data);
      return;
    }
    this.destroyPlot();
    this.label = label;
    this.unit = unit;
    clear(this.container);
    // Every label in the user's language and number format; times in the
    // browser's zone, named on the axis.
    const options = {
      ...this.size(),
      scales: { x: { time: true } },
      series: [
        { label: t('chart.time'), value: (u, ts) => (ts === null || ts === undefined ? '—' : formatTime(ts * 1000)) },
        {
          label: unit ? `${label}, ${unit}` : label,
          stroke: '#1f6feb',
          width: 2,
          points: { show: data[0].length < 200 },
          value: (u, v) => (v === null || v === undefined ? '—' : formatDecimal(v, 6)),
        },
      ],
      axes: [
        { label: t('chart.time_axis', { zone: zoneLabel() }), values: timeTicks },
        { label: unit || '', size: 80, gap: 6, values: (u, splits) => splits.map((v) => formatDecimal(v, 6)) },
      ],
      legend: { live: true },
    };
    this.plot = new uPlot(options, data, this.container);
  }

  destroyPlot() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }

  destroy() {
    this.resize.disconnect();
    this.destroyPlot();
  }
}

/** uPlot's columns: seconds and numbers (a value that is not a number is a gap). */
function toData(readings) {
  const xs = [];
  const ys = [];
  for (const r of readings) {
    xs.push(r.ts_ms / 1000);
    const y = Number(r.value);
    ys.push(Number.isFinite(y) ? y : null);
  }
  return [xs, ys];
}

/** The time axis' tick labels: the time of day within a day's span, else the date (and time). */
function timeTicks(u, splits) {
  const span = (splits.at(-1) ?? 0) - (splits[0] ?? 0);
  const locale = language() === 'ru' ? 'ru-RU' : 'en-GB';
  const options = span <= 86_400
    ? { hour: '2-digit', minute: '2-digit' }
    : span <= 7 * 86_400
      ? { day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' }
      : { day: '2-digit', month: '2-digit' };
  const format = new Intl.DateTimeFormat(locale, options);
  return splits.map((s) => format.format(new Date(s * 1000)));
}
