// A diagram's actions at work (docs/diagrams.md, "Actions"): what each
// primitive looks like now, from its look as drawn and the actions whose
// producers hold.
//
// Two kinds of producer:
// - conditions on data (a signal's latest reading) and on an object's
//   properties hold or do not: while one holds, its action applies on top of
//   the drawing, and when it no longer holds the element looks as before
//   (a pressure back in range is no longer red);
// - events (a click, the diagram opening) happen once: their action
//   changes the drawing itself, as a dispatcher's click would.
// Later actions apply over earlier ones; an object's own actions come
// before the diagram's. A signal the user may not see (`hidden`) never
// makes an action hold, and the values it would show are blank.

import { Kind, NONE, colour, primitivesOf } from './scene.js';

/** The default way a value is shown: as read, with its unit. */
function plainFormat(value, { decimals, unit }) {
  if (value === undefined || value === null) return '';
  const text = decimals === undefined || Number.isNaN(Number(value)) ? String(value) : Number(value).toFixed(decimals);
  return unit ? `${text} ${unit}` : text;
}

function truth(text) {
  const t = String(text).trim().toLowerCase();
  if (t === 'true') return 1;
  if (t === 'false') return 0;
  return t;
}

/** Whether `value` equals `expected`: as numbers when both are (true is 1, false 0), else as text. */
export function equalValue(value, expected) {
  const [a, b] = [truth(value), truth(expected)];
  const [x, y] = [Number(a), Number(b)];
  if (a !== '' && b !== '' && !Number.isNaN(x) && !Number.isNaN(y)) return x === y;
  return String(a) === String(b);
}

/**
 * Whether `when` holds of `value`; `seen`: the reading (for `flagged`) and
 * when it came (for `stale`), `now` in ms.
 */
export function holds(when, value, seen, now) {
  switch (when.is) {
    case 'any':
      return value !== undefined;
    case 'above':
      return value !== undefined && Number(value) > when.value;
    case 'below':
      return value !== undefined && Number(value) < when.value;
    case 'equal':
      return value !== undefined && equalValue(value, when.value);
    case 'range':
      return value !== undefined && Number(value) >= when.min && Number(value) <= when.max;
    case 'stale':
      return !seen || now - seen.at > when.seconds * 1000;
    case 'flagged':
      return Boolean(seen?.reading?.conflict || seen?.reading?.clock_ahead);
    default:
      return false;
  }
}

const EDGE = new Set(['user', 'open']);

export class Runtime {
  /**
   * `diagram`: the compiled form; `scene`: its primitives (scene.js);
   * `hidden`: indexes of the signals the user may not see; `format(value,
   * {decimals, unit, readingUnit})`: a value as shown.
   */
  constructor(diagram, scene, { hidden = [], format = plainFormat } = {}) {
    this.diagram = diagram;
    this.scene = scene;
    this.format = format;
    this.hidden = new Set(hidden);
    /** Every primitive's look as drawn (events change it), and now (with the conditions that hold). */
    this.base = drawnLook(scene);
    this.now = drawnLook(scene);
    /** Text primitive -> its text as drawn, and now. */
    this.baseText = new Map(scene.texts.map((t) => [t.prim, t.text]));
    this.text = new Map(this.baseText);
    /** Instance -> property overrides set by events. */
    this.propsSet = scene.instances.map(() => ({}));
    this.dirty = new Set();
    this.blinking = 0;
    /** Signal -> {reading, at}. */
    this.seen = new Map();
    this.signalIndex = new Map((diagram.signals ?? []).map((s, i) => [`${s.device}\u0000${s.channel}`, i]));
    this.featurePrims = null;
    this.rules = [];
    this.compile();
  }

  /** The index of signal `device`/`channel`, or undefined. */
  signal(device, channel) {
    return this.signalIndex.get(`${device}\u0000${channel}`);
  }

  compile() {
    const byData = new Map();
    const byUser = new Map();
    this.byData = byData;
    this.byUser = byUser;
    this.opening = [];
    /** Instance -> its property rules; its set_property rules. */
    this.propertyRules = this.scene.instances.map(() => []);
    this.setRules = this.scene.instances.map(() => []);
    // An object's own actions first, for each of its instances.
    this.scene.instances.forEach((instance, k) => {
      const object = this.diagram.objects?.[instance.object];
      for (const action of object?.actions ?? []) this.add(action, k);
    });
    for (const action of this.diagram.actions ?? []) this.add(action, -1);
    this.rulesOn = new Map();
    for (const rule of this.rules) {
      if (EDGE.has(rule.producer.on)) continue;
      for (const p of rule.prims) {
        if (!this.rulesOn.has(p)) this.rulesOn.set(p, []);
        this.rulesOn.get(p).push(rule);
      }
      if (rule.effect.do === 'set_property') for (const k of rule.instances) this.setRules[k].push(rule);
    }
    // A value the user may not see is blank from the start.
    for (const [index, rules] of byData) {
      if (!this.hidden.has(index)) continue;
      for (const rule of rules) {
        if (rule.effect.do !== 'show_value') continue;
        for (const p of rule.prims) {
          if (!this.baseText.has(p)) continue;
          this.baseText.set(p, '');
          this.text.set(p, '');
        }
      }
    }
    this.scene.instances.forEach((_, k) => this.evaluateInstance(k));
  }

