// The personal page (`#/home`): the start page a user composes from
// widgets — live values of chosen meters, a chart of a meter's channel, a
// mimic diagram, a report, the silent modules — kept by the host
// (GET/PUT/DELETE /api/v1/page). «Настроить» arranges it: add, remove,
// move, widen, choose what each shows; an admin can publish it to a role
// as that role's start page. A page holds choices only: every widget reads
// its data from the API or the global stream under the user's own grants,
// so a meter outside them shows nothing.

import { get, request, segment } from '../api.js';
import { ReadingChart } from '../chart.js';
import { channelName, unitName } from '../channels.js';
import { append, clear, el } from '../dom.js';
import { formatAge, formatTime, formatValue } from '../format.js';
import { language, t } from '../i18n.js';
import { signalKey } from '../live-values.js';
import { meterHash } from '../router.js';
import { diagramView } from './diagram.js';
import { REPORT_CHOICES, daysAgo, previousMonth, reportQuery, reportTable } from './reports.js';

const KINDS = ['values', 'chart', 'diagram', 'report', 'silent'];
const ROLES = ['viewer', 'dispatcher', 'operator', 'admin'];
/** How often the silent list, a chart and a report are read again. */
const REFRESH_MS = 30_000;

/** The view; `app` gives the live values, the tree and the session. */
export function homeView(container, app) {
  const page = new HomePage(container, app);
  page.load();
  return () => page.stop();
}

/** A widget as the host keeps it, with every setting it left out at its default. */
function widgetOf(kept) {
  return { title: '', wide: false, meters: [], channel: null, hours: null, diagram: null, report: null, ...structuredClone(kept) };
}

/** A meter's name for people, else its id. */
function meterLabel(tree, id) {
  return tree.meter(id)?.metadata?.name ?? id;
}

class HomePage {
  constructor(container, { values, tree, session }) {
    this.container = container;
    this.values = values;
    this.tree = tree;
    this.session = session;
    this.cleanups = [];
    this.editing = false;
    this.stopped = false;
  }

  stop() {
    this.stopped = true;
    this.unmount();
  }

  unmount() {
    for (const cleanup of this.cleanups.splice(0)) cleanup?.();
  }

  async load() {
    try {
      this.answer = await get('/api/v1/page');
    } catch (e) {
      clear(this.container).append(el('p', { className: 'error' }, e.message));
      return;
    }
    if (this.stopped) return;
    this.widgets = this.answer.page.widgets.map(widgetOf);
    this.render();
  }

  origin() {
    const a = this.answer;
    if (a.origin === 'user') return t('home.origin.user', { when: formatTime(a.saved_at_ms) });
    if (a.origin === 'role') return t('home.origin.role', { role: t(`role.${a.role}`, {}, a.role), who: a.saved_by });
    return t('home.origin.built_in');
  }

  render() {
    this.unmount();
    const bar = el('div', { className: 'home-bar' },
      el('h2', {}, t('home.title')),
      el('span', { className: 'home-origin muted', id: 'home-origin' }, this.origin()));
    if (this.editing) {
      const kind = el('select', { id: 'home-add-kind' }, KINDS.map((k) => el('option', { value: k }, t(`home.kind.${k}`))));
      append(bar, [
        el('span', { className: 'home-add' }, kind,
          el('button', { type: 'button', id: 'home-add', on: { click: () => this.add(kind.value) } }, t('home.add'))),
        el('button', { type: 'button', id: 'home-save', className: 'primary', on: { click: () => this.save() } }, t('home.save')),
        el('button', { type: 'button', id: 'home-cancel', on: { click: () => this.cancel() } }, t('home.cancel')),
        this.answer.origin === 'user'
          ? el('button', { type: 'button', id: 'home-reset', on: { click: () => this.reset() } }, t('home.reset'))
          : null,
        this.session.role === 'admin' ? this.publishControl() : null,
      ]);
    } else {
      bar.append(el('button', { type: 'button', id: 'home-edit', on: { click: () => { this.editing = true; this.render(); } } }, t('home.edit')));
    }
    this.status = el('p', { className: 'home-status', id: 'home-status', attrs: { role: 'status' } });
    const grid = el('div', { className: `home-grid${this.editing ? ' editing' : ''}`, id: 'home-grid' });
    this.widgets.forEach((widget, index) => grid.append(this.widget(widget, index)));
    if (!this.widgets.length) grid.append(el('p', { className: 'muted' }, t('home.empty')));
    clear(this.container);
    append(this.container, [el('section', { className: 'home' }, bar, this.status, grid)]);
  }

