// The latest value of every signal (device/channel) the user may see, kept
// from the one global stream (`tree=*` with a snapshot): what the live
// table shows and the header's indicator watches. It passes the stream's
// `state`, `quality`, `closed`, `refused`, `alarm` and `gap` events on,
// from whichever stream is current (the alarm board follows the alarms of
// this one stream).

import { LiveStream } from './live-stream.js';

const PASSED_ON = ['state', 'quality', 'closed', 'refused', 'alarm', 'gap'];

/** A signal's key. */
export function signalKey(reading) {
  return `${reading.device}\u0000${reading.channel}`;
}

/** Whether `reading` is the signal's latest value rather than `known`. */
export function supersedes(reading, known) {
  const trusted = !reading.clock_ahead;
  if (trusted !== !known.clock_ahead) return trusted;
  return reading.ts_ms >= known.ts_ms;
}

export class LiveValues extends EventTarget {
  constructor() {
    super();
    this.values = new Map();
    this.stream = null;
  }

  /** Opens the global stream. */
  start() {
    this.values.clear();
    this.openStream();
  }

  /** Closes it. */
  stop() {
    if (this.stream) this.stream.stop();
    this.stream = null;
  }

  openStream() {
    this.stop();
    const stream = new LiveStream({ tree: '*', snapshot: true });
    for (const name of PASSED_ON) {
      stream.addEventListener(name, (e) => this.emit(name, e.detail));
    }
    stream.addEventListener('reading', (e) => this.put(e.detail));
    stream.addEventListener('gap', (e) => {
      // Too much missed to replay: a new stream brings a new snapshot. (A
      // stream the client reopened itself asked for one already.)
      if (!e.detail?.reopened) this.openStream();
    });
    this.stream = stream.start();
    this.emit('state', stream.state);
  }

  /**
   * A reading: kept unless older than the value it would replace. One the
   * host flagged as stamped by a device clock running ahead
   * (`clock_ahead`) never replaces a trustworthy value, and any
   * trustworthy one replaces it: a clock ahead must not hide newer data.
   */
  put(reading) {
    const key = signalKey(reading);
    const known = this.values.get(key);
    if (known && !supersedes(reading, known)) return;
    this.values.set(key, reading);
    this.emit('change', { reading, isNew: !known });
  }

  /** Every value, by device then channel. */
  sorted() {
    return [...this.values.values()].sort(
      (a, b) => a.device.localeCompare(b.device) || a.channel.localeCompare(b.channel),
    );
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}
