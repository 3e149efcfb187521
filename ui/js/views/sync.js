// The sync page (dispatcher and above), the Gasserver's replacement: is
// every site in sync with the monitoring center? A summary line, then this
// host's links to its centers (as a site) and the sites it takes data from
// (as a center), one row per link with its state green, amber or red, its
// lag, its last batch and its last error. `GET /api/v1/sync` every 2 s
// while shown (docs/sync.md).

import { request } from '../api.js';
import { append, clear, el, table } from '../dom.js';
import {
  formatBytes, formatCount, formatDay, formatDecimal, formatDuration, formatOffset, formatTime, formatTimeShort,
} from '../format.js';
import { t } from '../i18n.js';

const REFRESH_MS = 2000;
/** The differing meter days a check's note names (the rest are counted). */
const CHECK_LISTED = 3;
/** The states, best first. */
export const STATES = ['in_sync', 'catching_up', 'stalled', 'down'];

/** The view; returns its cleanup. */
export function syncView(container) {
  const summary = el('p', { id: 'sync-summary', className: 'sync-summary' });
  const updated = el('span', { className: 'muted' });
  const error = el('p', { className: 'error', hidden: true });
  const empty = el('p', { id: 'sync-empty', className: 'card sync-empty', hidden: true }, emptyHint());
  const links = el('div', { id: 'sync-links' });
  const sites = el('div', { id: 'sync-sites' });
  const linksCard = el(
    'section',
    { className: 'card', id: 'sync-links-card', hidden: true },
    el('h2', { id: 'sync-links-title' }, t('sync.links'), ' ', el('span', { className: 'h2-hint muted' }, t('sync.links_hint'))),
    links,
  );
  const sitesCard = el(
    'section',
    { className: 'card', id: 'sync-sites-card', hidden: true },
    el('h2', { id: 'sync-sites-title' }, t('sync.sites'), ' ', el('span', { className: 'h2-hint muted' }, t('sync.sites_hint'))),
    sites,
  );
  container.append(
    el('div', { className: 'view-head' }, el('h1', {}, t('sync.title')), updated),
    summary,
    error,
    empty,
    linksCard,
    sitesCard,
  );

  let busy = false;
  let stopped = false;
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const answer = await request('GET', '/api/v1/sync');
      if (stopped) return;
      const linkList = answer?.links ?? [];
      const siteList = answer?.sites ?? [];
      error.hidden = true;
      const now = Date.now();
      renderSummary(summary, linkList, siteList);
      // A host is usually one or the other: a section shows only when it
      // has a row, the hint only when neither has.
      empty.hidden = linkList.length > 0 || siteList.length > 0;
      linksCard.hidden = linkList.length === 0;
      sitesCard.hidden = siteList.length === 0;
      renderLinks(links, linkList, now);
      renderSites(sites, siteList, now);
      updated.textContent = t('plugins.updated', { time: formatTimeShort(now, now) });
    } catch (e) {
      if (stopped) return;
      error.hidden = false;
      error.textContent = t('error.failed', { error: e.message });
    } finally {
      busy = false;
    }
  }

  refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** How many of `states` are in each state, and the worst of them. */
export function tally(states) {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const state of states) if (state in counts) counts[state] += 1;
  const worst = [...STATES].reverse().find((s) => counts[s] > 0) ?? null;
  return { total: states.length, counts, worst };
}

/** «Сайтов: 2 · в синхроне 1 · догоняют 0 · стоят 1 · нет связи 0». */
function renderSummary(box, links, sites) {
  const { total, counts, worst } = tally([...links.map((l) => l.state), ...sites.map((s) => s.state)]);
  clear(box);
  if (!total) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const noun = !links.length ? 'sync.summary_sites' : !sites.length ? 'sync.summary_links' : 'sync.summary_all';
  box.dataset.state = worst;
  box.dataset.total = String(total);
  const parts = [el('strong', {}, t(noun, { n: formatCount(total) }))];
  for (const state of STATES) {
    box.dataset[camel(state)] = String(counts[state]);
    const n = counts[state];
    const className = n ? `sync-count count-${state}` : 'sync-count muted';
    parts.push(' · ', el('span', { className }, t(`sync.count.${state}`, { n: formatCount(n) })));
  }
  box.append(...parts);
}

