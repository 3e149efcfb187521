// A diagram on screen: its scene drawn by WebGL2 (Canvas 2D where WebGL2
// is missing, or when asked), texts on a layer above, pan and zoom, the
// user's events hit-tested, live readings taken in and applied once per
// animation frame, blinking. The page around it is views/diagram.js.

import { CanvasRenderer } from './canvas.js';
import { GlRenderer } from './gl.js';
import { Grid } from './grid.js';
import { Images, drawOverlay } from './overlay.js';
import { Runtime } from './runtime.js';
import { buildScene } from './scene.js';

const BLINK_MS = 500;
const TICK_MS = 1000;
const HIT_PX = 4;
/** `localStorage` key: `canvas2d` or `webgl2` to choose the renderer rather than let the viewer. */
export const RENDERER_KEY = 'meterhub.diagram.renderer';

function preferred() {
  try {
    return localStorage.getItem(RENDERER_KEY);
  } catch {
    return null;
  }
}

export class Viewer extends EventTarget {
  /**
   * `stage`: an element the two canvases fill; `diagram`: the compiled
   * form (with `hidden`); `options`: {triangulate, format}.
   */
  constructor(stage, diagram, options = {}) {
    super();
    this.stage = stage;
    this.diagram = diagram;
    this.scene = buildScene(diagram, options.triangulate);
    this.runtime = new Runtime(diagram, this.scene, { hidden: diagram.hidden ?? [], format: options.format });
    this.grid = new Grid(this.scene);
    /** Why Canvas 2D draws when WebGL2 was not asked against: `missing`, `software`, or null. */
    this.why = null;
    this.base = document.createElement('canvas');
    this.base.className = 'diagram-canvas';
    this.top = document.createElement('canvas');
    this.top.className = 'diagram-overlay';
    stage.replaceChildren(this.base, this.top);
    this.renderer = this.makeRenderer();
    this.overlay = this.top.getContext('2d');
    this.images = new Images(() => this.schedule());
    this.pending = new Map();
    this.frame = 0;
    this.phase = 0;
    this.hover = -1;
    this.view = { x: 0, y: 0, scale: 1, width: 1, height: 1, phase: 0 };
    this.resize();
    this.fit();
    this.renderer.update(Array.from({ length: this.scene.count }, (_, i) => i), this.runtime.now);
    this.wide(this.runtime.open());
    this.draw();
    this.listen();
    this.ticker = setInterval(() => {
      this.runtime.tick();
      this.schedule();
    }, TICK_MS);
  }

  /**
   * WebGL2 where the GPU draws it; Canvas 2D where WebGL2 is missing or
   * only emulated on the CPU (SwiftShader, llvmpipe: the CPU's own 2D
   * rasterizer is faster there). `localStorage[RENDERER_KEY]` may ask for
   * either.
   */
  makeRenderer() {
    const asked = preferred();
    if (asked !== 'canvas2d') {
      try {
        const gl = new GlRenderer(this.base, this.scene);
        if (!gl.software || asked === 'webgl2') return gl;
        gl.destroy();
        this.why = 'software';
      } catch (e) {
        console.warn(`diagram: WebGL2 unavailable (${e.message}); drawing with Canvas 2D`);
        this.why = 'missing';
      }
      // A canvas that gave out a WebGL context cannot give a 2D one.
      const fresh = document.createElement('canvas');
      fresh.className = this.base.className;
      this.base.replaceWith(fresh);
      this.base = fresh;
    }
    return new CanvasRenderer(this.base, this.scene, this.grid);
  }

  /** Matches the canvases to the stage's size. */
  resize() {
    const ratio = window.devicePixelRatio || 1;
    const { width, height } = this.stage.getBoundingClientRect();
    const [w, h] = [Math.max(1, Math.round(width)), Math.max(1, Math.round(height))];
    for (const c of [this.base, this.top]) {
      c.width = Math.round(w * ratio);
      c.height = Math.round(h * ratio);
    }
    const keep = this.view.width > 1 ? this.center() : null;
    this.view.width = w;
    this.view.height = h;
    if (keep) this.centerOn(keep[0], keep[1]);
  }

  center() {
    const v = this.view;
    return [v.x + v.width / v.scale / 2, v.y + v.height / v.scale / 2];
  }

  centerOn(x, y) {
    const v = this.view;
    v.x = x - v.width / v.scale / 2;
    v.y = y - v.height / v.scale / 2;
  }

  /** The whole drawing in view. */
  fit() {
    const [x1, y1, x2, y2] = this.diagram.range;
    const v = this.view;
    v.scale = Math.min(v.width / (x2 - x1 || 1), v.height / (y2 - y1 || 1)) * 0.96;
    this.centerOn((x1 + x2) / 2, (y1 + y2) / 2);
    this.schedule();
  }

  /** Zooms by `factor` keeping drawing point x,y where it is on screen (default: the centre). */
  zoom(factor, at = this.center()) {
    const v = this.view;
    const [sx, sy] = [(at[0] - v.x) * v.scale, (at[1] - v.y) * v.scale];
    v.scale = Math.min(1e4, Math.max(1e-4, v.scale * factor));
    v.x = at[0] - sx / v.scale;
    v.y = at[1] - sy / v.scale;
    this.schedule();
  }

  /** Moves the view by dx,dy screen px. */
  pan(dx, dy) {
    this.view.x -= dx / this.view.scale;
    this.view.y -= dy / this.view.scale;
    this.schedule();
  }

