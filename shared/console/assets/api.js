// The management API client. The key lives in sessionStorage only (never
// localStorage, never a URL) and travels in the Authorization header.

const STORAGE_KEY = 'keygate.console.key';

// The API sits next to the page: /console -> /v1/..., and behind an API
// Gateway stage /prod/console -> /prod/v1/...
const base = new URL('.', window.location.href);

export const session = {
  get() {
    try { return window.sessionStorage.getItem(STORAGE_KEY) || ''; } catch { return ''; }
  },
  set(key) { window.sessionStorage.setItem(STORAGE_KEY, key); },
  clear() {
    try { window.sessionStorage.removeItem(STORAGE_KEY); } catch { /* storage disabled */ }
  },
};

/** An error from the API, with its HTTP status and envelope. */
export class APIError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
  /** 404 or 405 from a route: the deployment does not have it. */
  get missingRoute() { return this.status === 404 || this.status === 405; }
}

/**
 * Calls the API with the session's key. path is relative to the API base
 * ("v1/keys"); query is an object of non-empty values.
 */
async function call(method, path, { query, body, key, headers: extra } = {}) {
  const url = new URL(path, base);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  }
  const headers = { Accept: 'application/json', ...(extra || {}) };
  const token = key ?? session.get();
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer', redirect: 'error' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch {
    throw new APIError(0, 'network', 'The API could not be reached. Check your connection and try again.', '');
  }
  let data = null;
  const text = await resp.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!resp.ok) {
    const e = data && data.error;
    const rid = (e && e.request_id) || resp.headers.get('X-Request-Id') || '';
    throw new APIError(resp.status, (e && e.code) || `http_${resp.status}`, (e && e.message) || `The API answered ${resp.status}.`, rid);
  }
  if (data === null) throw new APIError(resp.status, 'bad_response', 'The API sent an unreadable answer.', '');
  return data;
}

// The API's routes, from the deployment that serves this page (the Go
// route table at console/routes.json): the page keeps no copy of them.
let routes = null;

function loadRoutes() {
  routes ??= fetch(new URL('console/routes.json', base), { cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer', redirect: 'error' })
    .then((resp) => (resp.ok ? resp.json() : Promise.reject(new Error(`routes: ${resp.status}`))))
    .then((data) => ({ ops: new Map(data.routes.map((r) => [r.op, r])), apiID: data.api_id || '' }))
    .catch(() => {
      routes = null; // try again on the next call
      throw new APIError(0, 'network', 'The API could not be reached. Check your connection and try again.', '');
    });
  return routes;
}

/**
 * Calls the operation op ("list", "rotate", ...) on its route; id fills
 * the route's {id}. A deployment without the operation answers as it
 * would for a missing route (404).
 */
async function operation(op, { id, ...options } = {}) {
  const route = (await loadRoutes()).ops.get(op);
  if (!route) throw new APIError(404, 'not_found', `This deployment has no ${op} route.`, '');
  return call(route.method, route.path.slice(1).replace('{id}', encodeURIComponent(id)), options);
}

/**
 * What the deployment serves: has(op) says whether its route table has the
 * operation (so the page never probes a route with a request), apiID is
 * the id of the API serving the page ('' if the table does not say).
 */
export async function deployment() {
  const { ops, apiID } = await loadRoutes();
  return { has: (op) => ops.has(op), apiID };
}

export const api = {
  whoami: (key) => operation('whoami', { key }),
  list: (query) => operation('list', { query }),
  get: (id) => operation('get', { id }),
  create: (body, idempotencyKey) => operation('create', { body, headers: idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {} }),
  revoke: (id, cascade) => operation('revoke', { id, query: cascade ? { cascade: 'true' } : {} }),
  rotate: (id, graceSeconds) => operation('rotate', { id, body: { grace_seconds: graceSeconds } }),
  update: (id, patch) => operation('update', { id, body: patch }),
  audit: (query) => operation('audit', { query }),
  settings: () => operation('settings'),
  saveSettings: (body) => operation('save_settings', { body }),
  // POST /v1/verify is served by its own function, outside routes.json.
  verify: (body) => call('POST', 'v1/verify', { body }),
};
