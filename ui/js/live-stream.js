// A live stream of readings (docs/api.md, "Live streams") over
// Server-Sent Events: its connection state, resuming, and the
// delivery-quality control requests every Tc.
//
// The browser's EventSource reconnects by itself after a dropped
// connection and sends Last-Event-ID, so the host replays what was
// missed. When the host refuses a reconnection (an HTTP error), the
// EventSource gives up: then this client opens a new stream after a pause,
// resuming with `?last_event_id=` (or reporting a `gap` when it has no
// id yet), unless the session has ended (`closed`) or the subscription is
// refused (`refused`).
//
// Events (EventTarget): `state` (detail: the state), `reading` (a reading),
// `alarm` (an alarm the user may see, as it is now: raised, changed, ended
// or acknowledged), `live` ({resume}), `gap` ({after, through} or
// {reopened: true}), `quality` (the verdict), `closed` ({reason}),
// `refused` ({status, error}).

import { ApiError, post, withQuery } from './api.js';
import { DeliveryQuality } from './delivery-quality.js';

/** Connection states. */
export const State = Object.freeze({
  CONNECTING: 'connecting',
  CONNECTED: 'connected',
  RECONNECTING: 'reconnecting',
  CLOSED: 'closed',
});

const STREAM_PATH = '/api/v1/stream';
const REOPEN_MIN_MS = 1000;
const REOPEN_MAX_MS = 15000;
const TICK_MS = 1000;

export class LiveStream extends EventTarget {
  /** `query`: {tree, device, channel, snapshot} as in docs/api.md. */
  constructor(query) {
    super();
    this.query = query;
    this.state = State.CONNECTING;
    this.source = null;
    this.streamId = null;
    this.quality = null;
    this.controlTimer = null;
    this.tickTimer = null;
    this.reopenTimer = null;
    this.reopenDelay = REOPEN_MIN_MS;
    this.reopened = false;
    this.lastId = null;
    this.stopped = false;
  }

  /** Opens the stream. */
  start() {
    this.stopped = false;
    this.open();
    this.tickTimer = setInterval(() => this.emitQuality(), TICK_MS);
    return this;
  }

  /** Closes the stream for good. */
  stop() {
    this.stopped = true;
    this.closeSource();
    clearInterval(this.tickTimer);
    clearTimeout(this.reopenTimer);
  }

  /** The stream's address; a stream this client reopens resumes from the last event id it got. */
  url() {
    const resume = this.reopened && this.lastId ? { last_event_id: this.lastId } : {};
    return withQuery(STREAM_PATH, { ...this.query, ...resume });
  }

  open() {
    const source = new EventSource(this.url());
    this.source = source;
    this.setState(this.reopened ? State.RECONNECTING : State.CONNECTING);
    const on = (name, handler) =>
      source.addEventListener(name, (event) => {
        if (this.source !== source) return;
        if (event.lastEventId) this.lastId = event.lastEventId;
        handler(event.data ? JSON.parse(event.data) : null, event);
      });
    on('hello', (hello) => this.hello(hello));
    on('reading', (reading) => this.emit('reading', reading));
    on('alarm', (alarm) => this.emit('alarm', alarm));
    on('live', (live) => {
      this.reopenDelay = REOPEN_MIN_MS;
      this.emit('live', live);
    });
    on('gap', (gap) => this.emit('gap', gap));
    on('control', (control) => {
      if (!this.quality) return;
      this.quality.answered(control.ts, Date.now());
      this.emitQuality();
    });
    on('closed', (closed) => {
      this.stop();
      this.setState(State.CLOSED);
      this.emit('closed', closed ?? { reason: 'closed' });
    });
    source.addEventListener('error', () => {
      if (this.source !== source) return;
      this.stopControl();
      if (source.readyState === EventSource.CONNECTING) {
        // The browser retries by itself, with Last-Event-ID.
        this.setState(State.RECONNECTING);
      } else {
        this.refusedReconnect();
      }
    });
  }

  hello(hello) {
    this.streamId = hello.stream;
    this.quality = new DeliveryQuality(hello.control_ms);
    this.setState(State.CONNECTED);
    this.startControl(hello.control_ms);
    this.emitQuality();
    if (this.reopened) {
      // Reopened with the last event id, the host replays what was missed
      // (or sends a gap); without one, what was missed must be reloaded.
      if (!this.lastId) this.emit('gap', { reopened: true });
      this.reopened = false;
    }
  }

  /** The EventSource gave up (the host answered an error): why, then maybe again. */
  async refusedReconnect() {
    this.closeSource();
    this.setState(State.RECONNECTING);
    let status = 0;
    let error = null;
    try {
      const probe = new AbortController();
      const response = await fetch(this.url(), {
        headers: { Accept: 'text/event-stream' },
        credentials: 'same-origin',
        signal: probe.signal,
      });
      status = response.status;
      if (!response.ok) error = (await response.json().catch(() => null))?.error ?? response.statusText;
      probe.abort();
    } catch {
      status = 0;
    }
    if (this.stopped) return;
    if (status === 401) {
      this.stop();
      this.setState(State.CLOSED);
      this.emit('closed', { reason: error ?? 'log in again' });
      return;
    }
    if (status === 403 || status === 400) {
      this.stop();
      this.setState(State.CLOSED);
      this.emit('refused', { status, error });
      return;
    }
    this.reopenTimer = setTimeout(() => {
      if (this.stopped) return;
      this.reopened = true;
      this.open();
    }, this.reopenDelay);
    this.reopenDelay = Math.min(this.reopenDelay * 2, REOPEN_MAX_MS);
  }

  closeSource() {
    this.stopControl();
    if (this.source) this.source.close();
    this.source = null;
  }

  startControl(tc) {
    this.stopControl();
    this.controlTimer = setInterval(() => this.sendControl(), tc);
    this.sendControl();
  }

  stopControl() {
    clearInterval(this.controlTimer);
    this.controlTimer = null;
  }

  async sendControl() {
    const quality = this.quality;
    const stream = this.streamId;
    if (!quality || !stream || this.state !== State.CONNECTED) return;
    const ts = Date.now();
    quality.sent(ts);
    try {
      await post(`${STREAM_PATH}/${encodeURIComponent(stream)}/control`, { ts });
    } catch (e) {
      // 409: one is queued already, its echo will come. A network error:
      // the request never arrived, and the one before it shows as overdue.
      if (e instanceof ApiError && e.status !== 0) quality.dropped(ts);
    }
  }

  emitQuality() {
    if (this.quality && this.state === State.CONNECTED) this.emit('quality', this.quality.verdict(Date.now()));
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}