  publishControl() {
    const role = el('select', { id: 'home-publish-role' }, ROLES.map((r) => el('option', { value: r }, t(`role.${r}`, {}, r))));
    return el('span', { className: 'home-publish' }, role,
      el('button', { type: 'button', id: 'home-publish', on: { click: () => this.publish(role.value) } }, t('home.publish')));
  }

  widget(widget, index) {
    const title = widget.title || t(`home.kind.${widget.kind}`);
    const body = el('div', { className: 'widget-body' });
    const node = el('section', {
      className: `widget widget-${widget.kind}${widget.wide ? ' wide' : ''}`,
      dataset: { kind: widget.kind, index: String(index) },
    }, el('h3', { className: 'widget-title' }, title));
    if (this.editing) node.append(this.controls(widget, index));
    node.append(body);
    this.cleanups.push(this.fill(widget, body));
    return node;
  }

  /** The widget's arrangement and settings while editing. */
  controls(widget, index) {
    const move = (to) => {
      const [w] = this.widgets.splice(index, 1);
      this.widgets.splice(to, 0, w);
      this.render();
    };
    const button = (label, title, action, disabled = false) =>
      el('button', { type: 'button', title, disabled, className: 'widget-control', on: { click: action } }, label);
    const changed = () => this.render();
    const settings = el('div', { className: 'widget-settings' },
      el('label', {}, t('home.widget_title'),
        el('input', { value: widget.title, maxLength: 200, on: { change: (e) => { widget.title = e.target.value; changed(); } } })));
    const meters = this.tree.meters ?? [];
    if (widget.kind === 'values') {
      const chosen = new Set(widget.meters);
      settings.append(el('fieldset', { className: 'widget-meters' }, el('legend', {}, t('home.meters')),
        meters.map((m) => el('label', {},
          el('input', { type: 'checkbox', value: m.id, checked: chosen.has(m.id), on: { change: (e) => {
            widget.meters = e.target.checked ? [...widget.meters, m.id] : widget.meters.filter((id) => id !== m.id);
            changed();
          } } }),
          ` ${meterLabel(this.tree, m.id)}`))));
    }
    if (widget.kind === 'chart') {
      const meter = el('select', { name: 'meter', on: { change: (e) => { widget.meters = [e.target.value]; widget.channel = null; changed(); } } },
        el('option', { value: '' }, '—'), meters.map((m) => el('option', { value: m.id, selected: widget.meters[0] === m.id }, meterLabel(this.tree, m.id))));
      const channels = Object.keys(this.tree.meter(widget.meters[0])?.channels ?? {});
      const channel = el('select', { name: 'channel', on: { change: (e) => { widget.channel = e.target.value; changed(); } } },
        el('option', { value: '' }, '—'), channels.map((c) => el('option', { value: c, selected: widget.channel === c }, channelName(c))));
      const hours = el('input', { type: 'number', name: 'hours', min: 1, max: 744, value: widget.hours ?? 24,
        on: { change: (e) => { widget.hours = Number(e.target.value) || 24; changed(); } } });
      append(settings, [el('label', {}, t('home.meter'), meter), el('label', {}, t('home.channel'), channel), el('label', {}, t('home.hours'), hours)]);
    }
    if (widget.kind === 'diagram') {
      const select = el('select', { name: 'diagram', on: { change: (e) => { widget.diagram = e.target.value; changed(); } } }, el('option', { value: '' }, '—'));
      get('/api/v1/diagrams').then((list) => append(select, [list.diagrams.map((d) =>
        el('option', { value: d.name, selected: widget.diagram === d.name }, d.name))])).catch(() => {});
      settings.append(el('label', {}, t('home.diagram'), select));
    }
    if (widget.kind === 'report') {
      settings.append(el('label', {}, t('home.report'), el('select', { name: 'report', on: { change: (e) => { widget.report = e.target.value; changed(); } } },
        REPORT_CHOICES.map((c) => el('option', { value: c.id, selected: (widget.report ?? 'activity') === c.id }, t(`reports.kind.${c.id}`))))));
    }
    return el('div', { className: 'widget-controls' },
      el('div', { className: 'widget-buttons' },
        button('↑', t('home.up'), () => move(index - 1), index === 0),
        button('↓', t('home.down'), () => move(index + 1), index === this.widgets.length - 1),
        button(widget.wide ? '⇤' : '⇔', t('home.wide'), () => { widget.wide = !widget.wide; changed(); }),
        button('✕', t('home.remove'), () => { this.widgets.splice(index, 1); this.render(); })),
      settings);
  }

