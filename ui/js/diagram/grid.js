// A uniform grid over a diagram's primitives: which ones lie in a part of
// the drawing (the Canvas 2D renderer draws only those on screen) and which
// one is under the pointer (hit-testing, the topmost first).

import { Kind } from './scene.js';

const CELLS = 256;

export class Grid {
  constructor(scene) {
    this.scene = scene;
    const [x1, y1, x2, y2] = extent(scene);
    this.origin = [x1, y1];
    this.size = Math.max(x2 - x1, y2 - y1, 1e-9) / CELLS;
    this.cols = Math.max(1, Math.ceil((x2 - x1) / this.size) + 1);
    this.rows = Math.max(1, Math.ceil((y2 - y1) / this.size) + 1);
    // Cell lists as one array (counting sort): cell c holds items[start[c]..start[c+1]).
    const counts = new Uint32Array(this.cols * this.rows + 1);
    this.each((p, c) => counts[c + 1]++);
    for (let c = 1; c < counts.length; c++) counts[c] += counts[c - 1];
    this.start = counts.slice();
    this.items = new Uint32Array(counts[counts.length - 1]);
    const fill = counts.slice();
    this.each((p, c) => {
      this.items[fill[c]++] = p;
    });
    this.stamp = new Uint32Array(scene.count);
    this.visit = 0;
  }

  cell(x, y) {
    const col = Math.min(this.cols - 1, Math.max(0, Math.floor((x - this.origin[0]) / this.size)));
    const row = Math.min(this.rows - 1, Math.max(0, Math.floor((y - this.origin[1]) / this.size)));
    return [col, row];
  }

  /** Calls `f(prim, cell)` for every cell each primitive's box covers. */
  each(f) {
    const b = this.scene.bbox;
    for (let p = 0; p < this.scene.count; p++) {
      const [c1, r1] = this.cell(b[4 * p], b[4 * p + 1]);
      const [c2, r2] = this.cell(b[4 * p + 2], b[4 * p + 3]);
      for (let r = r1; r <= r2; r++) for (let c = c1; c <= c2; c++) f(p, r * this.cols + c);
    }
  }

  /** The primitives whose boxes meet box x1,y1,x2,y2, in drawing order. */
  query(x1, y1, x2, y2) {
    this.visit = (this.visit + 1) >>> 0 || 1;
    const [c1, r1] = this.cell(x1, y1);
    const [c2, r2] = this.cell(x2, y2);
    const out = [];
    const b = this.scene.bbox;
    for (let r = r1; r <= r2; r++) {
      for (let c = c1; c <= c2; c++) {
        const cell = r * this.cols + c;
        for (let i = this.start[cell]; i < this.start[cell + 1]; i++) {
          const p = this.items[i];
          if (this.stamp[p] === this.visit) continue;
          this.stamp[p] = this.visit;
          if (b[4 * p] <= x2 && b[4 * p + 2] >= x1 && b[4 * p + 1] <= y2 && b[4 * p + 3] >= y1) out.push(p);
        }
      }
    }
    return out.sort((a, z) => a - z);
  }

  /**
   * The topmost primitive under x,y (drawing coordinates) that `wanted(p)`
   * accepts, within `tolerance` of a line; -1 when none.
   */
  hit(x, y, tolerance, wanted, look) {
    const found = this.query(x - tolerance, y - tolerance, x + tolerance, y + tolerance);
    for (let i = found.length - 1; i >= 0; i--) {
      const p = found[i];
      if (look && !look.visible[p]) continue;
      if (wanted(p) && contains(this.scene, p, x - (look?.dx[p] ?? 0), y - (look?.dy[p] ?? 0), tolerance)) return p;
    }
    return -1;
  }
}

function extent(scene) {
  const b = scene.bbox;
  let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let p = 0; p < scene.count; p++) {
    x1 = Math.min(x1, b[4 * p]);
    y1 = Math.min(y1, b[4 * p + 1]);
    x2 = Math.max(x2, b[4 * p + 2]);
    y2 = Math.max(y2, b[4 * p + 3]);
  }
  return scene.count ? [x1, y1, x2, y2] : [0, 0, 1, 1];
}

/** Whether primitive `p` covers x,y: its fill, or within `tolerance` (plus half its width) of its lines. */
export function contains(scene, p, x, y, tolerance) {
  const b = scene.bbox;
  const kind = scene.kind[p];
  if (kind === Kind.TEXT || kind === Kind.IMAGE) {
    return x >= b[4 * p] && x <= b[4 * p + 2] && y >= b[4 * p + 1] && y <= b[4 * p + 3];
  }
  const filled = scene.fill[p] >= 0;
  if (kind === Kind.RECT && filled && x >= b[4 * p] && x <= b[4 * p + 2] && y >= b[4 * p + 1] && y <= b[4 * p + 3]) {
    return true;
  }
  if (kind === Kind.ELLIPSE) {
    const [cx, cy] = [(b[4 * p] + b[4 * p + 2]) / 2, (b[4 * p + 1] + b[4 * p + 3]) / 2];
    const [rx, ry] = [(b[4 * p + 2] - b[4 * p]) / 2 || 1e-9, (b[4 * p + 3] - b[4 * p + 1]) / 2 || 1e-9];
    const d = Math.hypot((x - cx) / rx, (y - cy) / ry);
    const band = (tolerance + scene.width[p] / 2) / Math.min(rx, ry);
    if (filled ? d <= 1 + band : Math.abs(d - 1) <= band) return true;
  }
  const parts = scene.parts;
  for (let v = parts[4 * p + 2]; v < parts[4 * p + 3]; v += 3) {
    const t = scene.triangles;
    if (inTriangle(x, y, t[3 * v], t[3 * v + 1], t[3 * v + 3], t[3 * v + 4], t[3 * v + 6], t[3 * v + 7])) return true;
  }
  const s = scene.segments;
  for (let i = parts[4 * p]; i < parts[4 * p + 1]; i++) {
    const d = segmentDistance(x, y, s[6 * i], s[6 * i + 1], s[6 * i + 2], s[6 * i + 3]);
    if (d <= tolerance + s[6 * i + 4] / 2) return true;
  }
  return false;
}

function segmentDistance(x, y, x1, y1, x2, y2) {
  const [dx, dy] = [x2 - x1, y2 - y1];
  const length2 = dx * dx + dy * dy;
  const t = length2 ? Math.max(0, Math.min(1, ((x - x1) * dx + (y - y1) * dy) / length2)) : 0;
  return Math.hypot(x - (x1 + t * dx), y - (y1 + t * dy));
}

function inTriangle(x, y, ax, ay, bx, by, cx, cy) {
  const d1 = (x - bx) * (ay - by) - (ax - bx) * (y - by);
  const d2 = (x - cx) * (by - cy) - (bx - cx) * (y - cy);
  const d3 = (x - ax) * (cy - ay) - (cx - ax) * (y - ay);
  const negative = d1 < 0 || d2 < 0 || d3 < 0;
  const positive = d1 > 0 || d2 > 0 || d3 > 0;
  return !(negative && positive);
}
