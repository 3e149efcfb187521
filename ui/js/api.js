// The HTTP API client: JSON in and out, the CSRF token on state-changing
// requests, one place that notices an ended session (401).

import { t } from './i18n.js';

/**
 * What a refused request says in the user's language: the answer's stable
 * `code` translated (a code of its own, else its status's), with the
 * server's detail after it; the detail alone when the code is unknown.
 */
export function errorMessage(status, body) {
  const detail = typeof body?.error === 'string' ? body.error : '';
  const code = body?.code;
  const headline = code ? t(`error.code.${code}`, { status }, '') : '';
  if (!headline) return detail || t('error.status', { status });
  return detail ? `${headline} (${status}): ${detail}` : `${headline} (${status})`;
}

/** A refused or failed API request. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

let csrfToken = null;
let loginNeeded = () => {};

/** The CSRF token of this session (from the login or GET /api/v1/session). */
export function setCsrf(token) {
  csrfToken = token;
}

/** `handler(error)` is called when a request answers 401: the session ended. */
export function onLoginNeeded(handler) {
  loginNeeded = handler;
}

/** `path` with `params` as a query; array values repeat the parameter. */
export function withQuery(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    for (const v of Array.isArray(value) ? value : [value]) query.append(name, String(v));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

const SESSION_PATHS = ['/api/v1/login', '/api/v1/session'];

/** One request; resolves to the parsed JSON body, rejects with ApiError. */
export async function request(method, path, body, { notifyLogin = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (!['GET', 'HEAD'].includes(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, t('error.network', { error: e.message }), null);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, errorMessage(response.status, data), data);
    if (response.status === 401 && notifyLogin && !SESSION_PATHS.includes(path)) loginNeeded(error);
    throw error;
  }
  return data;
}

/** GET `path` with query `params`. */
export function get(path, params) {
  return request('GET', withQuery(path, params));
}

/** POST `body` to `path`. */
export function post(path, body) {
  return request('POST', path, body);
}

/** PATCH `path` with `body`. */
export function patch(path, body) {
  return request('PATCH', path, body);
}

/** A path segment, percent-encoded. */
export function segment(id) {
  return encodeURIComponent(id);
}
