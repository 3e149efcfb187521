// The connection state of a live stream (connected / reconnecting /
// closed) and its delivery quality: T3, and a warning when the control
// answer is late (2·T3 > Tc) or has not come back within Tc.

import { el, clear } from '../dom.js';
import { formatMs } from '../format.js';
import { t, onLanguageChange } from '../i18n.js';

export class StreamIndicator {
  /** Renders into `container`; `idPrefix` names its parts for tests (`stream`). */
  constructor(container, idPrefix) {
    this.container = container;
    this.idPrefix = idPrefix;
    this.state = 'connecting';
    this.verdict = null;
    this.source = null;
    this.handlers = {
      state: (e) => this.setState(e.detail),
      quality: (e) => this.setVerdict(e.detail),
    };
    this.unlisten = onLanguageChange(() => this.render());
    this.render();
  }

  /** Shows the stream (or LiveValues) `source`. */
  attach(source) {
    this.detach();
    this.source = source;
    for (const [name, handler] of Object.entries(this.handlers)) source.addEventListener(name, handler);
    this.setState(source.stream?.state ?? source.state ?? 'connecting');
  }

  detach() {
    if (!this.source) return;
    for (const [name, handler] of Object.entries(this.handlers)) this.source.removeEventListener(name, handler);
    this.source = null;
  }

  /** Stops listening for good. */
  destroy() {
    this.detach();
    this.unlisten();
  }

  setState(state) {
    this.state = state;
    if (state !== 'connected') this.verdict = null;
    this.render();
  }

  setVerdict(verdict) {
    this.verdict = verdict;
    this.render();
  }

  render() {
    const v = this.verdict;
    const state = el(
      'span',
      { className: `stream-state state-${this.state}`, id: `${this.idPrefix}-state`, dataset: { state: this.state } },
      t(`stream.${this.state}`),
    );
    let quality;
    if (v) {
      let text = t('quality.t3', { t3: v.t3 === null ? '…' : formatMs(v.t3) });
      if (v.overdue) text += ` · ${t('quality.overdue', { waiting: formatMs(v.waiting) })}`;
      else if (v.late) text += ` · ${t('quality.late')}`;
      quality = el(
        'span',
        {
          className: `delivery-quality${v.late ? ' late' : ''}`,
          id: `${this.idPrefix}-quality`,
          title: t('quality.explain', { tc: formatMs(v.tc) }),
          dataset: { late: String(v.late), t3: v.t3 === null ? '' : String(v.t3) },
        },
        text,
      );
    }
    clear(this.container).append(state, quality ?? '');
  }
}