  add(action, instance) {
    const rule = {
      order: this.rules.length,
      producer: action.producer,
      effect: action,
      instance,
      active: false,
      value: undefined,
      readingUnit: undefined,
      prims: this.targets(action.target, instance),
      instances: this.targetInstances(action.target, instance),
    };
    this.rules.push(rule);
    const p = action.producer;
    const push = (map, key) => {
      if (!map.has(key)) map.set(key, []);
      map.get(key).push(rule);
    };
    if (p.on === 'data') push(this.byData, p.signal);
    else if (p.on === 'user') push(this.byUser, instance < 0 ? `${p.event}:${p.element}` : `${p.event}:${instance}:${p.element}`);
    else if (p.on === 'property' && instance >= 0) this.propertyRules[instance].push(rule);
    else if (p.on === 'open') this.opening.push(rule);
  }

  /** The primitives an action's target names, in its scope. */
  targets(target, instance) {
    if (target.to === 'element') {
      if (instance >= 0) {
        const inst = this.scene.instances[instance];
        const p = inst.first + target.element - 1;
        return p < inst.end ? [p] : [];
      }
      const [first, end] = primitivesOf(this.scene, target.element);
      return Array.from({ length: end - first }, (_, i) => first + i);
    }
    if (target.to === 'feature') {
      const all = this.withFeature(target.feature);
      if (instance < 0) return all;
      const inst = this.scene.instances[instance];
      return all.filter((p) => p >= inst.first && p < inst.end);
    }
    return [];
  }

  /** The object instances an action's target names (for set_property). */
  targetInstances(target, instance) {
    if (instance >= 0 || target.to !== 'element') return [];
    const k = this.scene.instances.findIndex((i) => i.ordinal === target.element);
    return k < 0 ? [] : [k];
  }

  withFeature(feature) {
    if (!this.featurePrims) {
      this.featurePrims = new Map();
      this.scene.features.forEach((list, p) => {
        for (const f of list) {
          if (!this.featurePrims.has(f)) this.featurePrims.set(f, []);
          this.featurePrims.get(f).push(p);
        }
      });
    }
    return this.featurePrims.get(feature) ?? [];
  }

  /** A reading of signal `index` (the user may see it). */
  reading(index, reading, at = Date.now()) {
    if (this.hidden.has(index)) return;
    this.seen.set(index, { reading, at });
    for (const rule of this.byData.get(index) ?? []) {
      this.judge(rule, reading.value, this.seen.get(index), at, reading.unit);
    }
  }

  /** Time passed: conditions on staleness judged again. */
  tick(now = Date.now()) {
    for (const [index, rules] of this.byData) {
      if (this.hidden.has(index)) continue;
      const seen = this.seen.get(index);
      for (const rule of rules) {
        if (rule.producer.when.is === 'stale') this.judge(rule, seen?.reading?.value, seen, now, seen?.reading?.unit);
      }
    }
  }

  judge(rule, value, seen, now, unit) {
    const active = holds(rule.producer.when, value, seen, now);
    if (active === rule.active && (!active || (rule.value === value && rule.readingUnit === unit))) return;
    rule.active = active;
    rule.value = value;
    rule.readingUnit = unit;
    this.touch(rule);
  }

  /** A rule's targets look different now. */
  touch(rule) {
    for (const p of rule.prims) this.dirty.add(p);
    for (const k of rule.instances) this.evaluateInstance(k);
  }

  /** An instance's properties now: its object's, its own, events', then the rules'. */
  props(k) {
    const instance = this.scene.instances[k];
    const object = this.diagram.objects?.[instance.object];
    const props = {};
    for (const p of object?.properties ?? []) props[p.name] = p.value;
    Object.assign(props, instance.props, this.propsSet[k]);
    for (const rule of this.setRules[k]) {
      if (rule.active) props[rule.effect.name] = rule.effect.value ?? rule.value;
    }
    return props;
  }

  evaluateInstance(k) {
    const props = this.props(k);
    for (const rule of this.propertyRules[k]) {
      this.judge(rule, props[rule.producer.property], undefined, 0, undefined);
    }
  }

