// Delivery-quality control (docs/api.md, "Live streams"): every Tc the
// client sends its clock Ts; the host queues the echo behind the data it
// already queued; at its arrival Tr the one-way delivery time is
// T3 = (Tr - Ts) / 2, late when 2·T3 > Tc. An answer not back after Tc is
// late too, before it arrives.

/** T3: the one-way delivery time of a control frame sent at `ts`, received at `tr` (ms). */
export function oneWayDelay(ts, tr) {
  return (tr - ts) / 2;
}

/** Whether a delivery time `t3` is late for the control period `tc`: 2·T3 > Tc. */
export function isLate(t3, tc) {
  return 2 * t3 > tc;
}

/** The control state of one stream. */
export class DeliveryQuality {
  constructor(tc) {
    this.tc = tc;
    this.t3 = null;
    this.late = false;
    this.outstanding = [];
  }

  /** A control request with clock `ts` was sent. */
  sent(ts) {
    this.outstanding.push(ts);
  }

  /** The host refused the request `ts` (one is queued already: 409) or it never arrived. */
  dropped(ts) {
    this.outstanding = this.outstanding.filter((t) => t !== ts);
  }

  /** The echo of `ts` arrived at `tr`; requests older than it will not be answered. */
  answered(ts, tr) {
    this.t3 = oneWayDelay(ts, tr);
    this.late = isLate(this.t3, this.tc);
    this.outstanding = this.outstanding.filter((t) => t > ts);
  }

  /** How long the oldest unanswered request has waited at `now`, ms (0 when none). */
  waiting(now) {
    return this.outstanding.length ? now - Math.min(...this.outstanding) : 0;
  }

  /** What to show at `now`: T3, and whether to warn (a late answer, or one overdue). */
  verdict(now) {
    const waiting = this.waiting(now);
    const overdue = waiting > this.tc;
    return { t3: this.t3, tc: this.tc, late: this.late || overdue, overdue, waiting };
  }
}
