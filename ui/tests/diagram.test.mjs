// The diagram viewer's pure parts (node --test; scripts/test runs it):
// the scene (groups, ports and transforms applied, objects expanded, a
// rotated rectangle as a polygon), the runtime (conditions hold and stop
// holding, later actions over earlier, staleness, flags, a hidden signal
// blank and inert, a reading passed into an object's property, a click's
// change kept), and hit-testing (the topmost, lines within a tolerance,
// ellipses by their shape).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import earcut from '../vendor/earcut.js';
import { Grid } from '../js/diagram/grid.js';
import { Runtime, equalValue, holds } from '../js/diagram/runtime.js';
import { Kind, buildScene, primitivesOf } from '../js/diagram/scene.js';

const triangulate = (flat) => earcut(flat);

/** A compiled diagram as the host serves it (docs/diagrams.md, "The compiled form"). */
function diagram(fields = {}) {
  return {
    version: 1,
    name: 't',
    range: [0, 0, 100, 100],
    features: ['valves'],
    groups: [],
    elements: [],
    objects: {},
    actions: [],
    signals: [{ device: 'm1', channel: 'pressure' }, { device: 'secret', channel: 'volume' }],
    ...fields,
  };
}

const rect = (p, more = {}) => ({ k: 'rect', p, c: '000000', f: '00aa00', ...more });
const text = (p, more = {}) => ({ k: 'text', p, text: '—', size: 10, ...more });
const data = (signal, when, effect, element) => ({ producer: { on: 'data', signal, when }, ...effect, target: { to: 'element', element } });

test('groups map their range onto their port after their transform, nested', () => {
  const d = diagram({
    groups: [
      { range: [0, 0, 10, 10], port: [50, 50, 70, 70] },
      { t: [1, 0, 1, 0, -1, 0], g: 0 },
    ],
    elements: [rect([0, 0, 10, 10], { g: 0 }), rect([1, 1, 2, 2], { g: 1 })],
  });
  const scene = buildScene(d, triangulate);
  assert.deepEqual([...scene.bbox.subarray(0, 4)], [50, 50, 70, 70]);
  // x' = x + 1, y' = -y inside the range 0..10 -> 50..70, twice as large.
  assert.deepEqual([...scene.bbox.subarray(4, 8)], [54, 46, 56, 48]);
});

test('an object instance is its elements scaled into its position; a rotated rectangle is a polygon', () => {
  const d = diagram({
    objects: {
      Lamp: {
        range: [-10, -10, 10, 10],
        properties: [{ name: 'On', type: 'boolean', value: 'false' }],
        elements: [{ k: 'ellipse', p: [-10, -10, 10, 10], id: 'bulb', c: '000000' }, text([-5, 5])],
        actions: [],
      },
    },
    groups: [{ t: [0, -1, 0, 1, 0, 0] }],
    elements: [
      { k: 'object', p: [20, 20, 40, 40], object: 'Lamp', props: {} },
      rect([0, 0, 10, 20], { g: 0 }),
    ],
  });
  const scene = buildScene(d, triangulate);
  assert.equal(scene.count, 3);
  assert.deepEqual(primitivesOf(scene, 1), [0, 2]);
  assert.deepEqual([...scene.bbox.subarray(0, 4)], [20, 20, 40, 40]);
  assert.equal(scene.ellipses.length / 6, 1, 'an axis-aligned ellipse is one instance');
  // Rotated by 90°: two triangles and four outline segments, no axis-aligned rectangle.
  assert.equal(scene.rects.length, 0);
  assert.equal(scene.triangles.length / 3, 6);
  assert.deepEqual([...scene.bbox.subarray(8, 12)], [-20, 0, 0, 10]);
  assert.equal(scene.kind[2], Kind.RECT);
});

test('a condition holds while it holds; later actions apply over earlier ones', () => {
  const d = diagram({
    elements: [rect([0, 0, 10, 10]), text([0, 20])],
    actions: [
      data(0, { is: 'above', value: 0.6 }, { do: 'change_fill', value: 'ff0000' }, 1),
      data(0, { is: 'above', value: 0.9 }, { do: 'change_fill', value: '000000' }, 1),
      data(0, { is: 'any' }, { do: 'show_value', decimals: 2, unit: 'МПа' }, 2),
    ],
  });
  const scene = buildScene(d, triangulate);
  const rt = new Runtime(d, scene);
  const fill = () => rt.now.fill[0].toString(16);
  rt.reading(0, { value: '0.7', ts_ms: 1 }, 1000);
  rt.takeDirty();
  assert.equal(fill(), 'ff0000');
  assert.equal(rt.text.get(1), '0.70 МПа');
  rt.reading(0, { value: '0.95', ts_ms: 2 }, 1000);
  rt.takeDirty();
  assert.equal(fill(), '0', 'the later action wins');
  rt.reading(0, { value: '0.5', ts_ms: 3 }, 1000);
  assert.deepEqual(rt.takeDirty(), [0, 1]);
  assert.equal(fill(), 'aa00', 'back in range: as drawn');
});

test('staleness is judged as time passes; flags by the reading', () => {
  const d = diagram({
    elements: [rect([0, 0, 10, 10])],
    actions: [
      data(0, { is: 'stale', seconds: 60 }, { do: 'blink', on: true }, 1),
      data(0, { is: 'flagged' }, { do: 'visibility', value: 'hide' }, 1),
    ],
  });
  const rt = new Runtime(d, buildScene(d, triangulate));
  rt.tick(0);
  rt.takeDirty();
  assert.equal(rt.now.blink[0], 1, 'never heard: stale');
  rt.reading(0, { value: '1', clock_ahead: true }, 10_000);
  rt.takeDirty();
  assert.deepEqual([rt.now.blink[0], rt.now.visible[0]], [0, 0]);
  rt.reading(0, { value: '1' }, 20_000);
  rt.tick(81_000);
  rt.takeDirty();
  assert.deepEqual([rt.now.blink[0], rt.now.visible[0]], [1, 1]);
  assert.equal(rt.blinking, 1);
});