  /**
   * A user's `event` (`click`, `mousedown`, `mouseup`, `hover`) on
   * primitive `prim`; returns the diagram-wide effects (go to, zoom) to
   * carry out.
   */
  user(event, prim) {
    const k = this.scene.instanceOf[prim];
    const rules = [
      ...(k >= 0 ? this.byUser.get(`${event}:${k}:${this.scene.inner[prim]}`) ?? [] : []),
      ...(this.byUser.get(`${event}:${this.scene.ordinal[prim]}`) ?? []),
    ];
    return this.fire(rules);
  }

  /** Whether a user event on `prim` does something. */
  interactive(prim) {
    const k = this.scene.instanceOf[prim];
    for (const event of ['click', 'mousedown', 'mouseup', 'hover']) {
      if (this.byUser.has(`${event}:${this.scene.ordinal[prim]}`)) return true;
      if (k >= 0 && this.byUser.has(`${event}:${k}:${this.scene.inner[prim]}`)) return true;
    }
    return false;
  }

  /** The diagram opened: its `open` actions; returns the diagram-wide effects. */
  open() {
    return this.fire(this.opening);
  }

  /** Runs event rules on the drawing itself. */
  fire(rules) {
    const wide = [];
    for (const rule of rules) {
      const e = rule.effect;
      if (e.do === 'goto' || e.do === 'zoom') {
        wide.push({ ...e, prims: rule.prims });
        continue;
      }
      if (e.do === 'set_property') {
        for (const k of rule.instances) {
          this.propsSet[k][e.name] = e.value ?? '';
          this.evaluateInstance(k);
        }
        continue;
      }
      for (const p of rule.prims) {
        applyEffect(this.base, this.baseText, p, e, undefined, this);
        this.dirty.add(p);
      }
    }
    return wide;
  }

  /** The primitives whose look changed since the last call; their looks are in `now` and `text`. */
  takeDirty() {
    const dirty = [...this.dirty];
    this.dirty.clear();
    for (const p of dirty) this.recompute(p);
    // Only a changed look can start or stop a blink: no count on a frame without one.
    if (dirty.length) {
      this.blinking = 0;
      for (let p = 0; p < this.scene.count; p++) this.blinking += this.now.blink[p];
    }
    return dirty;
  }

  recompute(p) {
    const [base, now] = [this.base, this.now];
    for (const key of ['stroke', 'fill', 'visible', 'blink', 'dx', 'dy']) now[key][p] = base[key][p];
    if (this.text.has(p)) this.text.set(p, this.baseText.get(p));
    for (const rule of this.rulesOn.get(p) ?? []) {
      if (rule.active) applyEffect(now, this.text, p, rule.effect, rule, this);
    }
  }

  /** The text each bound value shows now, for the page's readout: [{signal, text, hidden}]. */
  readout() {
    return (this.diagram.signals ?? []).map((s, i) => {
      const hidden = this.hidden.has(i);
      const seen = this.seen.get(i);
      const text = hidden || !seen ? '' : this.format(seen.reading.value, { readingUnit: seen.reading.unit });
      return { ...s, index: i, hidden, text };
    });
  }
}

/** Each primitive's look as the file draws it. */
function drawnLook(scene) {
  const n = scene.count;
  return {
    stroke: Int32Array.from(scene.stroke),
    fill: Int32Array.from(scene.fill),
    visible: new Uint8Array(n).fill(1),
    blink: new Uint8Array(n),
    dx: new Float32Array(n),
    dy: new Float32Array(n),
  };
}

/** Applies effect `e` of `rule` (none: an event) to primitive `p` of `look`. */
function applyEffect(look, texts, p, e, rule, runtime) {
  switch (e.do) {
    case 'change_color':
      look.stroke[p] = colour(e.value);
      break;
    case 'change_fill':
      look.fill[p] = e.value == null ? NONE : colour(e.value);
      break;
    case 'visibility':
      look.visible[p] = e.value === 'show' ? 1 : e.value === 'hide' ? 0 : 1 - look.visible[p];
      break;
    case 'move':
      look.dx[p] += e.by[0];
      look.dy[p] += e.by[1];
      break;
    case 'blink':
      look.blink[p] = e.on ? 1 : 0;
      break;
    case 'show_value':
      if (runtime.scene.kind[p] === Kind.TEXT && rule) {
        const hidden = rule.producer.on === 'data' && runtime.hidden.has(rule.producer.signal);
        texts.set(p, hidden ? '' : runtime.format(rule.value, { decimals: e.decimals, unit: e.unit, readingUnit: rule.readingUnit }));
      }
      break;
    default:
  }
}
