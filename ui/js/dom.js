// Small DOM helpers: every element is built here, text only through
// textContent (never HTML strings), styles only through classes.

/**
 * An element: `el('td', {className: 'value', dataset: {key: 'x'}}, 'text', child)`.
 * Properties are set as properties (`hidden`, `href`, `value`), `dataset`
 * and `attrs` as attributes; children are nodes or strings.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name === 'attrs') for (const [a, v] of Object.entries(value)) node.setAttribute(a, v);
    else if (name === 'on') for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    else node[name] = value;
  }
  append(node, children);
  return node;
}

/** Appends `children` (nodes, strings, nested arrays; null skipped). */
export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Removes every child of `node`. */
export function clear(node) {
  node.replaceChildren();
  return node;
}

/** The element with `id` (throws when the page lacks it: a broken page). */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

/** A table with a header row of `columns` (strings) and an empty body. */
export function table(className, columns) {
  const head = el('thead', {}, el('tr', {}, columns.map((c) => el('th', { scope: 'col' }, c))));
  const body = el('tbody');
  return { table: el('table', { className }, head, body), body };
}
