// A compiled diagram (docs/diagrams.md, "The compiled form") flattened
// into primitives in drawing coordinates: group transforms applied, each
// object instance expanded into its object's elements scaled into its
// position. A primitive is one thing with its own look (a rectangle, a
// line, a text); the renderers draw them as batches of instances, and the
// runtime changes their look.
//
// Kept as arrays of numbers (struct of arrays), since a diagram may hold
// 200,000 of them: per primitive its bounding box, base colours and where
// it came from; per batch the instances the GPU draws.

/** What a primitive is (`kind`). */
export const Kind = Object.freeze({ LINE: 0, RECT: 1, ELLIPSE: 2, ARC: 3, POLYLINE: 4, POLYGON: 5, TEXT: 6, IMAGE: 7 });

const KINDS = { line: Kind.LINE, rect: Kind.RECT, ellipse: Kind.ELLIPSE, arc: Kind.ARC, polyline: Kind.POLYLINE,
  polygon: Kind.POLYGON, text: Kind.TEXT, image: Kind.IMAGE };

/** A colour `rrggbb` as a number; `none` for none. */
export const NONE = -1;
export function colour(text) {
  return text ? parseInt(text, 16) : NONE;
}

const IDENTITY = [1, 0, 0, 0, 1, 0];

/** a ∘ b: first b, then a (x' = m0·x + m1·y + m2, y' = m3·x + m4·y + m5). */
export function compose(a, b) {
  return [
    a[0] * b[0] + a[1] * b[3], a[0] * b[1] + a[1] * b[4], a[0] * b[2] + a[1] * b[5] + a[2],
    a[3] * b[0] + a[4] * b[3], a[3] * b[1] + a[4] * b[4], a[3] * b[2] + a[4] * b[5] + a[5],
  ];
}

/** The map of box `from` (x1,y1,x2,y2) onto box `to`. */
export function boxMap(from, to) {
  const sx = (to[2] - to[0]) / (from[2] - from[0] || 1);
  const sy = (to[3] - to[1]) / (from[3] - from[1] || 1);
  return [sx, 0, to[0] - from[0] * sx, 0, sy, to[1] - from[1] * sy];
}

/**
 * A group's map into its parent: its `Transform` first (the group's own
 * coordinates), then its `Range` drawn at its `Port`.
 */
function groupMap(group) {
  const transform = group.t ?? IDENTITY;
  return group.range && group.port ? compose(boxMap(group.range, group.port), transform) : transform;
}

/** Each group's map into the diagram. */
function groupMaps(groups) {
  const maps = [];
  for (const g of groups) {
    const own = groupMap(g);
    maps.push(g.g === undefined ? own : compose(maps[g.g], own));
  }
  return maps;
}

