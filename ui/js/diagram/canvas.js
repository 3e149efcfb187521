// The Canvas 2D renderer: where WebGL2 is missing, and where it is only
// emulated on the CPU (SwiftShader, llvmpipe), which draws a large
// diagram far slower than the CPU's own 2D rasterizer.
//
// The drawing is kept rasterized in a cache canvas a margin larger than
// the view, at the view's scale: panning only copies it, and only the
// parts whose look changed (a live value, a blink) are drawn again, each
// clipped to its own box with whatever else lies there. Zooming, or
// panning past the margin, draws the cache anew. Only the primitives in
// the region drawn are visited (the grid says which), in drawing order,
// each its fill then its lines; shapes under half a pixel are skipped, as
// the WebGL2 renderer drops them.

import { Kind } from './scene.js';

/** The cache's margin around the view, in views (each side). */
const MARGIN = 0.5;
/** Changed primitives drawn again one by one up to this; beyond, the cache is drawn anew. */
const MAX_PATCHES = 400;

export function css(rgb) {
  return `#${(rgb & 0xffffff).toString(16).padStart(6, '0')}`;
}

export class CanvasRenderer {
  constructor(canvas, scene, grid) {
    const ctx = canvas.getContext('2d', { alpha: false });
    if (!ctx) throw new Error('no Canvas 2D');
    this.name = 'canvas2d';
    this.ctx = ctx;
    this.canvas = canvas;
    this.scene = scene;
    this.grid = grid;
    this.look = null;
    this.cache = document.createElement('canvas');
    this.cacheCtx = this.cache.getContext('2d', { alpha: false });
    /** What the cache holds: {x, y, scale, width, height, phase} in drawing units, or null. */
    this.cached = null;
    this.changed = new Set();
  }

  update(prims, look) {
    this.look = look;
    for (const p of prims) this.changed.add(p);
  }

  draw(view) {
    const ratio = this.canvas.width / view.width;
    const scale = view.scale * ratio;
    const [w, h] = [view.width / view.scale, view.height / view.scale];
    const c = this.cached;
    const inside =
      c && c.scale === scale && view.x >= c.x && view.y >= c.y && view.x + w <= c.x + c.width && view.y + h <= c.y + c.height;
    if (!inside || this.changed.size > MAX_PATCHES) {
      this.render(view, scale, w, h);
    } else {
      if (c.phase !== view.phase) this.blinkers(view.phase);
      for (const p of this.changed) this.patch(p, view.phase);
    }
    this.changed.clear();
    const k = this.cached;
    this.ctx.setTransform(1, 0, 0, 1, 0, 0);
    this.ctx.drawImage(this.cache, Math.round((k.x - view.x) * scale), Math.round((k.y - view.y) * scale));
  }

  /** Draws the cache anew around `view`. */
  render(view, scale, w, h) {
    const [x, y] = [view.x - w * MARGIN, view.y - h * MARGIN];
    const [width, height] = [w * (1 + 2 * MARGIN), h * (1 + 2 * MARGIN)];
    this.cache.width = Math.ceil(width * scale);
    this.cache.height = Math.ceil(height * scale);
    this.cached = { x, y, width, height, scale, phase: view.phase };
    this.region(x, y, x + width, y + height, view.phase);
  }

  /** Draws primitive `p`'s box again (as it was and as it is), with whatever else lies there. */
  patch(p, phase) {
    const b = this.scene.bbox;
    const pad = this.scene.width[p] + 2 / this.cached.scale;
    const [dx, dy] = [this.look.dx[p], this.look.dy[p]];
    this.region(
      Math.min(b[4 * p], b[4 * p] + dx) - pad,
      Math.min(b[4 * p + 1], b[4 * p + 1] + dy) - pad,
      Math.max(b[4 * p + 2], b[4 * p + 2] + dx) + pad,
      Math.max(b[4 * p + 3], b[4 * p + 3] + dy) + pad,
      phase,
    );
  }

  /** The blinking primitives' boxes drawn again in the new phase. */
  blinkers(phase) {
    this.cached.phase = phase;
    for (let p = 0; p < this.scene.count; p++) if (this.look.blink[p]) this.patch(p, phase);
  }

  /** Draws region x1,y1,x2,y2 (drawing units) of the cache: background, then every primitive in it. */
  region(x1, y1, x2, y2, phase) {
    const { scene } = this;
    const ctx = this.cacheCtx;
    const look = this.look;
    const k = this.cached;
    const scale = k.scale;
    ctx.setTransform(scale, 0, 0, scale, -k.x * scale, -k.y * scale);
    ctx.save();
    ctx.beginPath();
    ctx.rect(x1, y1, x2 - x1, y2 - y1);
    ctx.clip();
    ctx.fillStyle = css(scene.background);
    ctx.fillRect(x1, y1, x2 - x1, y2 - y1);
    ctx.lineCap = 'square';
    const b = scene.bbox;
    const s = scene.segments;
    const parts = scene.parts;
    for (const p of this.grid.query(x1, y1, x2, y2)) {
      if (!look.visible[p] || (look.blink[p] && phase > 0.5)) continue;
      if ((b[4 * p + 2] - b[4 * p]) * scale < 0.5 && (b[4 * p + 3] - b[4 * p + 1]) * scale < 0.5) continue;
      const kind = scene.kind[p];
      if (kind === Kind.TEXT) continue;
      const [dx, dy] = [look.dx[p], look.dy[p]];
      const fill = look.fill[p];
      const first = parts[4 * p];
      const end = parts[4 * p + 1];
      ctx.beginPath();
      if (kind === Kind.ELLIPSE && first === end) {
        const [cx, cy] = [(b[4 * p] + b[4 * p + 2]) / 2 + dx, (b[4 * p + 1] + b[4 * p + 3]) / 2 + dy];
        ctx.ellipse(cx, cy, (b[4 * p + 2] - b[4 * p]) / 2, (b[4 * p + 3] - b[4 * p + 1]) / 2, 0, 0, 2 * Math.PI);
      } else {
        for (let i = first; i < end; i++) {
          if (i === first) ctx.moveTo(s[6 * i] + dx, s[6 * i + 1] + dy);
          ctx.lineTo(s[6 * i + 2] + dx, s[6 * i + 3] + dy);
        }
      }
      if (fill >= 0 && kind !== Kind.LINE && kind !== Kind.POLYLINE && kind !== Kind.ARC) {
        ctx.fillStyle = css(fill);
        ctx.fill();
      }
      ctx.strokeStyle = css(look.stroke[p]);
      ctx.lineWidth = Math.max(scene.width[p], 1 / scale);
      ctx.stroke();
    }
    ctx.restore();
  }

  probe(view, x, y) {
    this.draw(view);
    const ratio = this.canvas.width / view.width;
    const d = this.ctx.getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
    return [...d.subarray(0, 3)].map((v) => v.toString(16).padStart(2, '0')).join('');
  }

  destroy() {
    this.cache.width = 0;
    this.cache.height = 0;
  }
}