function camel(name) {
  return name.replace(/_(\w)/g, (_, c) => c.toUpperCase());
}

/** The empty page's hint with the two config tables as code. */
function emptyHint() {
  const code = { sink: '[sinks.<id>] kind = "sync-center"', site: '[center.sites.<site>]' };
  // The template with its `{sink}` and `{site}` left in, split around them.
  return t('sync.empty').split(/\{(\w+)\}/).map((part, i) => (i % 2 ? el('code', {}, code[part] ?? part) : part));
}

/** The state's badge: green, amber or red. */
function badge(state) {
  return el('span', { className: `sync-state state-${state}` }, t(`sync_state.${state}`, {}, state));
}

/** A main line and, under it, a muted detail. */
function twoLines(main, detail) {
  return [el('span', { className: 'main' }, main), detail ? el('span', { className: 'sub' }, detail) : null];
}

/** A time (of day, when today's; the full time in its title) and how long ago, or "never". */
function when(ms, now) {
  return ms
    ? [
      el('span', { className: 'main', title: formatTime(ms) }, formatTimeShort(ms, now)),
      el('span', { className: 'sub' }, t('sync.ago', { age: formatDuration(Math.max(0, now - ms) / 1000) })),
    ]
    : el('span', { className: 'muted' }, t('sync.never'));
}

/** Records and age behind. */
function lag(records, seconds) {
  const count = t(records === 1 ? 'sinks.record' : 'sinks.records', { n: formatCount(records ?? 0) });
  return twoLines(count, formatDuration(seconds ?? 0));
}

/**
 * Where a link sends: the center's URL (with a place to break it after
 * `//`) and the site's name there, in the reader's language.
 */
function linkTarget(sink) {
  const url = sink.center?.url ?? String(sink.target ?? '');
  const parts = url.split(/(?<=\/\/)/).flatMap((part, i) => (i ? [el('wbr'), part] : [part]));
  return sink.center ? [...parts, ' · ', t('sync.as_site', { site: sink.center.site })] : parts;
}

/** The full-width row under a link with its last error (kept after a recovery, muted once a batch went through after it). */
function errorRow(columns, error, lastSuccess) {
  const past = lastSuccess && lastSuccess > error.at_ms;
  return el(
    'tr',
    { className: 'sync-note sync-error' },
    el(
      'td',
      { colSpan: columns },
      el('span', { className: 'sync-error-when' }, t('sync.last_error', { time: formatTimeShort(error.at_ms) })),
      ' ',
      el('span', { className: past ? 'sync-error-message muted' : 'sync-error-message error-text' }, error.message),
      past ? [' ', el('span', { className: 'muted' }, t('sync.error_before_success'))] : null,
    ),
  );
}

/** A row's notes carry its state's stripe and its alarm's background. */
function markNotes(notes, state, alarm) {
  for (const note of notes) {
    note.classList.add(`note-${state}`);
    if (alarm) note.classList.add('alarm');
  }
}

/** Why a link at a site is in its state, when the state alone does not say. */
function linkReason(state, sink, now) {
  if (state === 'stalled' && sink.in_flight_since_ms) {
    return t('sync.no_answer', { age: formatDuration(Math.max(0, now - sink.in_flight_since_ms) / 1000) });
  }
  if (sink.state === 'retrying') return t(sink.failure === 'unavailable' ? 'sync.unavailable' : 'sync.refused');
  if (state === 'down' && sink.state !== 'running') return t(`sink_state.${sink.state}`, {}, sink.state);
  return null;
}

