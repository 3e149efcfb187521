// The alarm banner under the header of every page: the most severe, newest
// unacknowledged open alarm (red for critical, amber for a warning, blue
// for info) with its meter's name, what happened, since when, how many
// more wait, an «Подтвердить» for dispatchers and a link to the alarms
// page; hidden when every open alarm is acknowledged. Also the navigation
// link's badge of unacknowledged alarms and the page title's count.

import { alarmText, severityName, subjectOf, textNamesSubject } from '../alarms.js';
import { append, clear, el } from '../dom.js';
import { formatTime, formatTimeShort } from '../format.js';
import { onLanguageChange, t } from '../i18n.js';
import { AckControl } from './alarm-ack.js';

/** How long a notice (someone acknowledged it first) stays. */
const NOTICE_MS = 8000;
const TITLE = 'meterhub';

export class AlarmBanner {
  /** Renders into `node`, the badge into `badge`, from `board` (AlarmBoard), naming meters from `tree`. */
  constructor(node, badge, board, tree) {
    this.node = node;
    this.badge = badge;
    this.board = board;
    this.tree = tree;
    this.canAck = false;
    this.control = null;
    this.notice = null;
    this.noticeTimer = null;
    board.addEventListener('change', () => this.render());
    tree.addEventListener('loaded', () => this.render());
    // A notice was said in the language before; the banner itself is rebuilt in the new one.
    onLanguageChange(() => this.showNotice(null));
  }

  /** Whether the user may acknowledge (a dispatcher or up). */
  setCanAck(canAck) {
    this.canAck = canAck;
    this.render();
  }

  /** Forgets everything (a logout). */
  reset() {
    this.control = null;
    this.showNotice(null);
  }

  showNotice(text) {
    this.setNotice(text);
    this.render();
  }

  setNotice(text) {
    clearTimeout(this.noticeTimer);
    this.notice = text;
    if (text) this.noticeTimer = setTimeout(() => this.showNotice(null), NOTICE_MS);
  }

  /** The alarm shown: the one being acknowledged while it waits, else the board's newest. */
  shown() {
    const pinned = this.control?.busy() ? this.board.get(this.control.id) : null;
    if (pinned && !pinned.acknowledged) return pinned;
    return this.board.newest();
  }

  render() {
    // Acknowledged by someone else while the comment was being typed: say who.
    const overtaken = this.control?.overtaken(this.board.get(this.control.id));
    if (overtaken) this.setNotice(overtaken);
    const waiting = this.board.unacknowledged();
    this.renderBadge(waiting);
    const alarm = this.shown();
    // Rebuilt in place: a comment field being typed in keeps its focus.
    const focused = this.node.contains(document.activeElement) ? document.activeElement : null;
    const node = clear(this.node);
    node.hidden = !alarm && !this.notice;
    node.className = `alarm-banner${alarm ? ` severity-${alarm.severity}` : ' notice-only'}`;
    node.dataset.alarm = alarm ? String(alarm.id) : '';
    node.dataset.severity = alarm?.severity ?? '';
    if (alarm) node.append(this.main(alarm, waiting.filter((a) => a.id !== alarm.id).length));
    if (this.notice) node.append(el('div', { className: 'alarm-banner-notice', id: 'alarm-banner-notice' }, this.notice));
    if (focused?.isConnected && document.activeElement !== focused) focused.focus();
  }

  main(alarm, more) {
    const subject = subjectOf(alarm, (id) => this.tree.meter(id)?.metadata?.name ?? null);
    const line = el('div', { className: 'alarm-banner-main' });
    append(line, [
      el('span', { className: 'alarm-banner-severity' }, severityName(alarm.severity)),
      textNamesSubject(alarm)
        ? null
        : el(
          'span',
          { className: 'alarm-banner-subject' },
          subject.label,
          subject.id ? [' ', el('span', { className: 'alarm-banner-id' }, subject.id)] : null,
        ),
      el('span', { className: 'alarm-banner-text', id: 'alarm-banner-text' }, alarmText(alarm)),
      el(
        'span',
        { className: 'alarm-banner-time', title: formatTime(alarm.raised_at_ms) },
        t('alarm.raised_at', { time: formatTimeShort(alarm.raised_at_ms) }),
      ),
      more > 0 ? el('span', { className: 'alarm-banner-more', id: 'alarm-banner-more' }, t('alarm.more', { n: more })) : null,
      el('span', { className: 'alarm-banner-actions' }, this.ackControl(alarm), el('a', { href: '#/alarms', className: 'alarm-banner-link' }, t('alarm.all'))),
    ]);
    return line;
  }

  /** The acknowledge control of `alarm` (kept while it is the one shown, so a comment being typed survives), or null. */
  ackControl(alarm) {
    if (!this.canAck) return null;
    if (this.control?.id !== alarm.id) {
      this.control = new AckControl(alarm.id, this.board, {
        onNotice: (text) => this.showNotice(text),
        onDone: () => this.render(),
      });
    } else {
      this.control.render();
    }
    return this.control.node;
  }

  renderBadge(waiting) {
    const n = waiting.length;
    this.badge.hidden = n === 0;
    this.badge.textContent = String(n);
    this.badge.className = `nav-badge${n ? ` severity-${waiting[0].severity}` : ''}`;
    this.badge.title = t('nav.alarms_badge', { n });
    document.title = n ? `(${n}) ${TITLE}` : TITLE;
  }
}
