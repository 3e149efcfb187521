// Acknowledging an alarm (dispatcher and above), on the banner and the
// alarms page: a button that opens an inline comment field (optional),
// then POST /api/v1/alarms/{id}/ack. When someone acknowledged it first
// (409), the alarm is read again and who did it is said.

import { alarmText } from '../alarms.js';
import { ApiError, get, post, segment } from '../api.js';
import { clear, el } from '../dom.js';
import { formatTimeShort } from '../format.js';
import { t } from '../i18n.js';

/** The longest comment the host keeps, characters. */
const MAX_COMMENT = 1000;

export class AckControl {
  /**
   * For alarm `id`; `board` (AlarmBoard) gets the alarm as the host
   * answers it; `onNotice(text)` hears why an acknowledgement did not go
   * through (the control may be gone by then: the alarm left its place),
   * `onDone()` that the control is a button again.
   */
  constructor(id, board, { onNotice = () => {}, onDone = () => {} } = {}) {
    this.id = id;
    this.board = board;
    this.onNotice = onNotice;
    this.onDone = onDone;
    this.editing = false;
    this.sending = false;
    this.node = el('span', { className: 'alarm-ack', dataset: { alarm: String(id) } });
    this.input = el('input', {
      type: 'text',
      className: 'alarm-ack-comment',
      maxLength: MAX_COMMENT,
      on: { keydown: (e) => e.key === 'Escape' && this.cancel() },
    });
    this.render();
  }

  /** Whether the dispatcher is at it (typing a comment, or sent it): the alarm stays shown meanwhile. */
  busy() {
    return this.editing || this.sending;
  }

  render() {
    const node = clear(this.node);
    if (!this.editing) {
      node.append(el('button', {
        type: 'button',
        className: 'alarm-ack-button',
        on: { click: () => this.open() },
      }, t('alarm.ack')));
      return;
    }
    this.input.placeholder = t('alarm.ack_comment');
    this.input.setAttribute('aria-label', t('alarm.ack_comment'));
    this.input.disabled = this.sending;
    node.append(el(
      'form',
      { className: 'alarm-ack-form', on: { submit: (e) => this.submit(e) } },
      this.input,
      el('button', { type: 'submit', className: 'alarm-ack-send', disabled: this.sending }, this.sending ? t('alarm.ack_sending') : t('alarm.ack_send')),
      el('button', { type: 'button', className: 'alarm-ack-cancel', disabled: this.sending, on: { click: () => this.cancel() } }, t('alarm.ack_cancel')),
    ));
  }

  /**
   * What to say when `alarm` (this control's, as the board has it now;
   * undefined when it left the board) was acknowledged or closed by
   * someone else while a comment was being typed; the control is a button
   * again then. Null when it was not.
   */
  overtaken(alarm) {
    if (!this.editing || this.sending || (alarm && !alarm.acknowledged)) return null;
    this.editing = false;
    this.input.value = '';
    this.render();
    return alarm ? already(alarm) : t('alarm.ack_closed');
  }

  open() {
    this.editing = true;
    this.render();
    this.input.focus();
  }

  cancel() {
    if (this.sending) return;
    this.editing = false;
    this.input.value = '';
    this.render();
    this.onDone();
  }

  async submit(event) {
    event.preventDefault();
    if (this.sending) return;
    this.sending = true;
    this.render();
    const comment = this.input.value.trim();
    let answer = null;
    let notice = null;
    try {
      answer = await post(`/api/v1/alarms/${segment(this.id)}/ack`, comment ? { comment } : {});
    } catch (e) {
      notice = await this.why(e);
    }
    this.sending = false;
    this.editing = false;
    this.input.value = '';
    this.render();
    if (answer) this.board.put(answer);
    this.onDone();
    if (notice) this.onNotice(notice);
  }

  /** What to say about a refused acknowledgement; the board learns the alarm as it is now. */
  async why(e) {
    if (!(e instanceof ApiError) || e.status === 0) return t('error.failed', { error: e.message });
    const code = e.body?.code;
    if (e.status === 409) {
      const now = await this.reread();
      if (code === 'alarm_acknowledged' && now?.acknowledged) return already(now);
      if (code === 'alarm_closed') return now ? t('alarm.ack_closed_what', { what: alarmText(now) }) : t('alarm.ack_closed');
      return t('alarm.ack_already_someone');
    }
    if (e.status === 404) {
      this.board.load();
      return t('alarm.ack_gone');
    }
    if (e.status === 403) return t('alarm.ack_forbidden');
    return t('error.failed', { error: e.message });
  }

  /** The alarm read again (put on the board), or null. */
  async reread() {
    try {
      const alarm = await get(`/api/v1/alarms/${segment(this.id)}`);
      this.board.put(alarm);
      return alarm;
    } catch {
      this.board.load();
      return null;
    }
  }
}

/** Who acknowledged `alarm` first, and when, naming the alarm. */
function already(alarm) {
  const { by, at_ms: at } = alarm.acknowledged;
  return t('alarm.ack_already_what', { what: alarmText(alarm), by, time: formatTimeShort(at) });
}