function renderLinks(box, links, now) {
  const columns = [
    t('sync.link'), t('sync.state'), t('sync.lag'), t('sync.last_success'), t('sync.delivered'), t('sync.rate'),
  ];
  const { table: grid, body } = table('sync-table sync-links-table', columns);
  for (const link of links) {
    const sink = link.sink ?? {};
    const state = String(link.state ?? 'down');
    const known = sink.position !== null && sink.position !== undefined;
    const reason = linkReason(state, sink, now);
    const alarm = sink.alarm
      ? t('sync.alarm_lag', {
        since: formatTimeShort(sink.alarm.since_ms, now),
        limit: formatDuration(sink.alarm.limit_seconds),
      })
      : null;
    const notes = [];
    if (sink.last_error) notes.push(errorRow(columns.length, sink.last_error, sink.last_success_ms));
    if (sink.last_check) notes.push(checkRow(columns.length, sink.last_check));
    markNotes(notes, state, alarm);
    append(body, [
      el(
        'tr',
        {
          className: `sync-row sync-link${notes.length ? ' with-note' : ''}${alarm ? ' alarm' : ''}`,
          dataset: { site: sink.id ?? '', state, lagRecords: String(sink.lag_records ?? 0) },
        },
        el(
          'td',
          { className: 'sync-name' },
          el('span', { className: 'main' }, el('strong', {}, sink.id ?? '')),
          el('span', { className: 'sub sync-target', title: sink.target ?? '' }, linkTarget(sink)),
        ),
        el(
          'td',
          { className: 'sync-state-cell' },
          badge(state),
          reason ? el('span', { className: 'sub sync-reason' }, reason) : null,
          alarm ? el('span', { className: 'sub sync-alarm' }, alarm) : null,
        ),
        // Unknown until the link has asked the center where it stands.
        el('td', { className: 'num sync-lag' }, known ? lag(sink.lag_records, sink.lag_seconds) : '—'),
        el('td', { className: 'sync-when' }, when(sink.last_success_ms, now)),
        el(
          'td',
          { className: 'num sync-delivered' },
          twoLines(formatCount(sink.delivered ?? 0), t('sync.batches', { n: formatCount(sink.batches ?? 0) })),
        ),
        el(
          'td',
          { className: `num sync-rate${sink.rate_rps > 0 && state !== 'down' ? '' : ' muted'}` },
          twoLines(
            t('sync.records_per_s', { n: formatDecimal(sink.rate_rps ?? 0, 1) }),
            // A time to catch up only while the link moves.
            state !== 'catching_up' || sink.eta_seconds === null || sink.eta_seconds === undefined
              ? null
              : t('sync.eta_in', { eta: formatDuration(sink.eta_seconds) }),
          ),
        ),
      ),
      notes,
    ]);
  }
  clear(box).append(grid);
}

/**
 * The site's alarm in the reader's language (the host's text in its
 * title): silent too long, or behind more than allowed.
 */
function siteAlarm(site, now) {
  const alarm = site.alarm;
  if (!alarm) return null;
  let text;
  if (alarm.kind === 'lag') text = t('sync.alarm_behind', { lag: formatDuration(alarm.seconds) });
  else if (site.last_contact_ms) {
    text = t('sync.alarm_silent', { age: formatDuration(Math.max(0, now - site.last_contact_ms) / 1000) });
  } else text = t('sync.alarm_never');
  return el('span', { className: 'sub sync-alarm', title: alarm.message ?? '' }, text);
}

/** A UTC day `YYYY-MM-DD` in the language's date format (as it is when it is not one). */
function isoDay(text) {
  const found = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(text ?? ''));
  return found ? formatDay(Date.UTC(Number(found[1]), Number(found[2]) - 1, Number(found[3]))) : String(text ?? '');
}

/** The readings one end holds of a differing meter day. */
function held(side) {
  return side ? formatCount(side.count) : t('sync.check_nothing');
}

/**
 * The last consistency check (docs/sync.md) as a note row: muted when both
 * ends hold the same, red with the first differing meter days when not.
 */
