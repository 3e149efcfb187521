// The login page: user and password (POST /api/v1/login), and a hint how
// to create the first admin while there is no user.

import { ApiError, post } from '../api.js';
import { byId } from '../dom.js';
import { t } from '../i18n.js';

let loggedIn = () => {};

/** Wires the form once; `onLoggedIn(session)` gets the login's answer. */
export function initLogin(onLoggedIn) {
  loggedIn = onLoggedIn;
  byId('login-form').addEventListener('submit', submit);
}

/** Shows the login page; `firstRun` shows how to create the first admin, `message` why. */
export function showLogin({ firstRun = false, message = null } = {}) {
  byId('topbar').hidden = true;
  byId('workspace').hidden = true;
  byId('login-view').hidden = false;
  byId('first-run').hidden = !firstRun;
  showError(message);
  byId('login-password').value = '';
  byId('login-user').focus();
}

/** Hides it. */
export function hideLogin() {
  byId('login-view').hidden = true;
}

function showError(message) {
  const error = byId('login-error');
  error.hidden = !message;
  error.textContent = message ?? '';
}

async function submit(event) {
  event.preventDefault();
  const button = byId('login-submit');
  button.disabled = true;
  try {
    const session = await post('/api/v1/login', {
      user: byId('login-user').value.trim(),
      password: byId('login-password').value,
    });
    showError(null);
    loggedIn(session);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) showError(t('login.wrong'));
    else if (e instanceof ApiError && e.status === 429) showError(t('login.throttled', { error: e.body?.error ?? e.message }));
    else showError(t('error.failed', { error: e.message }));
  } finally {
    button.disabled = false;
  }
}
