// `#/diagram/<name>`: a mimic diagram, live. A toolbar (back along the
// diagrams gone to, fit, zoom, which renderer draws, the stream's
// delivery quality), the drawing, and under it the bound values as text
// (what a screen reader reads; blank where the user may not see the
// meter). `#/diagrams`: every diagram, whether its file reads, and the
// bindings no meter answers.

import { ApiError, get } from '../api.js';
import { unitName } from '../channels.js';
import { Viewer } from '../diagram/viewer.js';
import { el } from '../dom.js';
import { formatValue } from '../format.js';
import { t } from '../i18n.js';
import { diagramHash } from '../router.js';
import { StreamIndicator } from './stream-indicator.js';

/** The diagrams gone to by a go-to action, for the back button. */
const trail = [];

/** earcut (ui/vendor/, built by scripts/build-ui), or none: polygons then fan out, right for convex ones. */
async function triangulator() {
  try {
    const module = await import('../../vendor/earcut.js');
    return (flat) => module.default(flat);
  } catch {
    return undefined;
  }
}

/** A value as the diagram shows it: the language's decimal format, its unit. */
export function showValue(value, { decimals, unit, readingUnit } = {}) {
  if (value === undefined || value === null || value === '') return '';
  const numeric = /^-?\d+(\.\d+)?$/.test(String(value));
  const text = numeric && decimals !== undefined ? formatValue(Number(value).toFixed(decimals)) : formatValue(value);
  const u = unit ?? unitName(readingUnit);
  return u ? `${text} ${u}` : text;
}

export function diagramView(container, { name }, values) {
  const title = el('h2', { className: 'diagram-title' }, name);
  const back = el('button', { type: 'button', id: 'diagram-back', hidden: !trail.length }, `← ${t('diagram.back')}`);
  const fit = el('button', { type: 'button', id: 'diagram-fit' }, t('diagram.fit'));
  const zoomIn = el('button', { type: 'button', id: 'diagram-zoom-in', title: t('diagram.zoom_in') }, '+');
  const zoomOut = el('button', { type: 'button', id: 'diagram-zoom-out', title: t('diagram.zoom_out') }, '−');
  const renderer = el('span', { className: 'muted diagram-renderer', id: 'diagram-renderer' });
  const quality = el('div', { className: 'indicator', id: 'diagram-stream', attrs: { role: 'status' } });
  const notice = el('div', { className: 'diagram-notice', id: 'diagram-notice', attrs: { role: 'alert' }, hidden: true });
  const stage = el('div', { className: 'diagram-stage', id: 'diagram-stage' });
  const readout = el('ul', { className: 'diagram-readout', id: 'diagram-values', attrs: { 'aria-label': t('diagram.values') } });
  container.append(
    el('div', { className: 'diagram-bar' }, back, title, fit, zoomOut, zoomIn, renderer, quality),
    notice,
    stage,
    el('details', { className: 'diagram-values' }, el('summary', {}, t('diagram.values')), readout),
  );
  const indicator = new StreamIndicator(quality, 'diagram-stream');
  indicator.attach(values);
  let viewer = null;
  let gone = false;
  const onValue = (e) => viewer?.reading(e.detail.reading);

  back.addEventListener('click', () => {
    const previous = trail.pop();
    if (previous) location.hash = diagramHash(previous);
  });

  (async () => {
    try {
      const [diagram, triangulate, list] = await Promise.all([
        get(`/api/v1/diagrams/${encodeURIComponent(name)}`),
        triangulator(),
        get('/api/v1/diagrams').catch(() => null),
      ]);
      if (gone) return;
      title.textContent = diagram.name || name;
      const status = list?.diagrams?.find((d) => d.name === name);
      if (status && !status.ok) {
        notice.hidden = false;
        notice.append(el('p', {}, t('diagram.refused')), el('ul', {}, status.errors.map((e) => el('li', { className: 'mono' }, e))));
      }
      viewer = new Viewer(stage, diagram, { triangulate, format: showValue });
      stage.viewer = viewer;
      const why = viewer.why ? `_${viewer.why}` : '';
      renderer.textContent = t(`diagram.renderer.${viewer.renderer.name}${why}`);
      renderer.dataset.renderer = viewer.renderer.name;
      for (const reading of values.values.values()) viewer.reading(reading);
      values.addEventListener('change', onValue);
      viewer.addEventListener('goto', (e) => {
        trail.push(name);
        location.hash = diagramHash(e.detail);
      });
      viewer.addEventListener('changed', () => renderReadout(readout, viewer));
      renderReadout(readout, viewer);
      fit.addEventListener('click', () => viewer.fit());
      zoomIn.addEventListener('click', () => viewer.zoom(1.25));
      zoomOut.addEventListener('click', () => viewer.zoom(0.8));
      stage.readyAt = performance.now();
      stage.dataset.ready = 'true';
    } catch (e) {
      const missing = e instanceof ApiError && e.status === 404;
      notice.hidden = false;
      notice.append(el('p', { className: 'error' }, missing ? t('diagram.not_found', { name }) : e.message));
    }
  })();

  return () => {
    gone = true;
    values.removeEventListener('change', onValue);
    indicator.destroy();
    viewer?.destroy();
  };
}

function renderReadout(list, viewer) {
  const rows = viewer.runtime.readout();
  if (list.children.length !== rows.length) {
    list.replaceChildren(
      ...rows.map((r) =>
        el('li', { dataset: { device: r.device, channel: r.channel } }, el('span', { className: 'muted' }, `${r.device} / ${r.channel}: `), el('span', { className: 'value' })),
      ),
    );
  }
  rows.forEach((r, i) => {
    const item = list.children[i];
    const value = item.querySelector('.value');
    value.textContent = r.hidden ? t('diagram.no_rights') : r.text || '—';
    item.dataset.hidden = String(r.hidden);
    item.dataset.value = r.text;
  });
}

/** `#/diagrams`: the list. */
export function diagramsView(container) {
  const body = el('div', { id: 'diagrams-list' }, t('diagrams.loading'));
  container.append(el('h2', {}, t('nav.diagrams')), body);
  let gone = false;
  get('/api/v1/diagrams')
    .then((answer) => {
      if (gone) return;
      if (!answer.diagrams.length) {
        body.replaceChildren(el('p', { className: 'muted' }, t('diagrams.empty', { dir: answer.dir })));
        return;
      }
      body.replaceChildren(
        el(
          'ul',
          { className: 'diagrams' },
          answer.diagrams.map((d) =>
            el(
              'li',
              { className: d.ok ? 'ok' : 'refused', dataset: { diagram: d.name } },
              d.served ? el('a', { href: diagramHash(d.name) }, d.name) : el('span', {}, d.name),
              el('span', { className: 'muted' }, ` ${t('diagrams.counts', { elements: d.elements, signals: d.signals })}`),
              d.ok ? null : el('p', { className: 'error' }, t('diagram.refused')),
              d.errors.length ? el('ul', {}, d.errors.map((e) => el('li', { className: 'mono' }, e))) : null,
              d.dangling.length
                ? el('p', { className: 'warning' }, t('diagrams.dangling'), el('ul', {}, d.dangling.map((x) => el('li', { className: 'mono' }, x))))
                : null,
            ),
          ),
        ),
      );
    })
    .catch((e) => body.replaceChildren(el('p', { className: 'error' }, e.message)));
  return () => {
    gone = true;
  };
}