  add(kind) {
    // A chart, a diagram and a report's table want the page's width; the others share a row.
    const wide = ['chart', 'diagram', 'report'].includes(kind);
    this.widgets.push(widgetOf({ kind, wide, hours: kind === 'chart' ? 24 : null, report: kind === 'report' ? 'activity' : null }));
    this.render();
  }

  async save() {
    await this.write(request('PUT', '/api/v1/page', { widgets: this.widgets }), 'home.saved');
  }

  async reset() {
    await this.write(request('DELETE', '/api/v1/page'), 'home.reset_done');
  }

  async publish(role) {
    try {
      await request('PUT', `/api/v1/pages/roles/${segment(role)}`, { widgets: this.widgets });
      this.status.className = 'home-status ok';
      this.status.textContent = t('home.published', { role: t(`role.${role}`, {}, role) });
    } catch (e) {
      this.status.className = 'home-status error';
      this.status.textContent = e.message;
    }
  }

  async write(pending, done) {
    try {
      this.answer = await pending;
    } catch (e) {
      this.status.className = 'home-status error';
      this.status.textContent = e.message;
      return;
    }
    this.widgets = this.answer.page.widgets.map(widgetOf);
    this.editing = false;
    this.render();
    this.status.className = 'home-status ok';
    this.status.textContent = t(done);
  }

  cancel() {
    this.widgets = this.answer.page.widgets.map(widgetOf);
    this.editing = false;
    this.render();
  }

  /** Renders the widget's data into `body`; returns its cleanup. */
  fill(widget, body) {
    const fillers = {
      values: () => this.liveValues(widget, body),
      chart: () => this.chart(widget, body),
      diagram: () => this.diagram(widget, body),
      report: () => this.report(widget, body),
      silent: () => this.silent(body),
    };
    return fillers[widget.kind]?.();
  }

  /** The latest value of each channel of the widget's meters the user may see, live. */
  liveValues(widget, body) {
    const meters = widget.meters.filter((id) => this.tree.meter(id));
    if (!meters.length) {
      body.append(el('p', { className: 'muted' }, t(widget.meters.length ? 'home.nothing_visible' : 'home.choose_meters')));
      return undefined;
    }
    const rows = el('tbody');
    const table = el('table', { className: 'widget-values-table' }, el('thead', {}, el('tr', {},
      [t('live.device'), t('live.channel'), t('live.value'), t('live.age')].map((h) => el('th', { scope: 'col' }, h)))), rows);
    body.append(table);
    const cells = new Map();
    for (const id of meters) {
      for (const [channel, info] of Object.entries(this.tree.meter(id).channels ?? {})) {
        const value = el('td', { className: 'value num' }, '—');
        const age = el('td', { className: 'age' }, '');
        cells.set(signalKey({ device: id, channel }), { value, age, unit: info.unit });
        rows.append(el('tr', { dataset: { device: id, channel } },
          el('td', {}, el('a', { href: meterHash(id) }, meterLabel(this.tree, id))), el('td', {}, channelName(channel)), value, age));
      }
    }
    const show = (reading) => {
      const cell = cells.get(signalKey(reading));
      if (!cell) return;
      cell.value.textContent = `${formatValue(reading.value)} ${unitName(reading.unit || cell.unit)}`;
      cell.age.dataset.ts = String(reading.ts_ms);
      cell.age.textContent = formatAge(Date.now() - reading.ts_ms);
    };
    for (const reading of this.values.values.values()) show(reading);
    // What the stream's snapshot did not bring yet: each meter's latest.
    for (const id of meters) {
      get(`/api/v1/devices/${segment(id)}/latest`).then((latest) => {
        for (const reading of latest ?? []) if (!this.values.values.has(signalKey(reading))) show(reading);
      }).catch(() => {});
    }
    const onChange = (e) => show(e.detail.reading);
    this.values.addEventListener('change', onChange);
    const ages = setInterval(() => {
      for (const { age } of cells.values()) if (age.dataset.ts) age.textContent = formatAge(Date.now() - Number(age.dataset.ts));
    }, 5000);
    return () => {
      this.values.removeEventListener('change', onChange);
      clearInterval(ages);
    };
  }

