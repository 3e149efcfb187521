// The plugin status page (dispatcher and above): plugin instances with
// their states, restarts and failures, the counters per source, loaded and
// refused plugins, and the quarantine. Refreshed every few seconds.

import { get } from '../api.js';
import { clear, el, table } from '../dom.js';
import { formatAge, formatTime } from '../format.js';
import { t } from '../i18n.js';

const REFRESH_MS = 5000;
const QUARANTINE_LIMIT = 100;
const COUNTERS = ['received', 'archived', 'duplicate', 'quarantined', 'rejected'];

/** The view; returns its cleanup. */
export function pluginsView(container) {
  const instances = el('div', { id: 'plugin-instances' });
  const sources = el('div', { id: 'plugin-sources' });
  const plugins = el('div', { id: 'plugin-list' });
  const quarantine = el('div', { id: 'quarantine' });
  const updated = el('span', { className: 'muted' });
  const error = el('p', { className: 'error', hidden: true });
  container.append(
    el('div', { className: 'view-head' }, el('h1', {}, t('plugins.title')), updated),
    error,
    el('section', { className: 'card' }, el('h2', {}, t('plugins.instances')), instances),
    el('section', { className: 'card' }, el('h2', {}, t('plugins.sources')), sources),
    el('section', { className: 'card' }, el('h2', {}, t('plugins.plugins')), plugins),
    el('section', { className: 'card' }, el('h2', {}, t('plugins.quarantine')), quarantine),
  );

  async function refresh() {
    try {
      const [status, list, quarantined] = await Promise.all([
        get('/api/v1/status'),
        get('/api/v1/plugins'),
        get('/api/v1/quarantine', { limit: QUARANTINE_LIMIT }),
      ]);
      error.hidden = true;
      renderInstances(instances, status);
      renderSources(sources, status);
      renderPlugins(plugins, list);
      renderQuarantine(quarantine, quarantined);
      updated.textContent = t('plugins.updated', { time: formatTime(Date.now()) });
    } catch (e) {
      error.hidden = false;
      error.textContent = t('error.failed', { error: e.message });
    }
  }

  refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => clearInterval(timer);
}

function renderInstances(box, status) {
  const { table: grid, body } = table('instances-table', [
    t('plugins.instance'), t('plugins.plugin'), t('plugins.state'), t('plugins.uptime'),
    t('plugins.calls'), t('plugins.failures'), t('plugins.last_error'),
  ]);
  for (const i of status.instances ?? []) {
    body.append(
      el(
        'tr',
        { dataset: { instance: i.name } },
        el('td', {}, i.name),
        el('td', {}, `${i.plugin} ${i.version} (${i.kind})`),
        el('td', {}, el('span', { className: `plugin-state state-${String(i.state).toLowerCase()}` }, i.state), i.pending ? ` → ${i.pending}` : ''),
        el('td', {}, formatAge((i.uptime_s ?? 0) * 1000)),
        el('td', { className: 'num' }, String(i.calls ?? 0)),
        el('td', { className: 'num' }, String(i.failures ?? 0)),
        el('td', { className: 'error-text' }, i.last_error ?? ''),
      ),
    );
  }
  clear(box).append(grid, el('p', { className: 'muted' }, t('plugins.uptime_total', { uptime: formatAge((status.uptime_s ?? 0) * 1000) })));
}

function renderSources(box, status) {
  const counters = status.sources?.sources ?? {};
  const rates = status.rates ?? {};
  const { table: grid, body } = table('sources-table', [
    t('plugins.source'), ...COUNTERS.map((c) => t(`counter.${c}`)), t('plugins.rate'),
  ]);
  for (const [source, c] of Object.entries(counters)) {
    const rate = rates[source];
    body.append(
      el(
        'tr',
        {},
        el('td', {}, source),
        COUNTERS.map((name) => el('td', { className: 'num' }, String(c[name] ?? 0))),
        el('td', { className: 'num' }, rate ? t('plugins.per_s', { n: rate.readings_per_s.toFixed(1) }) : '—'),
      ),
    );
  }
  const balanced = status.sources?.balanced;
  clear(box).append(
    grid,
    el('p', { className: balanced === false ? 'warning' : 'muted' }, t(balanced === false ? 'plugins.unbalanced' : 'plugins.balanced')),
  );
}

function renderPlugins(box, list) {
  const { table: grid, body } = table('plugins-table', [t('plugins.plugin'), t('plugins.roles'), t('plugins.description')]);
  for (const p of list.loaded ?? []) {
    body.append(
      el('tr', {}, el('td', {}, `${p.id} ${p.version} (${p.kind})`), el('td', {}, (p.roles ?? []).join(', ')), el('td', {}, p.description ?? '')),
    );
  }
  const refused = (list.refused ?? []).map((r) =>
    el('li', { className: 'error-text' }, `${r.path}${r.line ? `:${r.line}:${r.col}` : ''}: ${r.cause}`),
  );
  clear(box).append(grid, refused.length ? el('h3', {}, t('plugins.refused')) : null, refused.length ? el('ul', {}, refused) : null);
}

function renderQuarantine(box, quarantined) {
  if (!quarantined.length) {
    clear(box).append(el('p', { className: 'muted', id: 'quarantine-empty' }, t('plugins.quarantine_empty')));
    return;
  }
  const { table: grid, body } = table('quarantine-table', [
    t('plugins.received_at'), t('plugins.source'), t('plugins.peer'), t('plugins.reason'), t('plugins.payload'),
  ]);
  for (const q of [...quarantined].reverse()) {
    body.append(
      el(
        'tr',
        {},
        el('td', {}, q.received_at),
        el('td', {}, q.source),
        el('td', {}, q.peer),
        el('td', { className: 'error-text' }, q.reason),
        el('td', {}, el('code', {}, q.payload_text ?? q.payload_hex)),
      ),
    );
  }
  clear(box).append(grid);
}
