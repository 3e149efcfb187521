// What both renderers leave to Canvas 2D on a layer above them: images
// (from the diagrams folder, GET /api/v1/diagram-images/<file>) and texts.
// Level of detail: an image under 2 px or a text under MIN_TEXT_PX high
// on screen is not drawn, and at most MAX_TEXTS texts are drawn per frame
// (the ones on screen, in drawing order).

import { css } from './canvas.js';

const MIN_TEXT_PX = 5;
const MAX_TEXTS = 4000;

/** The images `Image` elements name, loaded once each; `loaded()` is called as each arrives. */
export class Images {
  constructor(loaded) {
    this.loaded = loaded;
    this.byName = new Map();
  }

  /** The image named `href`, once it has loaded; null before (or when it cannot). */
  get(href) {
    let entry = this.byName.get(href);
    if (!entry) {
      const img = new Image();
      entry = { img, ready: false };
      img.addEventListener('load', () => {
        entry.ready = true;
        this.loaded();
      });
      img.addEventListener('error', () => console.warn(`diagram: image ${href} did not load`));
      img.src = `/api/v1/diagram-images/${encodeURIComponent(href)}`;
      this.byName.set(href, entry);
    }
    return entry.ready ? entry.img : null;
  }
}

export function drawOverlay(ctx, scene, runtime, view, images) {
  const canvas = ctx.canvas;
  const ratio = canvas.width / view.width;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const scale = view.scale * ratio;
  const look = runtime.now;
  const [w, h] = [canvas.width, canvas.height];
  const b = scene.bbox;
  for (const { prim: p, href } of images ? scene.images : []) {
    if (!look.visible[p] || (look.blink[p] && view.phase > 0.5)) continue;
    const x = (b[4 * p] + look.dx[p] - view.x) * scale;
    const y = (b[4 * p + 1] + look.dy[p] - view.y) * scale;
    const [iw, ih] = [(b[4 * p + 2] - b[4 * p]) * scale, (b[4 * p + 3] - b[4 * p + 1]) * scale];
    if ((iw < 2 && ih < 2) || x > w || y > h || x + iw < 0 || y + ih < 0) continue;
    const img = images.get(href);
    if (img) ctx.drawImage(img, x, y, iw, ih);
  }
  let drawn = 0;
  ctx.textBaseline = 'alphabetic';
  for (const t of scene.texts) {
    const p = t.prim;
    const size = t.size * scale;
    if (size < MIN_TEXT_PX || !look.visible[p] || (look.blink[p] && view.phase > 0.5)) continue;
    const x = (t.x + look.dx[p] - view.x) * scale;
    const y = (t.y + look.dy[p] - view.y) * scale;
    if (y < 0 || y - size > h || x > w) continue;
    const text = runtime.text.get(p) ?? t.text;
    if (!text) continue;
    ctx.font = `${size}px system-ui, "Noto Sans", sans-serif`;
    ctx.fillStyle = css(look.stroke[p]);
    ctx.fillText(text, x, y);
    if (++drawn >= MAX_TEXTS) break;
  }
  return drawn;
}