test('a signal the user may not see is blank and never makes an action hold', () => {
  const d = diagram({
    elements: [rect([0, 0, 10, 10]), text([0, 20])],
    actions: [
      data(1, { is: 'above', value: 0 }, { do: 'change_fill', value: 'ff0000' }, 1),
      data(1, { is: 'stale', seconds: 1 }, { do: 'visibility', value: 'hide' }, 1),
      data(1, { is: 'any' }, { do: 'show_value' }, 2),
    ],
  });
  const rt = new Runtime(d, buildScene(d, triangulate), { hidden: [1] });
  assert.equal(rt.text.get(1), '');
  rt.reading(1, { value: '5' }, 0);
  rt.tick(100_000);
  rt.takeDirty();
  assert.deepEqual([rt.now.fill[0].toString(16), rt.now.visible[0]], ['aa00', 1]);
  assert.deepEqual(rt.readout()[1], { device: 'secret', channel: 'volume', index: 1, hidden: true, text: '' });
});

test("a reading passed into an object's property drives the object's own actions", () => {
  const d = diagram({
    objects: {
      Meter: {
        range: [0, 0, 10, 10],
        properties: [{ name: 'Value', type: 'string', value: '—' }, { name: 'Alarm', type: 'boolean', value: 'false' }],
        elements: [rect([0, 0, 10, 10], { id: 'body' }), text([1, 8], { id: 'value' })],
        actions: [
          { producer: { on: 'property', property: 'Value', when: { is: 'any' } }, do: 'show_value', target: { to: 'element', element: 2 } },
          { producer: { on: 'property', property: 'Alarm', when: { is: 'equal', value: 'true' } }, do: 'change_color', value: 'c62828', target: { to: 'element', element: 1 } },
        ],
      },
    },
    elements: [{ k: 'object', p: [0, 0, 50, 50], object: 'Meter', props: {}, id: 'm' }],
    actions: [
      data(0, { is: 'any' }, { do: 'set_property', name: 'Value' }, 1),
      data(0, { is: 'above', value: 10 }, { do: 'set_property', name: 'Alarm', value: 'true' }, 1),
    ],
  });
  const rt = new Runtime(d, buildScene(d, triangulate));
  rt.takeDirty();
  assert.equal(rt.text.get(1), '—', 'the default, shown by the property producer');
  rt.reading(0, { value: '12.5' }, 0);
  rt.takeDirty();
  assert.equal(rt.text.get(1), '12.5');
  assert.equal(rt.now.stroke[0].toString(16), 'c62828');
  rt.reading(0, { value: '3' }, 0);
  rt.takeDirty();
  assert.equal(rt.now.stroke[0], 0, 'no longer above: as drawn');
});

test("a click's change stays; go-to and zoom are the diagram's", () => {
  const d = diagram({
    elements: [rect([0, 0, 10, 10]), rect([20, 0, 30, 10])],
    actions: [
      { producer: { on: 'user', event: 'click', element: 1 }, do: 'visibility', value: 'toggle', target: { to: 'element', element: 2 } },
      { producer: { on: 'user', event: 'click', element: 2 }, do: 'goto', diagram: 'next', target: { to: 'diagram' } },
    ],
  });
  const rt = new Runtime(d, buildScene(d, triangulate));
  assert.ok(rt.interactive(0) && rt.interactive(1));
  assert.deepEqual(rt.user('click', 0), []);
  rt.takeDirty();
  assert.equal(rt.now.visible[1], 0);
  assert.deepEqual(rt.user('click', 1).map((e) => [e.do, e.diagram]), [['goto', 'next']]);
});

test('equal compares numbers as numbers and booleans as 1 and 0', () => {
  assert.ok(equalValue('1.0', '1') && equalValue('true', '1') && equalValue('false', 0) && equalValue('open', 'open'));
  assert.ok(!equalValue('2', '1') && !equalValue('open', 'closed'));
  assert.ok(holds({ is: 'range', min: 1, max: 2 }, '1.5', undefined, 0));
  assert.ok(!holds({ is: 'range', min: 1, max: 2 }, undefined, undefined, 0));
});

test('the hit is the topmost shape under the point: fills, lines within a tolerance, ellipses by their shape', () => {
  const d = diagram({
    elements: [
      rect([0, 0, 50, 50]),
      { k: 'line', p: [0, 100, 100, 0], c: '000000' },
      { k: 'ellipse', p: [60, 60, 100, 100], c: '000000' },
      rect([10, 10, 20, 20], { f: undefined }),
    ],
  });
  const scene = buildScene(d, triangulate);
  const grid = new Grid(scene);
  const any = () => true;
  assert.equal(grid.hit(5, 5, 0.5, any), 0, 'inside the filled rectangle');
  assert.equal(grid.hit(15, 15, 0.5, any), 0, 'inside an unfilled one: the one below');
  assert.equal(grid.hit(10, 15, 0.5, any), 3, 'on the unfilled one\'s edge');
  assert.equal(grid.hit(70, 30.4, 0.5, any), 1, 'near the line');
  assert.equal(grid.hit(80, 60.2, 0.5, any), 2, 'on the ellipse');
  assert.equal(grid.hit(61, 61, 0.5, any), -1, "in the ellipse's box, off the ellipse");
  assert.deepEqual(grid.query(55, 55, 100, 100), [1, 2]);
});