function apply(m, x, y) {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

/** Whether `m` keeps boxes boxes (no rotation or shear). */
function axisAligned(m) {
  return m[1] === 0 && m[3] === 0;
}

/** Segments an arc or ellipse of box `p` is drawn with. */
function curvePoints(p, start, sweep) {
  const [cx, cy, rx, ry] = [(p[0] + p[2]) / 2, (p[1] + p[3]) / 2, Math.abs(p[2] - p[0]) / 2, Math.abs(p[3] - p[1]) / 2];
  const n = Math.max(4, Math.min(96, Math.ceil((Math.abs(sweep) / 360) * 64)));
  const out = [];
  for (let i = 0; i <= n; i++) {
    const a = ((start + (sweep * i) / n) * Math.PI) / 180;
    out.push(cx + rx * Math.cos(a), cy + ry * Math.sin(a));
  }
  return out;
}

/** Growable arrays of numbers. */
class Floats {
  constructor(stride) {
    this.stride = stride;
    this.data = new Float32Array(1024 * stride);
    this.length = 0;
  }

  push(...values) {
    if (this.length + values.length > this.data.length) {
      const bigger = new Float32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data.set(values, this.length);
    this.length += values.length;
  }

  /** The filled part. */
  view() {
    return this.data.subarray(0, this.length);
  }

  get count() {
    return this.length / this.stride;
  }
}

/**
 * The primitives of `diagram`. `triangulate(flat)` (earcut) gives a
 * polygon's triangles as vertex indexes; without it a fan is used, right
 * for convex polygons.
 */
export function buildScene(diagram, triangulate = fan) {
  const maps = groupMaps(diagram.groups ?? []);
  const scene = new SceneBuilder(diagram, triangulate);
  (diagram.elements ?? []).forEach((element, i) => {
    const map = element.g === undefined ? IDENTITY : maps[element.g];
    if (element.k === 'object') {
      scene.instance(element, i + 1, map);
    } else {
      scene.primitive(element, map, { ordinal: i + 1, instance: -1, features: element.ft ?? [] });
    }
  });
  return scene.finish();
}

function fan(flat) {
  const out = [];
  for (let i = 1; i + 1 < flat.length / 2; i++) out.push(0, i, i + 1);
  return out;
}

class SceneBuilder {
  constructor(diagram, triangulate) {
    this.diagram = diagram;
    this.triangulate = triangulate;
    // Per primitive.
    this.kind = [];
    this.bbox = new Floats(4);
    this.stroke = [];
    this.fill = [];
    this.width = [];
    /** The diagram element it draws (its ordinal), or that is its object instance. */
    this.ordinal = [];
    /** Its object instance (index into `instances`), or -1. */
    this.instanceOf = [];
    /** Its ordinal within its object, or 0. */
    this.inner = [];
    this.features = [];
    this.texts = [];
    this.images = [];
    /** Per primitive: its segments [first, end) and triangle vertices [first, end) in the batches. */
    this.parts = [];
    // Batches.
    this.segments = new Floats(6); // x1 y1 x2 y2 width prim
    this.rects = new Floats(5); // x1 y1 x2 y2 prim
    this.ellipses = new Floats(6); // x1 y1 x2 y2 width prim
    this.triangles = new Floats(3); // x y prim
    /** Object instances: their object, ordinal and primitives. */
    this.instances = [];
    /** Diagram ordinal -> [first primitive, end). */
    this.ranges = new Int32Array(2 * ((diagram.elements ?? []).length + 1));
  }

  instance(element, ordinal, map) {
    const object = this.diagram.objects?.[element.object];
    const first = this.kind.length;
    const index = this.instances.length;
    if (object) {
      const inner = compose(map, boxMap(object.range, element.p));
      object.elements.forEach((e, i) => {
        const features = [...(element.ft ?? []), ...(e.ft ?? [])];
        this.primitive(e, inner, { ordinal, instance: index, innerOrdinal: i + 1, features, parent: element });
      });
    }
    this.instances.push({ object: element.object, ordinal, first, end: this.kind.length, props: element.props ?? {} });
    this.ranges[2 * ordinal] = first;
    this.ranges[2 * ordinal + 1] = this.kind.length;
  }

  primitive(e, map, from) {
    const prim = this.kind.length;
    const kind = KINDS[e.k];
    const width = (e.w ?? 1) * Math.sqrt(Math.abs(map[0] * map[4] - map[1] * map[3]));
    this.kind.push(kind);
    this.ordinal.push(from.ordinal);
    this.instanceOf.push(from.instance);
    this.inner.push(from.innerOrdinal ?? 0);
    this.features.push(from.features);
    // A line is black unless coloured.
    this.stroke.push(Math.max(0, colour(e.c ?? from.parent?.c)));
    this.fill.push(colour(e.f ?? from.parent?.f));
    this.width.push(width);
    if (from.instance < 0) {
      this.ranges[2 * from.ordinal] = prim;
      this.ranges[2 * from.ordinal + 1] = prim + 1;
    }
    const points = this.points(e, map, kind);
    let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
    for (let i = 0; i < points.length; i += 2) {
      x1 = Math.min(x1, points[i]);
      y1 = Math.min(y1, points[i + 1]);
      x2 = Math.max(x2, points[i]);
      y2 = Math.max(y2, points[i + 1]);
    }
    if (kind === Kind.TEXT) {
      const size = e.size * Math.sqrt(Math.abs(map[0] * map[4] - map[1] * map[3]));
      this.texts.push({ prim, x: points[0], y: points[1], size, text: e.text ?? '' });
      // Roughly: its height above the baseline, half a height per letter.
      [y1, x2] = [points[1] - size, points[0] + Math.max(1, (e.text ?? '').length) * size * 0.6];
    }
    this.bbox.push(x1, y1, x2, y2);
    const [segments, triangles] = [this.segments.count, this.triangles.count];
    this.batch(kind, points, prim, width, map, e);
    this.parts.push(segments, this.segments.count, triangles, this.triangles.count);
  }

  /** The primitive's points in diagram coordinates. */
  points(e, map, kind) {
    const p = e.p;
    const out = [];
    const put = (x, y) => out.push(...apply(map, x, y));
    switch (kind) {
      case Kind.TEXT:
        put(p[0], p[1]);
        break;
      case Kind.POLYLINE:
      case Kind.POLYGON:
        for (let i = 0; i < p.length; i += 2) put(p[i], p[i + 1]);
        break;
      case Kind.ARC: {
        const c = curvePoints(p, e.start, e.sweep);
        for (let i = 0; i < c.length; i += 2) put(c[i], c[i + 1]);
        break;
      }
      case Kind.ELLIPSE:
        if (!axisAligned(map)) {
          const c = curvePoints(p, 0, 360);
          for (let i = 0; i < c.length - 2; i += 2) put(c[i], c[i + 1]);
          break;
        }
        put(p[0], p[1]);
        put(p[2], p[3]);
        break;
      case Kind.RECT:
        if (!axisAligned(map)) {
          put(p[0], p[1]);
          put(p[2], p[1]);
          put(p[2], p[3]);
          put(p[0], p[3]);
          break;
        }
        put(p[0], p[1]);
        put(p[2], p[3]);
        break;
      default:
        put(p[0], p[1]);
        put(p[2], p[3]);
    }
    return out;
  }

  batch(kind, pts, prim, width, map, e) {
    const box = () => [Math.min(pts[0], pts[2]), Math.min(pts[1], pts[3]), Math.max(pts[0], pts[2]), Math.max(pts[1], pts[3])];
    const aligned = axisAligned(map);
    switch (kind) {
      case Kind.LINE:
        this.segments.push(pts[0], pts[1], pts[2], pts[3], width, prim);
        break;
      case Kind.RECT:
        if (aligned) {
          const [x1, y1, x2, y2] = box();
          this.rects.push(x1, y1, x2, y2, prim);
          this.outline([x1, y1, x2, y1, x2, y2, x1, y2], true, width, prim);
        } else {
          this.polygon(pts, width, prim);
        }
        break;
      case Kind.ELLIPSE:
        if (aligned) {
          this.ellipses.push(...box(), width, prim);
        } else {
          this.polygon(pts, width, prim);
        }
        break;
      case Kind.ARC:
      case Kind.POLYLINE:
        this.outline(pts, false, width, prim);
        break;
      case Kind.POLYGON:
        this.polygon(pts, width, prim);
        break;
      case Kind.IMAGE:
        this.images.push({ prim, href: e.href });
        this.outline([pts[0], pts[1], pts[2], pts[1], pts[2], pts[3], pts[0], pts[3]], true, width, prim);
        break;
      default:
    }
  }

  outline(pts, closed, width, prim) {
    const n = pts.length / 2;
    for (let i = 0; i + 1 < n; i++) {
      this.segments.push(pts[2 * i], pts[2 * i + 1], pts[2 * i + 2], pts[2 * i + 3], width, prim);
    }
    if (closed && n > 2) this.segments.push(pts[2 * n - 2], pts[2 * n - 1], pts[0], pts[1], width, prim);
  }

  polygon(pts, width, prim) {
    for (const i of this.triangulate(pts)) this.triangles.push(pts[2 * i], pts[2 * i + 1], prim);
    this.outline(pts, true, width, prim);
  }

  finish() {
    const d = this.diagram;
    return {
      range: d.range,
      background: colour(d.background ?? 'ffffff'),
      count: this.kind.length,
      kind: Uint8Array.from(this.kind),
      bbox: this.bbox.view(),
      stroke: Int32Array.from(this.stroke),
      fill: Int32Array.from(this.fill),
      width: Float32Array.from(this.width),
      ordinal: Int32Array.from(this.ordinal),
      instanceOf: Int32Array.from(this.instanceOf),
      inner: Int32Array.from(this.inner),
      features: this.features,
      texts: this.texts,
      images: this.images,
      instances: this.instances,
      ranges: this.ranges,
      parts: Int32Array.from(this.parts),
      segments: this.segments.view(),
      rects: this.rects.view(),
      ellipses: this.ellipses.view(),
      triangles: this.triangles.view(),
    };
  }
}

/** The primitives diagram element `ordinal` draws: [first, end). */
export function primitivesOf(scene, ordinal) {
  return [scene.ranges[2 * ordinal], scene.ranges[2 * ordinal + 1]];
}
