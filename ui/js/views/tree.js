// The navigation tree: resource / site / module / meter, from
// GET /api/v1/meters (the host lists only the meters the user may see).
// Reloaded when the live stream brings a device it does not know.

import { get } from '../api.js';
import { byId, clear, el } from '../dom.js';
import { t } from '../i18n.js';
import { meterHash } from '../router.js';

const RELOAD_AFTER_UNKNOWN_MS = 2000;

export class NavigationTree {
  constructor() {
    this.meters = [];
    this.known = new Set();
    this.reloadTimer = null;
    this.loading = null;
    this.failed = null;
  }

  /** Loads the meters and renders. */
  async load() {
    try {
      this.meters = await get('/api/v1/meters');
      this.failed = null;
    } catch (e) {
      this.failed = e.message;
    }
    this.known = new Set(this.meters.map((m) => m.id));
    this.render();
  }

  /** A device seen live: reload (soon, once) when the tree does not have it. */
  saw(device) {
    if (this.known.has(device) || this.reloadTimer) return;
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null;
      this.load();
    }, RELOAD_AFTER_UNKNOWN_MS);
  }

  stop() {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
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
    if (!this.meters.length) {
      body.append(el('p', { className: 'muted', id: 'tree-empty' }, t('tree.empty')));
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
    body.append(this.branch(this.meters, levels, labels, 0));
  }

  branch(meters, levels, labels, depth) {
    const list = el('ul', { className: `tree-level tree-level-${depth}` });
    if (depth === levels.length) {
      for (const m of [...meters].sort((a, b) => a.id.localeCompare(b.id))) {
        const name = m.metadata?.name;
        list.append(
          el(
            'li',
            { className: 'tree-meter' },
            el('a', { href: meterHash(m.id), dataset: { meter: m.id } }, m.id, name ? el('span', { className: 'muted' }, ` ${name}`) : null),
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
            el('summary', {}, labels[depth](key), el('span', { className: 'count' }, ` ${members.length}`)),
            this.branch(members, levels, labels, depth + 1),
          ),
        ),
      );
    }
    return list;
  }
}
