// The reports page (`#/reports`): choose a report (consumption per day or
// month, readings at the period's boundaries, module activity, data
// completeness), its period, zone and scope; «Сформировать» shows it as a
// table (sums in bold, a meter's row linking to its page), and CSV, XLSX and
// PDF download the same report from the host (GET /api/v1/reports/{kind}).
// Under it, the scheduled reports' results the user may see (GET
// /api/v1/report-runs, read again every few seconds while the page is
// open), with what is being made now.

import { get, post, withQuery } from '../api.js';
import { append, clear, el } from '../dom.js';
import { formatDate, formatTime } from '../format.js';
import { language, t } from '../i18n.js';
import { meterHash } from '../router.js';

/** The reports, as the form offers them: the API's kind and the period. */
const CHOICES = [
  { id: 'monthly', kind: 'consumption', period: 'month' },
  { id: 'daily', kind: 'consumption', period: 'day' },
  { id: 'boundaries', kind: 'boundaries' },
  { id: 'activity', kind: 'activity' },
  { id: 'completeness', kind: 'completeness' },
];

const RESOURCES = ['gas', 'electricity', 'heat', 'cold_water', 'hot_water'];

/** `YYYY-MM` of the month before the one of `now`. */
export function previousMonth(now = new Date()) {
  const d = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

/** `YYYY-MM-DD` of `date` (local). */
function isoDay(date) {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`;
}

/** The day after `YYYY-MM-DD`. */
export function nextDay(text) {
  const [y, m, d] = text.split('-').map(Number);
  return isoDay(new Date(y, m - 1, d + 1));
}

/**
 * The query of a report from the form's values: the month (`YYYY-MM`) of a
 * monthly report, the first and last days (inclusive in the form, `to`
 * exclusive in the API) of the others but the activity, which is of now;
 * the zone, scope and language.
 */
export function reportQuery(choice, form, lang) {
  const query = { lang };
  if (choice.period) query.period = choice.period;
  if (choice.id === 'monthly') {
    query.month = form.month;
  } else if (choice.id !== 'activity') {
    query.from = form.from;
    query.to = form.to ? nextDay(form.to) : undefined;
  }
  for (const name of ['zone', 'site', 'resource', 'meter']) {
    if (form[name]) query[name] = form[name];
  }
  return query;
}

/** A report's table (sums in bold by their row's class, a meter's cell linking to its page), with `id`. */
export function reportTable(report, id) {
  const meterAt = report.columns.findIndex((c) => c.key === 'meter');
  const head = el('thead', {}, el('tr', {}, report.columns.map((c) =>
    el('th', { scope: 'col', className: c.align === 'right' ? 'num' : null }, c.label))));
  const body = el('tbody', {}, report.rows.map((row) => el('tr', { className: `report-${row.kind}` },
    row.cells.map((text, i) => {
      const column = report.columns[i];
      const cell = el('td', { className: column.align === 'right' ? 'num' : null });
      if (i === meterAt && row.kind === 'item' && text) {
        append(cell, [el('a', { href: meterHash(row.values[i]) }, text)]);
      } else {
        cell.textContent = text;
      }
      return cell;
    }))));
  return el('table', { className: 'report-table', id }, head, body);
}

/** The choices of the reports page, for other pages (the personal page's report widget). */
export const REPORT_CHOICES = CHOICES;

/** `YYYY-MM-DD` of `days` days before today (local). */
export function daysAgo(days, now = new Date()) {
  return isoDay(new Date(now.getFullYear(), now.getMonth(), now.getDate() - days));
}

/** The shipped form that keeps a user's report parameters. */
const PARAMETERS_FORM = 'report-parameters';

/** How often the scheduled results are read again. */
const RUNS_EVERY_MS = 5_000;

/** The view. Returns its cleanup. */
export function reportsView(container) {
  const page = new ReportsPage(container);
  page.start();
  return () => page.stop();
}

class ReportsPage {
  constructor(container) {
    this.container = container;
    this.stopped = false;
    this.running = null;
  }

  start() {
    const now = new Date();
    const monthAgo = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 7);
    this.kind = el('select', { id: 'report-kind' },
      CHOICES.map((c) => el('option', { value: c.id }, t(`reports.kind.${c.id}`))));
    this.month = el('input', { id: 'report-month', type: 'month', value: previousMonth(now), required: true });
    this.from = el('input', { id: 'report-from', type: 'date', value: isoDay(monthAgo), required: true });
    this.to = el('input', { id: 'report-to', type: 'date', value: isoDay(new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1)), required: true });
    this.zone = el('select', { id: 'report-zone' },
      el('option', { value: '' }, t('reports.zone.meter')),
      ['Europe/Moscow', 'Europe/Kaliningrad', 'Europe/Samara', 'Asia/Yekaterinburg', 'Asia/Novosibirsk', 'Asia/Vladivostok', 'UTC']
        .map((z) => el('option', { value: z }, z)));
    this.site = el('select', { id: 'report-site' }, el('option', { value: '' }, t('reports.all_sites')));
    this.resource = el('select', { id: 'report-resource' }, el('option', { value: '' }, t('reports.all_resources')),
      RESOURCES.map((r) => el('option', { value: r }, t(`resource.${r}`))));
    this.meter = el('input', { id: 'report-meter', type: 'search', placeholder: t('reports.meter_placeholder') });
    this.run = el('button', { id: 'report-run', type: 'submit' }, t('reports.run'));
    this.save = el('button', { id: 'report-save', type: 'button', on: { click: () => this.saveParameters() } }, t('reports.save'));
    this.downloads = el('span', { className: 'report-downloads', id: 'report-downloads' });
    this.status = el('p', { className: 'report-status', id: 'report-status', role: 'status' });
    this.output = el('div', { className: 'report-output', id: 'report-output' });
    this.runs = el('div', { className: 'report-runs', id: 'report-runs' });
    const field = (label, input, id) => el('label', { className: 'report-field', id }, el('span', {}, label), input);
    this.monthField = field(t('reports.month'), this.month, 'report-month-field');
    this.fromField = field(t('reports.from'), this.from, 'report-from-field');
    this.toField = field(t('reports.to'), this.to, 'report-to-field');
    const form = el('form', { className: 'report-form', id: 'report-form', on: { submit: (e) => { e.preventDefault(); this.show(); } } },
      field(t('reports.kind'), this.kind),
      this.monthField, this.fromField, this.toField,
      field(t('reports.zone'), this.zone),
      field(t('reports.site'), this.site),
      field(t('reports.resource'), this.resource),
      field(t('reports.meter'), this.meter),
      el('div', { className: 'report-actions' }, this.run, this.save, this.downloads));
    this.kind.addEventListener('change', () => this.choose());
    for (const input of [this.month, this.from, this.to, this.zone, this.site, this.resource, this.meter]) {
      input.addEventListener('change', () => this.links());
    }
    clear(this.container);
    append(this.container, [el('section', { className: 'reports' },
      el('h2', {}, t('reports.title')), form, this.status, this.output,
      el('h2', { className: 'report-runs-title' }, t('reports.scheduled')), this.runs)]);
    this.choose();
    this.loadSites().then(() => this.loadSaved());
    this.loadRuns();
    this.timer = setInterval(() => this.loadRuns(), RUNS_EVERY_MS);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
  }

  async loadRuns() {
    let answer;
    try {
      answer = await get('/api/v1/report-runs');
    } catch (e) {
      if (!this.stopped) this.runs.textContent = t('error.failed', { error: e.message });
      return;
    }
    if (this.stopped) return;
    const running = answer.running
      ? el('p', { className: 'report-running', id: 'report-running' },
        t('reports.running_now', { schedule: answer.running.schedule, period: answer.running.period, queued: answer.running.queued }))
      : null;
    if (answer.runs.length === 0) {
      clear(this.runs);
      append(this.runs, [running, el('p', { className: 'muted' }, t(answer.schedules.length ? 'reports.no_runs' : 'reports.no_schedules'))]);
      return;
    }
    const head = el('thead', {}, el('tr', {},
      ['reports.schedule', 'reports.period', 'reports.title_col', 'reports.made', 'reports.rows', 'reports.files']
        .map((k) => el('th', { scope: 'col' }, t(k)))));
    const body = el('tbody', {}, answer.runs.map((r) => el('tr', { dataset: { schedule: r.schedule, period: r.period } },
      el('td', {}, r.schedule), el('td', {}, formatDate(r.period)), el('td', {}, r.title), el('td', {}, formatTime(r.made_at_ms)),
      el('td', { className: 'num' }, String(r.rows)),
      el('td', { className: 'report-files' }, r.files.map((f) => el('a', {
        className: 'report-download', href: `/api/v1/report-runs/${encodeURIComponent(r.schedule)}/${encodeURIComponent(f)}`,
        attrs: { download: '' },
      }, f.split('.').pop().toUpperCase()))))));
    clear(this.runs);
    append(this.runs, [running, el('div', { className: 'report-scroll' }, el('table', { className: 'report-table', id: 'report-runs-table' }, head, body))]);
  }

  choice() {
    return CHOICES.find((c) => c.id === this.kind.value) ?? CHOICES[0];
  }

  /** Shows the period fields the chosen report takes. */
  choose() {
    const id = this.choice().id;
    this.monthField.hidden = id !== 'monthly';
    this.fromField.hidden = id === 'monthly' || id === 'activity';
    this.toField.hidden = this.fromField.hidden;
    this.links();
  }

  form() {
    return {
      month: this.month.value, from: this.from.value, to: this.to.value, zone: this.zone.value,
      site: this.site.value, resource: this.resource.value, meter: this.meter.value.trim(),
    };
  }

  path() {
    return `/api/v1/reports/${this.choice().kind}`;
  }

  query() {
    return reportQuery(this.choice(), this.form(), language());
  }

  /** The download links of the report as the form stands. */
  links() {
    clear(this.downloads);
    for (const format of ['csv', 'xlsx', 'pdf']) {
      append(this.downloads, [el('a', {
        className: 'report-download', id: `report-${format}`, href: withQuery(this.path(), { ...this.query(), format }),
        attrs: { download: '' },
      }, format.toUpperCase())]);
    }
  }

  /** The user's saved parameters (the report-parameters form), if any, put into the form. */
  async loadSaved() {
    let saved;
    try {
      saved = (await get(`/api/v1/forms/${PARAMETERS_FORM}`, { lang: language() })).values;
    } catch {
      return; // No such form (an operator removed it): the page's defaults.
    }
    if (!saved || this.stopped) return;
    if (CHOICES.some((c) => c.id === saved.report)) this.kind.value = saved.report;
    for (const [select, value] of [[this.zone, saved.zone], [this.site, saved.site]]) {
      if (value && ![...select.options].some((o) => o.value === value)) select.append(el('option', { value }, value));
      select.value = value ?? '';
    }
    this.resource.value = saved.resource ?? '';
    this.meter.value = saved.meter ?? '';
    this.choose();
    this.status.textContent = t('reports.saved_loaded');
  }

  /** Keeps the form's choice as the user's report parameters. */
  async saveParameters() {
    const f = this.form();
    const values = { report: this.kind.value, zone: f.zone, site: f.site, resource: f.resource, meter: f.meter };
    this.status.className = 'report-status';
    try {
      await post(`/api/v1/forms/${PARAMETERS_FORM}`, { values });
      this.status.textContent = t('reports.saved');
    } catch (e) {
      this.status.className = 'report-status error';
      const problems = (e.body?.problems ?? []).map((p) => `${p.field}: ${t(`forms.problem.${p.code}`, { limit: p.limit ?? '' }, p.message)}`);
      this.status.textContent = problems.length ? `${t('forms.refused')} ${problems.join('; ')}` : e.message;
    }
  }

  async loadSites() {
    try {
      const meters = await get('/api/v1/meters');
      if (this.stopped) return;
      const sites = [...new Set(meters.map((m) => m.metadata?.site).filter(Boolean))].sort((a, b) => a.localeCompare(b));
      append(this.site, sites.map((s) => el('option', { value: s }, s)));
    } catch {
      // The list of sites is a convenience; the report says what is wrong.
    }
  }

  async show() {
    const query = this.query();
    this.run.disabled = true;
    this.status.className = 'report-status';
    this.status.textContent = t('reports.running');
    const started = performance.now();
    try {
      const report = await get(this.path(), query);
      if (this.stopped) return;
      this.render(report);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const rows = report.rows.filter((r) => r.kind === 'item').length;
      this.status.textContent = t('reports.done', { rows, seconds: language() === 'ru' ? seconds.replace('.', ',') : seconds });
    } catch (e) {
      if (this.stopped) return;
      clear(this.output);
      this.status.className = 'report-status error';
      this.status.textContent = t('error.failed', { error: e.message });
    } finally {
      this.run.disabled = false;
    }
  }

  render(report) {
    clear(this.output);
    append(this.output, [
      el('h3', { className: 'report-title', id: 'report-title' }, report.title),
      el('dl', { className: 'report-parameters' }, report.parameters.map((p) => [el('dt', {}, p.label), el('dd', {}, p.value)])),
      el('div', { className: 'report-scroll' }, reportTable(report, 'report-table')),
      report.notes.map((n) => el('p', { className: 'report-note' }, n)),
    ]);
  }
}