function checkRow(columns, check) {
  const span = { from: formatDay(check.from_ms), to: formatDay(check.to_ms - 1) };
  const when = formatTimeShort(check.at_ms);
  if (!check.different) {
    return el(
      'tr',
      { className: 'sync-note sync-check', dataset: { different: '0' } },
      el(
        'td',
        { colSpan: columns, className: 'muted' },
        t('sync.check_clean', { time: when, ...span, days: formatCount(check.days), n: formatCount(check.readings) }),
      ),
    );
  }
  const listed = (check.differences ?? []).slice(0, CHECK_LISTED).map((d) =>
    t('sync.check_difference', { meter: d.meter, day: isoDay(d.day), site: held(d.site), center: held(d.center) }),
  );
  const more = check.different > listed.length ? t('sync.check_more', { n: formatCount(check.different - listed.length) }) : null;
  return el(
    'tr',
    { className: 'sync-note sync-check', dataset: { different: String(check.different) } },
    el(
      'td',
      { colSpan: columns },
      el('span', { className: 'sync-error-when' }, t('sync.check_at', { time: when, ...span })),
      ' ',
      el('strong', { className: 'error-text' }, t('sync.check_different', { n: formatCount(check.different), days: formatCount(check.days) })),
      ' ',
      el('span', { className: 'error-text' }, [listed.join('; '), more].filter(Boolean).join('; ')),
    ),
  );
}

function renderSites(box, sites, now) {
  const columns = [
    t('sync.site'), t('sync.state'), t('sync.lag'), t('sync.last_contact'), t('sync.last_batch'),
    t('sync.readings'), t('sync.throughput'), t('sync.eta'),
  ];
  const { table: grid, body } = table('sync-table sync-sites-table', columns);
  for (const site of sites) {
    const state = String(site.state ?? 'down');
    const notes = [];
    if (site.warning) {
      notes.push(
        el(
          'tr',
          { className: 'sync-note sync-warning' },
          el(
            'td',
            { colSpan: columns.length, title: site.warning },
            t('sync.clock', { offset: formatOffset(site.clock_offset_ms) }),
          ),
        ),
      );
    }
    if (site.unreadable) {
      notes.push(
        el(
          'tr',
          { className: 'sync-note sync-warning' },
          el('td', { colSpan: columns.length }, t('sync.unreadable', { n: formatCount(site.unreadable) })),
        ),
      );
    }
    if (site.last_error) notes.push(errorRow(columns.length, site.last_error, site.last_batch_ms));
    if (site.last_check) notes.push(checkRow(columns.length, site.last_check));
    const alarm = siteAlarm(site, now);
    markNotes(notes, state, alarm);
    // The rate is the last minute's: muted once the link is down or nothing moves.
    const moving = site.throughput_rps > 0 && state !== 'down';
    append(body, [
      el(
        'tr',
        {
          className: `sync-row sync-site${notes.length ? ' with-note' : ''}${alarm ? ' alarm' : ''}`,
          dataset: { site: site.site ?? '', state, lagRecords: String(site.lag_records ?? 0) },
        },
        el('td', { className: 'sync-name' }, el('strong', {}, site.site ?? '')),
        el('td', { className: 'sync-state-cell' }, badge(state), alarm),
        el('td', { className: 'num sync-lag' }, lag(site.lag_records, site.lag_seconds)),
        el('td', { className: 'sync-when sync-contact' }, when(site.last_contact_ms, now)),
        el('td', { className: 'sync-when sync-batch' }, when(site.last_batch_ms, now)),
        el(
          'td',
          { className: 'num sync-readings' },
          twoLines(
            formatCount(site.readings ?? 0),
            t('sync.batches_bytes', { n: formatCount(site.batches ?? 0), bytes: formatBytes(site.bytes ?? 0) }),
          ),
        ),
        el(
          'td',
          { className: `num sync-throughput${moving ? '' : ' muted'}` },
          t('sync.per_s', { n: formatDecimal(site.throughput_rps ?? 0, 1) }),
        ),
        // Unknown while nothing moves.
        el('td', { className: 'num sync-eta' }, state === 'catching_up' ? formatDuration(site.eta_seconds) : '—'),
      ),
      notes,
    ]);
  }
  clear(box).append(grid);
}
