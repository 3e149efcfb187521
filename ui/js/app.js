// The dispatcher UI's start: the session (or the login page), the header
// (navigation, stream indicator, alarm sound, language, logout), the alarm
// banner, the navigation tree, the global live stream and the alarm board
// fed by it, and the routes of the views.

import { AlarmSound } from './alarm-sound.js';
import { AlarmBoard } from './alarms.js';
import { ApiError, onLoginNeeded, patch, post, request, setCsrf } from './api.js';
import { byId } from './dom.js';
import { language, onLanguageChange, setLanguage, t } from './i18n.js';
import { LiveValues } from './live-values.js';
import * as router from './router.js';
import { AlarmBanner } from './views/alarm-banner.js';
import { alarmsView } from './views/alarms.js';
import { diagramView, diagramsView } from './views/diagram.js';
import { formView, formsView } from './views/forms.js';
import { homeView } from './views/home.js';
import { reportsView } from './views/reports.js';
import { liveTableView } from './views/live-table.js';
import { hideLogin, initLogin, showLogin } from './views/login.js';
import { meterView } from './views/meter.js';
import { pluginsView } from './views/plugins.js';
import { syncView } from './views/sync.js';
import { StreamIndicator } from './views/stream-indicator.js';
import { SummaryStrip } from './views/summary.js';
import { NavigationTree } from './views/tree.js';

/** The last user's language, for the login page only (the choice itself is kept per user by the host). */
const LANGUAGE_HINT = 'meterhub.language';
const ROLES = ['viewer', 'dispatcher', 'operator', 'admin'];

// A blocked script, style or connection breaks the page quietly: count
// each one where a test (and a developer) can see it.
document.addEventListener('securitypolicyviolation', (e) => {
  document.body.dataset.cspViolations = String(Number(document.body.dataset.cspViolations ?? 0) + 1);
  console.warn(`Content-Security-Policy blocked ${e.blockedURI} (${e.violatedDirective})`);
});

const values = new LiveValues();
const tree = new NavigationTree();
const alarms = new AlarmBoard();
let banner = null;
let summary = null;
let indicator = null;
let session = null;