  chart(widget, body) {
    const meter = widget.meters[0];
    if (!meter || !widget.channel || !this.tree.meter(meter)) {
      body.append(el('p', { className: 'muted' }, t(meter && !this.tree.meter(meter) ? 'home.nothing_visible' : 'home.choose_chart')));
      return undefined;
    }
    const box = el('div', { className: 'widget-chart-box' });
    const caption = el('p', { className: 'muted widget-caption' },
      `${meterLabel(this.tree, meter)} · ${channelName(widget.channel)} · ${t('home.last_hours', { hours: widget.hours ?? 24 })}`);
    append(body, [caption, box]);
    const chart = new ReadingChart(box);
    const draw = async () => {
      const from = new Date(Date.now() - (widget.hours ?? 24) * 3_600_000).toISOString();
      try {
        const readings = await get('/api/v1/readings', { device: meter, channel: widget.channel, from, limit: 100000 });
        readings.sort((a, b) => a.ts_ms - b.ts_ms);
        const unit = readings.at(-1)?.unit ?? this.tree.meter(meter)?.channels?.[widget.channel]?.unit ?? '';
        chart.show(readings, channelName(widget.channel), unitName(unit));
      } catch (e) {
        caption.textContent = e.message;
      }
    };
    draw();
    const timer = setInterval(draw, REFRESH_MS);
    return () => {
      clearInterval(timer);
      chart.destroy();
    };
  }

  diagram(widget, body) {
    if (!widget.diagram) {
      body.append(el('p', { className: 'muted' }, t('home.choose_diagram')));
      return undefined;
    }
    const box = el('div', { className: 'widget-diagram-box' });
    body.append(box, el('p', {}, el('a', { href: `#/diagram/${segment(widget.diagram)}` }, t('home.open_diagram'))));
    return diagramView(box, { name: widget.diagram }, this.values);
  }

  report(widget, body) {
    const choice = REPORT_CHOICES.find((c) => c.id === (widget.report ?? 'activity')) ?? REPORT_CHOICES[0];
    // The last week with today (in progress) for a day's report; the month before for a monthly one.
    const form = { month: previousMonth(), from: daysAgo(6), to: daysAgo(0) };
    const query = reportQuery(choice, form, language());
    const status = el('p', { className: 'muted widget-caption' }, t('reports.running'));
    const output = el('div', { className: 'report-scroll' });
    append(body, [status, output]);
    let stopped = false;
    const load = async () => {
      try {
        const report = await get(`/api/v1/reports/${choice.kind}`, query);
        if (stopped) return;
        status.textContent = report.parameters.map((p) => `${p.label}: ${p.value}`).join(' · ');
        clear(output).append(reportTable(report, null));
      } catch (e) {
        if (!stopped) status.textContent = e.message;
      }
    };
    load();
    body.append(el('p', {}, el('a', { href: '#/reports' }, t('home.open_reports'))));
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }

  silent(body) {
    const list = el('div', { className: 'silent-box' });
    body.append(list);
    let stopped = false;
    const load = async () => {
      let answer;
      try {
        answer = await get('/api/v1/modules', { state: 'silent' });
      } catch (e) {
        if (!stopped) list.textContent = e.message;
        return;
      }
      if (stopped) return;
      clear(list);
      if (!answer.modules.length) {
        list.append(el('p', { className: 'ok-text' }, t('home.none_silent')));
        return;
      }
      list.append(el('ul', { className: 'silent-list' }, answer.modules.map((m) => el('li', { dataset: { module: m.module } },
        el('span', { className: 'state-dot state-silent' }, '●'), ' ',
        el('strong', {}, m.module), ' · ',
        t('home.silent_for', { age: formatAge(m.silent_for_ms ?? 0) }), ' · ',
        m.meters.map((id, i) => [i ? ', ' : '', el('a', { href: meterHash(id) }, meterLabel(this.tree, id))])))));
    };
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }
}