  /** Drawing coordinates of a point of the stage (CSS px). */
  toDrawing(px, py) {
    return [this.view.x + px / this.view.scale, this.view.y + py / this.view.scale];
  }

  /** Stage coordinates (CSS px) of a drawing point. */
  toScreen(x, y) {
    return [(x - this.view.x) * this.view.scale, (y - this.view.y) * this.view.scale];
  }

  /** A reading from the live stream: applied at the next frame (the latest per signal). */
  reading(reading) {
    const index = this.runtime.signal(reading.device, reading.channel);
    if (index === undefined) return;
    this.pending.set(index, reading);
    this.schedule();
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  /** One frame: pending readings applied, changed looks uploaded, everything drawn. */
  draw() {
    this.frame = 0;
    const applied = this.pending.size;
    for (const [index, reading] of this.pending) this.runtime.reading(index, reading);
    this.pending.clear();
    const dirty = this.runtime.takeDirty();
    if (dirty.length) this.renderer.update(dirty, this.runtime.now);
    this.view.phase = this.phase;
    this.renderer.draw(this.view);
    drawOverlay(this.overlay, this.scene, this.runtime, this.view, this.images);
    this.blinkWhileNeeded();
    if (applied || dirty.length) this.dispatchEvent(new CustomEvent('changed', { detail: { applied, dirty: dirty.length } }));
  }

  blinkWhileNeeded() {
    if (this.runtime.blinking && !this.blinker) {
      this.blinker = setInterval(() => {
        this.phase = 1 - this.phase;
        this.schedule();
      }, BLINK_MS);
    } else if (!this.runtime.blinking && this.blinker) {
      clearInterval(this.blinker);
      this.blinker = null;
      this.phase = 0;
    }
  }

  /** The topmost primitive at stage point px,py that a user event acts on, or -1. */
  hitAt(px, py) {
    const [x, y] = this.toDrawing(px, py);
    return this.grid.hit(x, y, HIT_PX / this.view.scale, (p) => this.runtime.interactive(p), this.runtime.now);
  }

  /** A user's event at a stage point; carries out what it does. */
  user(event, px, py) {
    const prim = this.hitAt(px, py);
    if (prim < 0) return false;
    this.wide(this.runtime.user(event, prim));
    this.schedule();
    return true;
  }

  /** Effects on the diagram itself: go to another diagram, zoom. */
  wide(effects) {
    for (const e of effects) {
      if (e.do === 'goto') this.dispatchEvent(new CustomEvent('goto', { detail: e.diagram }));
      if (e.do === 'zoom') this.zoom(e.factor, this.centerOf(e.prims));
    }
  }

  centerOf(prims) {
    if (!prims?.length) return this.center();
    const b = this.scene.bbox;
    let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const p of prims) {
      x1 = Math.min(x1, b[4 * p]);
      y1 = Math.min(y1, b[4 * p + 1]);
      x2 = Math.max(x2, b[4 * p + 2]);
      y2 = Math.max(y2, b[4 * p + 3]);
    }
    return [(x1 + x2) / 2, (y1 + y2) / 2];
  }

  listen() {
    const el = this.top;
    let drag = null;
    const local = (e) => {
      const r = el.getBoundingClientRect();
      return [e.clientX - r.left, e.clientY - r.top];
    };
    this.handlers = {
      pointerdown: (e) => {
        const [px, py] = local(e);
        drag = { x: e.clientX, y: e.clientY, moved: false };
        try {
          el.setPointerCapture(e.pointerId);
        } catch {
          // A synthetic pointer cannot be captured; dragging still works inside the stage.
        }
        this.user('mousedown', px, py);
      },
      pointermove: (e) => {
        const [px, py] = local(e);
        if (drag && e.buttons) {
          const [dx, dy] = [e.clientX - drag.x, e.clientY - drag.y];
          if (drag.moved || Math.hypot(dx, dy) > 3) {
            drag.moved = true;
            this.pan(dx, dy);
            [drag.x, drag.y] = [e.clientX, e.clientY];
          }
          return;
        }
        const prim = this.hitAt(px, py);
        el.classList.toggle('interactive', prim >= 0);
        if (prim >= 0 && this.scene.ordinal[prim] !== this.scene.ordinal[this.hover] && prim !== this.hover) {
          this.user('hover', px, py);
        }
        this.hover = prim;
      },
      pointerup: (e) => {
        const [px, py] = local(e);
        this.user('mouseup', px, py);
        if (drag && !drag.moved) this.user('click', px, py);
        drag = null;
      },
      wheel: (e) => {
        e.preventDefault();
        const [px, py] = local(e);
        this.zoom(Math.exp(-e.deltaY * 0.0015), this.toDrawing(px, py));
      },
    };
    for (const [name, handler] of Object.entries(this.handlers)) el.addEventListener(name, handler, { passive: name !== 'wheel' });
    this.resizer = new ResizeObserver(() => {
      this.resize();
      this.schedule();
    });
    this.resizer.observe(this.stage);
  }

  /** The colour `rrggbb` drawn at drawing point x,y (shapes, not texts). */
  probe(x, y) {
    const [px, py] = this.toScreen(x, y);
    return this.renderer.probe(this.view, px, py);
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    clearInterval(this.ticker);
    clearInterval(this.blinker);
    this.resizer?.disconnect();
    for (const [name, handler] of Object.entries(this.handlers ?? {})) this.top.removeEventListener(name, handler);
    this.renderer.destroy();
  }
}
