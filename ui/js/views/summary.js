// The summary strip under the header of every page: meters and modules per
// state ("Счётчики: 33 на связи · 1 молчит; сегодня 33 из 34"), from
// GET /api/v1/board, read again each time the navigation tree reloads
// (every few seconds, and when the stream brings a new meter).

import { get } from '../api.js';
import { append, clear, el } from '../dom.js';
import { formatCount } from '../format.js';
import { t } from '../i18n.js';
import { STATE_ORDER } from './live-table.js';

export class SummaryStrip {
  /** Into `node`. */
  constructor(node) {
    this.node = node;
    this.board = null;
    this.failed = null;
  }

  /** Forgets what it showed (a logout). */
  reset() {
    this.board = null;
    clear(this.node);
  }

  async load() {
    try {
      this.board = await get('/api/v1/board');
      this.failed = null;
    } catch (e) {
      this.failed = e.message;
    }
    this.render();
  }

  render() {
    const node = clear(this.node);
    if (this.failed) {
      node.append(el('span', { className: 'error' }, t('error.failed', { error: this.failed })));
      return;
    }
    const b = this.board;
    if (!b) return;
    append(node, [
      group('summary-meters', t('summary.meters', { n: formatCount(b.meters.total) }), b.meters.counts),
      b.meters.reported_today === null || b.meters.reported_today === undefined
        ? null
        : el(
          'span',
          { className: 'summary-today', id: 'summary-today' },
          t('summary.today', { n: formatCount(b.meters.reported_today), total: formatCount(b.meters.total) }),
        ),
      b.modules.total ? group('summary-modules', t('summary.modules', { n: formatCount(b.modules.total) }), b.modules.counts) : null,
    ]);
  }
}

/** "Счётчики (34):" then each non-zero state as a coloured count. */
function group(id, title, counts) {
  const parts = STATE_ORDER.filter((s) => counts[s] > 0).map((s) =>
    el('span', { className: `summary-state state-${s}`, dataset: { state: s } }, `${formatCount(counts[s])} ${t(`state.${s}`)}`));
  return el('span', { className: 'summary-group', id }, el('span', { className: 'summary-title' }, title), parts);
}
