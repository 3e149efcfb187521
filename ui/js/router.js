// Hash routing: `#/live`, `#/meter/<id>`, `#/alarms`, `#/plugins`,
// `#/sync`. A view is a function (container, params) that renders and
// returns a cleanup function (or nothing); the current view is cleaned up
// before the next one renders.

const routes = [];
let current = null;
let container = null;
let fallback = '#/live';

/** Adds a route: `pattern` like `/meter/:id`. */
export function route(pattern, view) {
  const names = [];
  const regex = new RegExp(
    `^${pattern.replace(/:([a-z]+)/g, (_, name) => {
      names.push(name);
      return '([^/]+)';
    })}$`,
  );
  routes.push({ regex, names, view });
}

function match(hash) {
  const path = hash.replace(/^#/, '') || '/';
  for (const r of routes) {
    const m = r.regex.exec(path);
    if (m) {
      const params = Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
      return { view: r.view, params };
    }
  }
  return null;
}

/** Renders the current hash's view again (after a language change). */
export function refresh() {
  if (!container) return;
  if (current?.cleanup) current.cleanup();
  const found = match(location.hash);
  if (!found) {
    location.hash = fallback;
    return;
  }
  container.replaceChildren();
  current = { cleanup: found.view(container, found.params) };
}

/** Starts routing into `target`; an unknown hash goes to `defaultHash`. */
export function start(target, defaultHash) {
  container = target;
  fallback = defaultHash;
  window.addEventListener('hashchange', refresh);
  refresh();
}

/** Stops routing and cleans up the current view. */
export function stop() {
  window.removeEventListener('hashchange', refresh);
  if (current?.cleanup) current.cleanup();
  current = null;
  if (container) container.replaceChildren();
  container = null;
}

/** The hash of a meter's page. */
export function meterHash(id) {
  return `#/meter/${encodeURIComponent(id)}`;
}

/** The hash of a mimic diagram's page. */
export function diagramHash(name) {
  return `#/diagram/${encodeURIComponent(name)}`;
}
