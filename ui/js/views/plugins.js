// The plugin status page (dispatcher and above): plugin instances with
// their states, restarts and failures, the sinks (state, position, lag,
// counts, last error), the counters per source, loaded and refused
// plugins, and the quarantine. Refreshed every few seconds.

import { get } from '../api.js';
import { append, clear, el, table } from '../dom.js';
import { formatAge, formatCount, formatTime } from '../format.js';
import { t } from '../i18n.js';

const REFRESH_MS = 5000;
const QUARANTINE_LIMIT = 100;
const COUNTERS = ['received', 'archived', 'duplicate', 'quarantined', 'rejected'];

/** The view; returns its cleanup. */
export function pluginsView(container) {
  const instances = el('div', { id: 'plugin-instances' });
  const sinks = el('div', { id: 'sinks' });
  const sources = el('div', { id: 'plugin-sources' });
  const plugins = el('div', { id: 'plugin-list' });
  const quarantine = el('div', { id: 'quarantine' });
  const updated = el('span', { className: 'muted' });
  const error = el('p', { className: 'error', hidden: true });
  container.append(
    el('div', { className: 'view-head' }, el('h1', {}, t('plugins.title')), updated),
    error,
    el('section', { className: 'card' }, el('h2', {}, t('plugins.instances')), instances),
    el('section', { className: 'card' }, el('h2', { id: 'sinks-title' }, t('sinks.title')), sinks),
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
      renderSinks(sinks, status.sinks ?? []);
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
        el('td', {}, el('span', { className: `plugin-state state-${String(i.state).toLowerCase()}` }, pluginState(i.state)), i.pending ? ` → ${pluginState(i.pending)}` : ''),
        el('td', {}, formatAge((i.uptime_s ?? 0) * 1000)),
        el('td', { className: 'num' }, formatCount(i.calls ?? 0)),
        el('td', { className: 'num' }, formatCount(i.failures ?? 0)),
        el('td', { className: 'error-text' }, i.last_error ?? ''),
      ),
    );
  }
  clear(box).append(grid, el('p', { className: 'muted' }, t('plugins.uptime_total', { uptime: formatAge((status.uptime_s ?? 0) * 1000) })));
}

/** A main line and, under it, a muted detail. */
function twoLines(main, detail) {
  return [el('span', { className: 'main' }, main), detail ? el('span', { className: 'sub' }, detail) : null];
}

/** `user@host:port/db` with places to break a line: after the `@`, before the `/`. */
function breakable(target) {
  return target.split(/(?<=@)|(?=\/)/).flatMap((part, i) => (i ? [el('wbr'), part] : [part]));
}

function renderSinks(box, sinks) {
  if (!sinks.length) {
    clear(box).append(el('p', { className: 'muted', id: 'sinks-empty' }, t('sinks.empty')));
    return;
  }
  const columns = [
    t('sinks.sink'), t('plugins.state'), t('sinks.position'), t('sinks.lag'),
    t('sinks.delivered'), t('sinks.retried'), t('sinks.rejected'), t('sinks.last_success'),
  ];
  const { table: grid, body } = table('sinks-table', columns);
  const now = Date.now();
  for (const s of sinks) {
    const state = String(s.state ?? 'starting');
    const known = s.position !== null && s.position !== undefined;
    const lag = s.lag_records ?? 0;
    const error = s.last_error;
    body.append(
      el(
        'tr',
        {
          className: error ? 'sink with-error' : 'sink',
          dataset: { sink: s.id, state, position: s.position ?? '', lagRecords: lag },
        },
        el(
          'td',
          { className: 'sink-name' },
          el('span', { className: 'main' }, el('strong', {}, s.id), ' ', el('span', { className: 'muted' }, s.plugin)),
          el('span', { className: 'main sink-target' }, breakable(s.target ?? '')),
          el('span', { className: 'sub' }, t('sinks.schema', { schema: s.schema })),
        ),
        el('td', {}, el('span', { className: `plugin-state sink-state state-${state}` }, t(`sink_state.${state}`, {}, state))),
        el('td', { className: 'num sink-position' }, twoLines(formatCount(s.position), known ? t('sinks.of_head', { head: formatCount(s.head) }) : null)),
        el(
          'td',
          { className: 'num sink-lag' },
          // Unknown until the sink has read its position from its database.
          known
            ? twoLines(t(lag === 1 ? 'sinks.record' : 'sinks.records', { n: formatCount(lag) }), formatAge((s.lag_seconds ?? 0) * 1000))
            : '—',
        ),
        el('td', { className: 'num sink-delivered' }, twoLines(formatCount(s.delivered ?? 0), t('sinks.batches', { n: formatCount(s.batches ?? 0) }))),
        el('td', { className: 'num sink-retried' }, formatCount(s.retried ?? 0)),
        el(
          'td',
          { className: `num sink-rejected${s.rejected ? ' warning' : ''}`, title: t('sinks.rejected_hint', { id: s.id }) },
          formatCount(s.rejected ?? 0),
        ),
        el(
          'td',
          { className: 'sink-success' },
          s.last_success_ms
            ? twoLines(formatTime(s.last_success_ms), t('module.ago', { age: formatAge(now - s.last_success_ms) }))
            : el('span', { className: 'muted' }, t('sinks.never')),
        ),
      ),
    );
    if (error) {
      // Kept after a recovery: red while it is the newest news, muted once a batch was written after it.
      const past = s.last_success_ms && s.last_success_ms > error.at_ms;
      body.append(
        el(
          'tr',
          { className: 'sink-error', dataset: { sink: s.id } },
          el(
            'td',
            { colSpan: columns.length },
            el('span', { className: 'sink-error-when' }, t('sinks.last_error', { time: formatTime(error.at_ms) })),
            ' ',
            el('span', { className: past ? 'sink-error-message muted' : 'sink-error-message error-text' }, error.message),
            past ? [' ', el('span', { className: 'muted' }, t('sinks.error_before_success'))] : null,
          ),
        ),
      );
    }
  }
  clear(box).append(grid);
}

function renderSources(box, status) {
  // `/api/v1/status` has the counters by source (`/api/v1/stats` wraps them).
  const counters = status.sources ?? {};
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
        COUNTERS.map((name) => el('td', { className: 'num' }, formatCount(c[name] ?? 0))),
        el('td', { className: 'num' }, rate ? t('plugins.per_s', { n: rate.readings_per_s.toFixed(1) }) : '—'),
      ),
    );
  }
  const balanced = Object.values(counters).every(
    (c) => (c.received ?? 0) === COUNTERS.slice(1).reduce((sum, name) => sum + (c[name] ?? 0), 0),
  );
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
  // The DOM's own append writes a null as "null": the helper skips it.
  append(clear(box), [grid, refused.length ? el('h3', {}, t('plugins.refused')) : null, refused.length ? el('ul', {}, refused) : null]);
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

/** A plugin instance's state (the host's machine name, e.g. `RUNNING`) in the user's language. */
function pluginState(state) {
  const name = String(state).toLowerCase();
  return t(`plugin_state.${name}`, {}, String(state));
}