function atLeast(role, needed) {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

function useLanguage(code) {
  setLanguage(code);
  try {
    localStorage.setItem(LANGUAGE_HINT, code);
  } catch {
    // Storage may be off; the hint is only a convenience.
  }
}

function storedLanguage() {
  try {
    return localStorage.getItem(LANGUAGE_HINT) ?? 'ru';
  } catch {
    return 'ru';
  }
}

function enter(answer) {
  session = answer;
  setCsrf(answer.csrf);
  useLanguage(answer.language ?? 'ru');
  hideLogin();
  byId('topbar').hidden = false;
  byId('workspace').hidden = false;
  byId('summary').hidden = false;
  byId('user-name').textContent = `${answer.user} (${t(`role.${answer.role}`, {}, answer.role)})`;
  byId('nav-plugins').hidden = !atLeast(answer.role, 'dispatcher');
  byId('nav-sync').hidden = !atLeast(answer.role, 'dispatcher');
  banner.setCanAck(atLeast(answer.role, 'dispatcher'));
  alarms.start();
  values.start();
  tree.load();
  startRouting();
}

/** Routing from the user's start page: their composed page, or the one published to their role; else the live table. */
async function startRouting() {
  let start = '#/live';
  try {
    const page = await request('GET', '/api/v1/page');
    if (page.origin !== 'built-in') start = '#/home';
  } catch {
    // The live table, as before pages existed.
  }
  if (session) router.start(byId('view'), start);
}

function leave(message) {
  if (!session) return;
  session = null;
  values.stop();
  tree.stop();
  alarms.stop();
  banner.reset();
  summary.reset();
  byId('summary').hidden = true;
  router.stop();
  setCsrf(null);
  showLogin({ message });
}

async function logout() {
  // Closed first: the host's `closed` event for this logout is expected.
  values.stop();
  try {
    await post('/api/v1/logout');
  } catch {
    // The session is gone either way.
  }
  leave(null);
}

async function toggleLanguage() {
  const next = language() === 'ru' ? 'en' : 'ru';
  try {
    const answer = await patch('/api/v1/session', { language: next });
    useLanguage(answer.language);
  } catch (e) {
    window.alert(t('error.failed', { error: e.message }));
  }
}

function showLanguageToggles() {
  for (const id of ['language-toggle', 'login-language']) {
    // The button names the language it switches to.
    byId(id).textContent = language() === 'ru' ? 'EN' : 'RU';
  }
}

function pluginsRoute(container) {
  if (!atLeast(session?.role ?? 'viewer', 'dispatcher')) {
    container.append(t('plugins.forbidden'));
    return undefined;
  }
  return pluginsView(container);
}

function alarmsRoute(container) {
  const role = session?.role ?? 'viewer';
  return alarmsView(container, alarms, tree, { role, canAck: atLeast(role, 'dispatcher') });
}

function syncRoute(container) {
  if (!atLeast(session?.role ?? 'viewer', 'dispatcher')) {
    container.append(t('plugins.forbidden'));
    return undefined;
  }
  return syncView(container);
}

async function boot() {
  setLanguage(storedLanguage());
  showLanguageToggles();
  initLogin(enter);
  onLoginNeeded(() => leave(t('session.ended')));
  byId('logout').addEventListener('click', logout);
  byId('language-toggle').addEventListener('click', toggleLanguage);
  // The login page's own switch (the user's choice comes with the login).
  byId('login-language').addEventListener('click', () => useLanguage(language() === 'ru' ? 'en' : 'ru'));
  onLanguageChange(() => {
    showLanguageToggles();
    if (session) {
      byId('user-name').textContent = `${session.user} (${t(`role.${session.role}`, {}, session.role)})`;
      tree.render();
      summary.render();
      router.refresh();
    }
  });
  summary = new SummaryStrip(byId('summary'));
  banner = new AlarmBanner(byId('alarm-banner'), byId('nav-alarms-badge'), alarms, tree);
  const sound = new AlarmSound(byId('alarm-sound'));
  alarms.attach(values);
  alarms.addEventListener('raised', (e) => sound.alarm(e.detail));
  // A state on the board changed (silence, a clock ahead): the tree and the
  // summary show it now rather than at their next reload.
  alarms.addEventListener('change', () => session && tree.soon());
  tree.addEventListener('loaded', () => session && summary.load());
  byId('tree-search').addEventListener('input', (e) => tree.search(e.target.value));
  indicator = new StreamIndicator(byId('stream-indicator'), 'stream');
  indicator.attach(values);
  values.addEventListener('change', (e) => tree.saw(e.detail.reading.device));
  // Back after a cut: a tree that could not load then loads now.
  values.addEventListener('state', (e) => e.detail === 'connected' && session && tree.failed && tree.load());
  values.addEventListener('closed', (e) => leave(t('session.closed', { reason: e.detail.reason })));

  router.route('/live', (container) => liveTableView(container, values, tree));
  router.route('/meter/:id', meterView);
  router.route('/plugins', pluginsRoute);
  router.route('/sync', syncRoute);
  router.route('/alarms', alarmsRoute);
  router.route('/diagrams', diagramsView);
  router.route('/diagram/:name', (container, params) => diagramView(container, params, values));
  router.route('/reports', reportsView);
  router.route('/home', (container) => homeView(container, { values, tree, session }));
  router.route('/forms', formsView);
  router.route('/form/:id', (container, params) => formView(container, params, tree));

  try {
    enter(await request('GET', '/api/v1/session'));
  } catch (e) {
    const firstRun = e instanceof ApiError && e.body?.first_run === true;
    showLogin({ firstRun, message: e instanceof ApiError && e.status === 401 ? null : e.message });
  }
}

boot();
