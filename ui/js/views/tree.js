// The navigation tree: resource / site / module / meter, from
// GET /api/v1/meters (the host lists only the meters the user may see),
// each meter with its state and each branch with its counts per state;
// searched by meter name, id, site or resource. Reloaded every
// RELOAD_EVERY_MS (states move with time) and when the live stream brings
// a device it does not know; `loaded` tells the views.

import { get } from '../api.js';
import { byId, clear, el } from '../dom.js';
import { t } from '../i18n.js';
import { diagramHash, meterHash } from '../router.js';

const RELOAD_AFTER_UNKNOWN_MS = 2000;
const RELOAD_EVERY_MS = 15_000;
/** States shown as counts on a branch, most urgent first. */
const COUNTED = ['on_hold', 'silent', 'clock_ahead', 'late'];

export class NavigationTree extends EventTarget {
  constructor() {
    super();
    this.meters = [];
    this.diagrams = [];
    this.query = '';
    this.ticker = null;
    this.known = new Set();
    this.reloadTimer = null;
    this.loading = null;
    this.failed = null;
  }

  /** Loads the meters and renders. */
  async load() {
    try {
      const [meters, diagrams] = await Promise.all([get('/api/v1/meters'), get('/api/v1/diagrams').catch(() => null)]);
      this.meters = meters;
      this.diagrams = (diagrams?.diagrams ?? []).filter((d) => d.served).map((d) => d.name);
      this.failed = null;
    } catch (e) {
      this.failed = e.message;
    }
    this.known = new Set(this.meters.map((m) => m.id));
    this.render();
    this.dispatchEvent(new CustomEvent('loaded'));
    if (!this.ticker) this.ticker = setInterval(() => this.load(), RELOAD_EVERY_MS);
  }

  /** Shows only the meters whose name, id, site or resource holds `query`. */
  search(query) {
    this.query = query.trim().toLowerCase();
    this.render();
  }

  matches(m) {
    if (!this.query) return true;
    const md = m.metadata ?? {};
    const resource = md.resource ? t(`resource.${md.resource}`, {}, md.resource) : '';
    return [m.id, md.name, md.site, md.address, md.resource, resource, m.module]
      .some((text) => text && String(text).toLowerCase().includes(this.query));
  }

  /** A device seen live: reload (soon, once) when the tree does not have it. */
  saw(device) {
    if (!this.known.has(device)) this.soon();
  }

  /** Reload soon, once (a state changed: an alarm of silence or a clock). */
  soon() {
    if (this.reloadTimer) return;
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null;
      this.load();
    }, RELOAD_AFTER_UNKNOWN_MS);
  }

  stop() {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
    clearInterval(this.ticker);
    this.ticker = null;
  }

  /** The meter `id` as loaded (metadata, module), or undefined. */
  meter(id) {
    return this.meters.find((m) => m.id === id);
  }

  render() {
    const body = clear(byId('tree-body'));
    if (this.failed) {
      body.append(el('p', { className: 'error' }, t('error.failed', { error: this.failed })));
      return;
    }
    const diagrams = this.diagrams.filter((d) => !this.query || d.toLowerCase().includes(this.query));
    if (diagrams.length) {
      body.append(
        el(
          'details',
          { open: true, className: 'tree-diagrams', id: 'tree-diagrams' },
          el('summary', {}, t('nav.diagrams'), el('span', { className: 'count' }, ` ${diagrams.length}`)),
          el('ul', { className: 'tree-level' }, diagrams.map((d) => el('li', {}, el('a', { href: diagramHash(d), dataset: { diagram: d } }, d)))),
        ),
      );
    }
    if (!this.meters.length) {
      body.append(el('p', { className: 'muted', id: 'tree-empty' }, t('tree.empty')));
      return;
    }
    const shown = this.meters.filter((m) => this.matches(m));
    if (!shown.length) {
      body.append(el('p', { className: 'muted', id: 'tree-none' }, t('tree.none')));
      return;
    }
    const levels = [
      (m) => m.metadata?.resource ?? null,
      (m) => m.metadata?.site ?? null,
      (m) => m.module ?? null,
    ];
    const labels = [
      (v) => (v ? t(`resource.${v}`, {}, v) : t('tree.no_resource')),
      (v) => v ?? t('tree.no_site'),
      (v) => (v ? t('tree.module', { module: v }) : t('tree.no_module')),
    ];
    body.append(this.branch(shown, levels, labels, 0));
  }

  branch(meters, levels, labels, depth) {
    const list = el('ul', { className: `tree-level tree-level-${depth}` });
    if (depth === levels.length) {
      for (const m of [...meters].sort((a, b) => (a.metadata?.name ?? a.id).localeCompare(b.metadata?.name ?? b.id))) {
        const name = m.metadata?.name;
        const state = m.state ?? 'never_heard';
        list.append(
          el(
            'li',
            { className: `tree-meter state-${state}`, title: t(`state.${state}`, {}, state) },
            el('span', { className: 'state-dot', attrs: { 'aria-hidden': 'true' } }),
            el(
              'a',
              { href: meterHash(m.id), dataset: { meter: m.id, state } },
              name ?? m.id,
              name ? el('span', { className: 'muted' }, ` ${m.id}`) : null,
            ),
          ),
        );
      }
      return list;
    }
    const groups = new Map();
    for (const m of meters) {
      const key = levels[depth](m);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(m);
    }
    const keys = [...groups.keys()].sort((a, b) => (a ?? '\uffff').localeCompare(b ?? '\uffff'));
    for (const key of keys) {
      const members = groups.get(key);
      list.append(
        el(
          'li',
          {},
          el(
            'details',
            { open: true },
            el('summary', {}, labels[depth](key), el('span', { className: 'count' }, ` ${members.length}`), stateCounts(members)),
            this.branch(members, levels, labels, depth + 1),
          ),
        ),
      );
    }
    return list;
  }
}

/** A branch's meters in the urgent states, as small coloured counts. */
function stateCounts(members) {
  const badges = [];
  for (const state of COUNTED) {
    const n = members.filter((m) => m.state === state).length;
    if (n) badges.push(el('span', { className: `badge state-${state}`, title: t(`state.${state}`, {}, state) }, String(n)));
  }
  return badges;
}
