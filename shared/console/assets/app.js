// Keygate console. Every value from the API is rendered as text
// (textContent, text nodes, attribute values), never parsed as HTML.
import { api, deployment, session, APIError } from './api.js';
import { relative, absolute, shortDate, daysUntil, lines, scopeLines } from './format.js';

const PAGE_SIZE = 20;
const $ = (id) => document.getElementById(id);

/** Builds an element; string children become text nodes. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'data') for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = dv;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const state = {
  me: null,
  caps: { audit: null, rotate: null, update: null },
  apiID: '',
  filters: { status: 'active', owner: '' },
  cursors: [''],
  page: 0,
  nextCursor: null,
  keys: [],
  auditCursor: null,
  loadSeq: 0,
};

const isAdmin = () => state.me && state.me.role === 'admin';

function describe(err) {
  if (!(err instanceof APIError)) return 'Something went wrong in the console. Reload the page and try again.';
  const rid = err.requestId ? ` (request ${err.requestId})` : '';
  return `${err.message}${rid}`;
}

/** A 401 in the middle of a session: the key was revoked, expired or disabled. */
function handleAuthLoss(err) {
  if (err instanceof APIError && err.status === 401) {
    signOut('Your key was refused: it may have been revoked, disabled or have expired. Sign in with a valid key.', { error: true });
    return true;
  }
  return false;
}

function flash(message, kind = 'ok') {
  const el = $('flash');
  el.textContent = '';
  if (!message) return;
  el.className = `status-line ${kind}`;
  el.append(h('span', { text: message }));
}

// ---------- sign in / out ----------

function cleanKey(raw) {
  return String(raw).trim().replace(/^bearer\s+/i, '').trim();
}

async function signIn(raw, { restoring = false } = {}) {
  const key = cleanKey(raw);
  const error = $('signin-error');
  error.textContent = '';
  $('signin-status').textContent = '';
  if (!key) {
    error.textContent = 'Paste your API key first.';
    $('token').setAttribute('aria-invalid', 'true');
    $('token').focus();
    return;
  }
  if (/\s/.test(key)) {
    error.textContent = 'That does not look like a key: it contains spaces or line breaks. Paste the key alone.';
    $('token').setAttribute('aria-invalid', 'true');
    $('token').focus();
    return;
  }
  const submit = $('signin-submit');
  submit.disabled = true;
  submit.textContent = 'Signing in…';
  try {
    const me = await api.whoami(key);
    session.set(key);
    state.me = me;
    $('token').value = '';
    $('token').removeAttribute('aria-invalid');
    showApp();
  } catch (err) {
    session.clear();
    let msg;
    if (err instanceof APIError && err.status === 401) {
      msg = 'This key was not accepted: it is mistyped, unknown, revoked, disabled or expired. Check that you pasted the whole key, or ask an admin for a new one.';
    } else if (err instanceof APIError && err.status === 403) {
      msg = 'This key is valid but may not use the management API: its scopes or APIs do not include this API’s GET /v1/whoami. Use a key made for managing keys.';
    } else {
      msg = `Could not sign in. ${describe(err)}`;
    }
    if (restoring) msg = `Your saved session ended. ${msg}`;
    error.textContent = msg;
    $('token').setAttribute('aria-invalid', 'true');
    $('signin-view').hidden = false;
    $('app-view').hidden = true;
    $('token').focus();
  } finally {
    submit.disabled = false;
    submit.textContent = 'Sign in';
  }
}

/**
 * Forgets the key and shows the sign-in form with message: an error
 * (role=alert, error colour) when the key was refused, else a neutral
 * status (role=status), as when the person signs out.
 */
function signOut(message = '', { error = false } = {}) {
  session.clear();
  state.me = null;
  state.caps = { audit: null, rotate: null, update: null };
  state.apiID = '';
  state.keys = [];
  state.cursors = [''];
  state.page = 0;
  state.loadSeq++;
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  $('reveal-token').value = '';
  $('keys-body').textContent = '';
  $('activity-body').textContent = '';
  $('check-key').value = '';
  showCheck(null);
  $('session').hidden = true;
  $('app-view').hidden = true;
  $('signin-view').hidden = false;
  $('signin-error').textContent = error ? message : '';
  $('signin-status').textContent = error ? '' : message;
  flash('');
  $('token').focus();
}

function showApp() {
  const me = state.me;
  $('signin-view').hidden = true;
  $('app-view').hidden = false;
  $('session').hidden = false;
  $('who-short').textContent = `${me.owner} · ${me.role}`;
  $('identity-tenant').textContent = `· ${me.tenant}`;
  $('who-tenant').textContent = me.tenant;
  $('who-owner').textContent = me.owner;
  $('who-role').textContent = '';
  $('who-role').append(badge(me.role, me.role === 'admin' ? 'accent' : 'neutral'), ` ${me.type} key`);
  $('who-hint').textContent = me.hint;
  $('who-expiry').textContent = '';
  $('who-expiry').append(expiryCell(me));
  $('who-leaked').textContent = '';
  $('who-leaked-row').hidden = !me.leaked;
  if (me.leaked) $('who-leaked').append(leakNote(me.leaked));
  $('filter-owner-wrap').hidden = !isAdmin();
  $('filter-status').value = state.filters.status;
  $('filter-owner').value = state.filters.owner;
  selectTab('keys', false);
  renderCapabilityNote();
  probeCapabilities().then(() => loadKeys(true));
  $('main').focus();
}

// ---------- keys ----------

function badge(text, kind = 'neutral') {
  return h('span', { class: `badge badge-${kind}`, text });
}

function timeEl(iso, text) {
  return h('time', { datetime: iso, title: absolute(iso) }, text);
}

function expiryCell(k) {
  if (!k.expires_at) return h('span', { class: 'muted', text: 'never' });
  const days = daysUntil(k.expires_at);
  if (days <= 0) return h('span', { title: absolute(k.expires_at) }, badge('expired', 'danger'));
  const t = timeEl(k.expires_at, relative(k.expires_at));
  if (days < 7) return h('span', {}, badge('soon', 'warn'), ' ', t);
  return t;
}

const STATUS_KIND = { active: 'ok', revoked: 'danger', expired: 'warn', disabled: 'neutral' };

/** The URL as a link target if it is http(s), else null: alert text is untrusted. */
function safeURL(s) {
  try {
    const u = new URL(String(s));
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}

/**
 * A key's leak report (keygate.Leak: at, url, source, type): a Leaked badge,
 * the date, and where, as a link only for an http(s) URL. Every part is
 * alert text from the internet, rendered as text.
 */
function leakNote(l) {
  const href = safeURL(l.url);
  const where = href
    ? h('a', { href, rel: 'noopener noreferrer', target: '_blank', class: 'leak-url', text: l.url })
    : h('span', { class: 'mono leak-url', text: l.url || 'no address given' });
  return h('p', { class: 'leak', data: { leaked: 'true' } },
    badge('Leaked', 'danger'),
    'Found in public ', l.at ? timeEl(l.at, absolute(l.at)) : '', ' at ', where,
    l.source ? ` (${l.source})` : '', '.');
}

function chips(values, max, mono = true) {
  const list = h('ul', { class: 'chips' });
  (values || []).slice(0, max).forEach((v) => list.append(h('li', { class: mono ? 'chip mono' : 'chip', text: v })));
  const rest = (values || []).length - max;
  if (rest > 0) list.append(h('li', { class: 'chip more', title: values.slice(max).join('\n'), text: `+${rest} more` }));
  if (!values || values.length === 0) list.append(h('li', { class: 'muted', text: '—' }));
  return list;
}

function td(label, ...children) {
  return h('td', { data: { label } }, ...children);
}

function keyRow(k) {
  const self = state.me && k.id === state.me.id;
  const name = h('div', { class: 'key-name' });
  if (k.name) name.append(h('span', { class: 'name-text', text: k.name }));
  else name.append(h('span', { class: 'name-text muted unnamed', text: 'Unnamed key' }));
  if (self) name.append(' ', badge('you', 'accent'));
  // An imported key's token is a value made elsewhere: rotate it (docs/import.md).
  if (k.imported) name.append(' ', h('span', { class: 'badge badge-warn', text: 'imported', title: 'Imported with its old value: rotate it for a Keygate token' }));
  const sub = h('div', { class: 'key-sub' }, h('span', { class: 'mono', text: k.hint }));
  if (isAdmin()) sub.append(h('span', { class: 'owner', text: k.type === 'service' ? 'tenant-wide' : `owner ${k.owner}` }));

  const actions = h('div', { class: 'row-actions' });
  const live = k.status === 'active' || k.status === 'disabled';
  const label = k.name || k.hint;
  actions.append(h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Details of ${label}`, onclick: () => openDetails(k) }, 'Details'));
  if (live) {
    if (state.caps.rotate !== false && k.status === 'active') {
      actions.append(h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Rotate ${label}`, onclick: () => openRotate(k) }, 'Rotate'));
    }
    if (state.caps.update !== false) {
      const enabling = k.status === 'disabled';
      actions.append(h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `${enabling ? 'Enable' : 'Disable'} ${label}`, onclick: () => setEnabled(k, enabling) }, enabling ? 'Enable' : 'Disable'));
    }
    actions.append(h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'aria-label': `Revoke ${label}`, onclick: () => openRevoke(k) }, 'Revoke'));
  }

  return h('tr', { data: { id: k.id, status: k.status } },
    td('Name', name, sub),
    td('Type · role', h('div', { class: 'stack' }, badge(k.type, 'neutral'), badge(k.role, k.role === 'admin' ? 'accent' : 'neutral'))),
    td('Scopes', chips(k.scopes, 3)),
    td('APIs', chips(k.apis, 2)),
    td('Created', timeEl(k.created_at, shortDate(k.created_at))),
    td('Expires', expiryCell(k)),
    td('Last used', k.last_used_at ? timeEl(k.last_used_at, relative(k.last_used_at)) : h('span', { class: 'muted', text: 'never' })),
    td('Status', h('span', { class: 'status-cell' }, badge(k.status, STATUS_KIND[k.status] || 'neutral'))),
    td('Actions', actions),
  );
}

function setRegion({ loading = false, error = '', empty = false }) {
  $('keys-region').setAttribute('aria-busy', String(loading));
  $('keys-loading').hidden = !loading;
  $('keys-error').hidden = !error;
  $('keys-error-text').textContent = error;
  $('keys-empty').hidden = !empty;
  $('keys-table').hidden = Boolean(error) || empty;
}

async function loadKeys(reset = false) {
  if (reset) { state.cursors = ['']; state.page = 0; }
  const seq = ++state.loadSeq;
  setRegion({ loading: true });
  try {
    let cursor = state.cursors[state.page];
    let page;
    // A page may be empty while more follow; skip a few such pages.
    for (let hops = 0; ; hops++) {
      page = await api.list({ status: state.filters.status, owner: isAdmin() ? state.filters.owner : '', limit: PAGE_SIZE, cursor });
      if (page.keys.length > 0 || !page.next_cursor || hops >= 4) break;
      cursor = page.next_cursor;
    }
    if (seq !== state.loadSeq) return;
    state.keys = page.keys;
    state.nextCursor = page.next_cursor || null;
    renderKeys();
  } catch (err) {
    if (seq !== state.loadSeq) return;
    if (handleAuthLoss(err)) return;
    let text = describe(err);
    if (err instanceof APIError && err.status === 403) text = `Your key may not list keys here: ${err.message}. Ask an admin for a key whose scopes include GET /v1/keys.`;
    else if (err instanceof APIError && err.status === 0) text = err.message;
    else if (err instanceof APIError && err.status >= 500) text = `The API failed: ${describe(err)}. Try again in a moment; if it keeps failing, give the request ID to your platform team.`;
    state.keys = [];
    $('keys-body').textContent = '';
    setRegion({ error: text });
    updatePager(false);
  }
}

function renderKeys() {
  const body = $('keys-body');
  body.textContent = '';
  for (const k of state.keys) body.append(keyRow(k));
  const empty = state.keys.length === 0;
  if (empty) {
    const filtered = state.filters.status || state.filters.owner;
    $('empty-title').textContent = filtered ? 'No keys match these filters' : 'No keys yet';
    $('empty-text').textContent = filtered
      ? 'Try another status or owner, or create a key.'
      : 'Create a key to give an application, a service or a teammate access to your APIs.';
  }
  setRegion({ empty });
  updatePager(true);
}

function updatePager(ok) {
  $('page-prev').disabled = !ok || state.page === 0;
  $('page-next').disabled = !ok || !state.nextCursor;
  const many = state.page > 0 || state.nextCursor;
  $('page-label').textContent = ok && many ? `Page ${state.page + 1}` : '';
  $('page-prev').hidden = !many;
  $('page-next').hidden = !many;
}

function renderCapabilityNote() {
  const notes = [];
  const { rotate, update } = state.caps;
  if (rotate === false && update === false) notes.push('This deployment cannot rotate, disable or enable keys yet: its API has no such routes.');
  else if (rotate === false) notes.push('This deployment cannot rotate keys yet: its API has no rotate route.');
  else if (update === false) notes.push('This deployment cannot disable or enable keys yet: its API has no update route.');
  $('capability-note').textContent = notes.join(' ');
  $('capability-note').hidden = notes.length === 0;
}

// ---------- dialogs ----------

let opener = null;

function openDialog(d, focusEl) {
  opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  d.showModal();
  if (focusEl) focusEl.focus();
}

function closeDialog(d, focusEl) {
  d.close();
  const target = focusEl || (opener && opener.isConnected ? opener : $('open-create'));
  opener = null;
  if (target) target.focus();
}

/**
 * Builds the chrome the create, revoke and rotate dialogs share around the
 * content the page holds for one: a form NAME-form (NAME is the dialog's id
 * without -dialog) with the heading NAME-title (text from data-title), the
 * content, the error line NAME-error (role=alert), and the buttons
 * NAME-cancel and NAME-submit (text from data-submit, style from data-kind,
 * primary by default). Cancel and Escape close the dialog and return focus;
 * submitting the form calls onSubmit.
 */
function formDialog(d, onSubmit) {
  const name = d.id.replace(/-dialog$/, '');
  const { title, submit, kind = 'primary' } = d.dataset;
  const cancel = () => closeDialog(d);
  d.append(h('form', { id: `${name}-form`, novalidate: true, onsubmit: onSubmit },
    h('div', { class: 'dialog-head' }, h('h2', { id: `${name}-title`, text: title })),
    h('div', { class: 'dialog-body' }, [...d.childNodes], h('p', { class: 'form-error', id: `${name}-error`, role: 'alert' })),
    h('div', { class: 'dialog-foot' },
      h('button', { type: 'button', class: 'btn', id: `${name}-cancel`, onclick: cancel }, 'Cancel'),
      h('button', { type: 'submit', class: `btn btn-${kind}`, id: `${name}-submit` }, submit)),
  ));
  d.addEventListener('cancel', (ev) => { ev.preventDefault(); cancel(); });
}

/** Empties a form dialog's fields and error line before it opens. */
function resetForm(name) {
  $(`${name}-form`).reset();
  $(`${name}-error`).textContent = '';
}

// Create

let createIdempotencyKey = '';

function radio(name) { return document.querySelector(`input[name="${name}"]:checked`).value; }

function syncCreateForm() {
  const admin = isAdmin();
  const type = radio('c-type');
  const role = radio('c-role');
  $('c-owner-wrap').hidden = type === 'service';
  $('c-owner').readOnly = !admin;
  $('c-owner-help').textContent = admin
    ? 'The person the key belongs to. Leave as is for your own key.'
    : 'Viewer keys can only create keys for their own owner.';
  const adminRole = role === 'admin';
  $('c-scopes').disabled = adminRole;
  $('c-scopes-help').textContent = '';
  if (adminRole) $('c-scopes-help').append('Admin keys have every route; scopes do not apply.');
  else $('c-scopes-help').append('One route per line, as ', h('code', { text: 'METHOD /path' }), '; ', h('code', { text: '*' }), ' is any method or one path segment, a trailing ', h('code', { text: '/*' }), ' the rest of the path.');
  $('c-expiry-date').hidden = $('c-expiry').value !== 'custom';
}

function openCreate() {
  const me = state.me;
  const admin = isAdmin();
  resetForm('create');
  $('c-owner').value = me.type === 'service' ? '' : me.owner;
  for (const input of document.querySelectorAll('input[name="c-type"][value="service"], input[name="c-role"][value="admin"]')) {
    input.disabled = !admin;
    input.closest('.choice').classList.toggle('disabled', !admin);
  }
  $('c-role-help').hidden = admin;
  $('c-role-help').textContent = admin ? '' : 'Your key is a viewer key: it can create viewer user keys only, within its own scopes and APIs.';
  $('c-scopes').value = admin ? '' : (me.scopes || []).join('\n');
  $('c-apis').value = defaultAPIs(me).join('\n');
  const tomorrow = new Date(Date.now() + 86400e3);
  $('c-expiry-date').min = tomorrow.toISOString().slice(0, 10);
  if (me.expires_at) $('c-expiry-date').max = me.expires_at.slice(0, 10);
  createIdempotencyKey = crypto.randomUUID();
  syncCreateForm();
  openDialog($('create-dialog'), $('c-name'));
}

/**
 * The apis a new key starts with: this API alone (its id from the route
 * table) when the caller's own apis cover it, the narrowest grant that
 * still manages keys here; else the caller's own, which a new key may not
 * exceed anyway.
 */
function defaultAPIs(me) {
  const own = me.apis || [];
  if (state.apiID && (own.length === 0 || own.includes('*') || own.includes(state.apiID))) return [state.apiID];
  return own;
}

function createBody() {
  const body = {};
  const name = $('c-name').value.trim();
  if (name) body.name = name;
  const type = radio('c-type');
  const role = radio('c-role');
  body.type = type;
  body.role = role;
  if (type === 'user' && isAdmin()) {
    const owner = $('c-owner').value.trim();
    if (owner) body.owner = owner;
  }
  if (role !== 'admin') {
    const scopes = scopeLines($('c-scopes').value);
    if (scopes.length) body.scopes = scopes;
  }
  const apis = lines($('c-apis').value);
  if (apis.length) body.apis = apis;
  const expiry = $('c-expiry').value;
  if (expiry === 'never') body.expires_in_hours = 0;
  else if (expiry === 'custom') {
    const d = $('c-expiry-date').value;
    if (!d) throw new Error('Pick the expiry date, or choose another option.');
    // The end of that day, local time.
    const at = new Date(`${d}T23:59:59`);
    if (Number.isNaN(at.getTime())) throw new Error('That expiry date is not valid.');
    body.expires_at = at.toISOString();
  } else if (expiry !== 'default') body.expires_in_hours = Number(expiry);
  const limit = $('c-rate-limit').value.trim();
  if (limit) body.rate_limit = { limit: wholeNumber(limit, 'The rate limit'), window: $('c-rate-window').value };
  const credits = $('c-credits').value.trim();
  const refill = $('c-refill').value;
  if (credits) {
    const remaining = wholeNumber(credits, 'Credits');
    body.credits = { remaining };
    if (refill) body.credits.refill = { amount: remaining, interval: refill };
  } else if (refill) throw new Error('Give the credits to refill to, or choose “never”.');
  const externalID = $('c-external-id').value.trim();
  if (externalID) body.external_id = externalID;
  const meta = $('c-meta').value.trim();
  if (meta) body.meta = metaObject(meta);
  return body;
}

/** The metadata field's JSON object; the API checks the rest (size, depth). */
function metaObject(text) {
  let meta;
  try {
    meta = JSON.parse(text);
  } catch {
    throw new Error('Metadata must be JSON, like {"plan": "pro"}.');
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw new Error('Metadata must be a JSON object, like {"plan": "pro"}.');
  return meta;
}

/** A form's whole number; the API checks the range. */
function wholeNumber(text, what) {
  if (!/^\d+$/.test(text)) throw new Error(`${what} must be a whole number.`);
  return Number(text);
}

async function submitCreate(ev) {
  ev.preventDefault();
  const error = $('create-error');
  error.textContent = '';
  let body;
  try { body = createBody(); } catch (e) { error.textContent = e.message; return; }
  const submit = $('create-submit');
  submit.disabled = true;
  submit.textContent = 'Creating…';
  try {
    const asked = requestedExpiry(body, Date.now());
    const created = await api.create(body, createIdempotencyKey);
    $('create-dialog').close();
    flash(`Created ${created.name ? `“${created.name}”` : created.hint}.`);
    reveal(created, 'Copy your new key now', asked);
    loadKeys(false);
  } catch (err) {
    if (handleAuthLoss(err)) return;
    error.textContent = err instanceof APIError && err.status === 0 ? err.message : `The key was not created: ${describe(err)}`;
  } finally {
    submit.disabled = false;
    submit.textContent = $('create-dialog').dataset.submit;
  }
}

// Reveal

let revealReturn = null;

function fact(dt, dd) {
  return h('div', {}, h('dt', { text: dt }), h('dd', {}, dd));
}

const DAY = 86400e3;

/**
 * The expiry a create body asks for, in ms since the epoch (Infinity for
 * never). The deployment default is not known here: it is taken to be the
 * signed-in key's own lifetime (a key made with the default, like the
 * first admin key, lasts exactly that), or never.
 */
function requestedExpiry(body, now) {
  if (body.expires_at) return Date.parse(body.expires_at);
  if (body.expires_in_hours === 0) return Infinity;
  if (body.expires_in_hours) return now + body.expires_in_hours * 3600e3;
  const me = state.me;
  if (me && me.expires_at && me.created_at) return now + (Date.parse(me.expires_at) - Date.parse(me.created_at));
  return Infinity;
}

/**
 * Whether to say the expiry was shortened: only when the cap took a day
 * or more off what was asked (asked: ms, Infinity for never, undefined if
 * unknown). A 90-day default capped by a 90-day key made minutes earlier
 * loses minutes, which no one asked about.
 */
function shortened(created, asked) {
  if (!created.expiry_capped || !created.expires_at) return false;
  if (asked === undefined) return true;
  return asked - Date.parse(created.expires_at) >= DAY;
}

function reveal(created, title, asked) {
  revealReturn = opener && opener.isConnected ? opener : $('open-create');
  opener = null;
  $('reveal-title').textContent = title;
  $('reveal-name').textContent = created.name ? `for “${created.name}”` : '';
  $('reveal-token').value = created.token;
  $('reveal-copied').textContent = '';
  $('reveal-ack').checked = false;
  $('reveal-done').disabled = true;
  const facts = $('reveal-facts');
  facts.textContent = '';
  facts.append(
    fact('ID', h('span', { class: 'mono', text: created.id })),
    fact('Owner', `${created.owner} (${created.type}, ${created.role})`),
    fact('Expires', created.expires_at ? `${absolute(created.expires_at)} (${relative(created.expires_at)})` : 'never'),
  );
  const capped = shortened(created, asked);
  $('reveal-capped').hidden = !capped;
  $('reveal-capped').textContent = capped ? 'The expiry was shortened to your own key’s: a key never outlives the key that creates it.' : '';
  $('reveal-dialog').showModal();
  $('reveal-copy').focus();
}

async function copyToken() {
  const input = $('reveal-token');
  let ok = false;
  try {
    await navigator.clipboard.writeText(input.value);
    ok = true;
  } catch {
    input.select();
    try { ok = document.execCommand('copy'); } catch { ok = false; }
  }
  $('reveal-copied').textContent = ok ? 'Copied to the clipboard.' : 'Copy failed: select the key and copy it by hand (Ctrl+C / ⌘C).';
  if (!ok) { input.focus(); input.select(); }
}

function closeReveal() {
  if (!$('reveal-ack').checked) return;
  $('reveal-token').value = '';
  const target = revealReturn && revealReturn.isConnected ? revealReturn : $('open-create');
  revealReturn = null;
  $('reveal-dialog').close();
  target.focus();
}

// Revoke

let revoking = null;

function keyFacts(el, k) {
  el.textContent = '';
  el.append(
    fact('Name', k.name || 'Unnamed key'),
    fact('Key', h('span', { class: 'mono', text: k.hint })),
    fact('Owner', `${k.owner} (${k.type}, ${k.role})`),
  );
}

function openRevoke(k) {
  revoking = k;
  resetForm('revoke');
  $('revoke-title').textContent = `Revoke “${k.name || k.hint}”?`;
  const self = state.me && k.id === state.me.id;
  $('revoke-text').textContent = self
    ? 'This is the key you are signed in with: you will be signed out. Requests with it are refused within seconds. This cannot be undone.'
    : 'Requests with this key are refused within seconds. This cannot be undone.';
  keyFacts($('revoke-facts'), k);
  openDialog($('revoke-dialog'), $('revoke-cancel'));
}

async function submitRevoke(ev) {
  ev.preventDefault();
  const k = revoking;
  const cascade = $('revoke-cascade').checked;
  const submit = $('revoke-submit');
  submit.disabled = true;
  $('revoke-error').textContent = '';
  try {
    const res = await api.revoke(k.id, cascade);
    if (state.me && k.id === state.me.id) { signOut('You revoked the key you were signed in with.'); return; }
    const n = (res.revoked_descendants || []).length;
    let msg = `Revoked “${k.name || k.hint}”.`;
    if (cascade) msg += n === 0 ? ' No keys had been minted from it.' : ` ${n} key${n === 1 ? '' : 's'} minted from it ${n === 1 ? 'was' : 'were'} revoked too.`;
    // The row stays, marked revoked, rather than vanishing under a filter
    // that hides revoked keys; the message says where to find it later.
    const gone = new Set([k.id, ...(res.revoked_descendants || [])]);
    for (const key of state.keys) if (gone.has(key.id)) key.status = 'revoked';
    if (state.filters.status && state.filters.status !== 'revoked') {
      msg += ' It stays in the list, marked revoked, until you refresh; choose Status “Revoked” or “All” to see revoked keys later.';
    }
    $('revoke-dialog').close();
    opener = null;
    renderKeys();
    flash(msg);
    $('flash').focus();
  } catch (err) {
    if (handleAuthLoss(err)) return;
    $('revoke-error').textContent = `The key was not revoked: ${describe(err)}`;
  } finally {
    submit.disabled = false;
  }
}

// Details

let detailing = null;

function detailFacts(k) {
  const facts = [
    fact('ID', h('span', { class: 'mono', text: k.id })),
    fact('Key', h('span', { class: 'mono', text: k.hint })),
    fact('Owner', `${k.owner} (${k.type}, ${k.role})`),
    fact('Status', badge(k.status, STATUS_KIND[k.status] || 'neutral')),
    fact('Created', k.created_at ? absolute(k.created_at) : '—'),
    fact('Expires', k.expires_at ? absolute(k.expires_at) : 'never'),
    fact('Last used', k.last_used_at ? absolute(k.last_used_at) : 'never'),
  ];
  if (k.revoked_at) facts.push(fact('Revoked', absolute(k.revoked_at)));
  if (k.rotated_from) facts.push(fact('Rotated from', h('span', { class: 'mono', text: k.rotated_from })));
  if (k.rotated_to) facts.push(fact('Rotated to', h('span', { class: 'mono', text: k.rotated_to })));
  if (k.external_id) facts.push(fact('External ID', h('span', { class: 'mono', text: k.external_id })));
  if (k.meta) facts.push(fact('Metadata', h('code', { class: 'mono meta', text: JSON.stringify(k.meta) })));
  if (k.rate_limit) facts.push(fact('Rate limit', `${k.rate_limit.limit} per ${k.rate_limit.window}`));
  if (k.credits) {
    const r = k.credits.refill;
    facts.push(fact('Credits', `${k.credits.remaining}${r ? `, refilled to ${r.amount} every ${r.interval}` : ''}`));
  }
  return facts;
}

/** A small meter of what is left, with the numbers as text beside it. */
function usageMeter(label, left, max, note) {
  const id = `usage-${label.toLowerCase().replace(/\W+/g, '-')}`;
  return h('div', { class: 'usage-row' },
    h('span', { class: 'usage-label', id, text: label }),
    h('meter', { min: '0', max: String(Math.max(max, left, 1)), value: String(left), 'aria-labelledby': id }),
    h('span', { class: 'usage-text', text: `${left} of ${max} left${note ? ` · ${note}` : ''}` }));
}

/** The live counters GET /v1/keys/{id} adds for a metered key. */
function renderUsage(k) {
  const box = $('details-usage');
  box.textContent = '';
  const u = k.usage;
  box.hidden = !u;
  if (!u) return;
  box.append(h('h3', { text: 'Usage' }));
  if (u.rate_limit) {
    box.append(usageMeter('This window', u.rate_limit.remaining, u.rate_limit.limit, `resets ${absolute(u.rate_limit.reset_at)}`));
  }
  if (u.credits) {
    const max = Math.max(k.credits ? k.credits.remaining : 0, k.credits && k.credits.refill ? k.credits.refill.amount : 0);
    box.append(usageMeter('Credits', u.credits.remaining, max, u.credits.refill_at ? `refill ${absolute(u.credits.refill_at)}` : 'no refill'));
  }
}

function renderDetails(k) {
  $('details-facts').textContent = '';
  $('details-facts').append(...detailFacts(k));
  renderUsage(k);
  $('details-leak').textContent = '';
  $('details-leak').hidden = !k.leaked;
  if (k.leaked) $('details-leak').append(leakNote(k.leaked));
}

/** Shows what the list has at once, then the key as GET /v1/keys/{id} returns it. */
async function openDetails(k) {
  detailing = k.id;
  $('details-title').textContent = `“${k.name || k.hint}”`;
  $('details-error').textContent = '';
  $('details-dialog').dataset.loaded = 'false';
  renderDetails({ ...k, leaked: null });
  openDialog($('details-dialog'), $('details-close'));
  try {
    const full = await api.get(k.id);
    if (detailing !== k.id) return;
    renderDetails(full);
  } catch (err) {
    if (handleAuthLoss(err)) return;
    if (detailing === k.id) $('details-error').textContent = `Could not read the key: ${describe(err)}`;
  } finally {
    if (detailing === k.id) $('details-dialog').dataset.loaded = 'true';
  }
}

function closeDetails() {
  detailing = null;
  closeDialog($('details-dialog'));
}

// Rotate

let rotating = null;

function openRotate(k) {
  rotating = k;
  resetForm('rotate');
  $('rotate-title').textContent = `Rotate “${k.name || k.hint}”`;
  keyFacts($('rotate-facts'), k);
  openDialog($('rotate-dialog'), $('rotate-grace'));
}

async function submitRotate(ev) {
  ev.preventDefault();
  const k = rotating;
  const grace = Number($('rotate-grace').value);
  const submit = $('rotate-submit');
  submit.disabled = true;
  try {
    // A successor lasts as long as the old key was made to, from now.
    const asked = k.expires_at && k.created_at ? Date.now() + (Date.parse(k.expires_at) - Date.parse(k.created_at)) : Infinity;
    const created = await api.rotate(k.id, grace);
    state.caps.rotate = true;
    $('rotate-dialog').close();
    flash(grace ? `Rotated “${k.name || k.hint}”: the old key keeps working for ${$('rotate-grace').selectedOptions[0].textContent}.` : `Rotated “${k.name || k.hint}”: the old key no longer works.`);
    reveal(created, 'Copy the rotated key now', asked);
    loadKeys(false);
  } catch (err) {
    if (handleAuthLoss(err)) return;
    if (err instanceof APIError && err.missingRoute) {
      state.caps.rotate = false;
      closeDialog($('rotate-dialog'), $('open-create'));
      renderCapabilityNote();
      renderKeys();
      return;
    }
    $('rotate-error').textContent = `The key was not rotated: ${describe(err)}`;
  } finally {
    submit.disabled = false;
  }
}

// Disable / enable

async function setEnabled(k, enabled) {
  try {
    await api.update(k.id, { enabled });
    state.caps.update = true;
    flash(`${enabled ? 'Enabled' : 'Disabled'} “${k.name || k.hint}”.`);
    if (!enabled && state.me && k.id === state.me.id) { signOut('You disabled the key you were signed in with.'); return; }
    loadKeys(false);
  } catch (err) {
    if (handleAuthLoss(err)) return;
    if (err instanceof APIError && err.missingRoute) {
      state.caps.update = false;
      renderCapabilityNote();
      renderKeys();
      $('capability-note').focus();
      return;
    }
    flash(`Could not ${enabled ? 'enable' : 'disable'} “${k.name || k.hint}”: ${describe(err)}`, 'error');
  }
}

// ---------- activity ----------

// The API the console is pointed at may not serve the rotate, update and
// audit routes (a deployment of an earlier Keygate). Its route table
// (console/routes.json) says which it has, so the page asks no route a
// request it expects to fail; a 404/405 on use still turns a control off.
async function probeCapabilities() {
  const me = state.me;
  let d;
  try {
    d = await deployment();
  } catch {
    return; // unreachable now: the controls stay on and a call will say so
  }
  if (state.me !== me) return;
  if (state.caps.rotate === null) state.caps.rotate = d.has('rotate');
  if (state.caps.update === null) state.caps.update = d.has('update');
  state.caps.audit = isAdmin() && d.has('audit');
  state.apiID = d.apiID;
  renderCapabilityNote();
  renderActivityNote();
  if (state.keys.length) renderKeys();
}

function renderActivityNote() {
  const note = $('activity-note');
  let text = '';
  if (!isAdmin()) text = 'Activity is shown to tenant admin keys only.';
  else if (state.caps.audit === false) text = 'Activity is not available on this deployment: its API has no audit route yet.';
  note.textContent = text;
  note.hidden = !text;
  $('tab-activity').classList.toggle('unavailable', Boolean(text));
  if (text) { $('activity-table').hidden = true; $('activity-empty').hidden = true; $('activity-more').hidden = true; }
}

function detailText(d) {
  if (d === null || d === undefined || d === '') return '';
  if (typeof d === 'string') return d;
  return Object.entries(d).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
}

// The names of the tenant's keys by ID, for the activity view: events
// carry IDs only. Read from the list (every status, a few pages) when the
// view opens; an ID not found there is shown alone.
let keyNames = new Map();

async function loadKeyNames() {
  const names = new Map();
  let cursor = '';
  for (let pages = 0; pages < 5; pages++) {
    const page = await api.list({ status: '', limit: 100, cursor });
    for (const k of page.keys) names.set(k.id, k.name || '');
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  keyNames = names;
}

/** A key ID shortened for reading, with its name when known. */
function keyLabel(id) {
  const name = keyNames.get(id);
  return `key ${id.slice(0, 8)}…${name ? ` (${name})` : ''}`;
}

// Actors the API writes for itself (keygate.ActorSecretScanning,
// lifecycle.ActorDynamoDB).
const SYSTEM_ACTORS = { 'keygate:secret-scanning': 'GitHub secret scanning', 'keygate:expiry': 'expiry' };

/** An event's actor as a person reads it: key:ID, operator[:name], or a system actor. */
function actorText(actor) {
  if (!actor) return '';
  if (SYSTEM_ACTORS[actor]) return SYSTEM_ACTORS[actor];
  if (actor.startsWith('key:')) return keyLabel(actor.slice(4));
  if (actor.startsWith('operator:')) return `operator (${actor.slice(9)})`;
  return actor;
}

/** The event's key: its name (when known) next to its full ID. */
function keyCell(id) {
  if (!id) return '';
  const name = keyNames.get(id);
  return h('span', { class: 'stack' }, name ? h('span', { class: 'name-text', text: name }) : null, h('span', { class: 'mono small', text: id }));
}

async function loadActivity(more = false) {
  renderActivityNote();
  if (!isAdmin() || state.caps.audit === false) return;
  if (!more) { state.auditCursor = null; $('activity-body').textContent = ''; }
  try {
    const [res] = await Promise.all([
      api.audit({ limit: 50, cursor: more ? state.auditCursor : '' }),
      more ? null : loadKeyNames().catch(() => {}), // names are a help, not a must
    ]);
    state.caps.audit = true;
    for (const e of res.events || []) {
      $('activity-body').append(h('tr', {},
        td('When', e.at ? timeEl(e.at, relative(e.at)) : ''),
        td('Action', badge(e.action || '', e.action === 'revoked' ? 'danger' : e.action === 'created' ? 'ok' : 'neutral')),
        td('Key', keyCell(e.key_id)),
        td('Actor', actorText(e.actor)),
        td('Detail', detailText(e.detail)),
        td('Request ID', h('span', { class: 'mono small', text: e.request_id || '' })),
      ));
    }
    state.auditCursor = res.next_cursor || null;
    const none = $('activity-body').childElementCount === 0;
    $('activity-table').hidden = none;
    $('activity-empty').hidden = !none;
    $('activity-more').hidden = !state.auditCursor;
  } catch (err) {
    if (handleAuthLoss(err)) return;
    if (err instanceof APIError && err.missingRoute) { state.caps.audit = false; renderActivityNote(); return; }
    $('activity-note').hidden = false;
    $('activity-note').textContent = `Could not load activity: ${describe(err)}`;
  }
}

// ---------- settings ----------

async function loadSettings() {
  const note = $('settings-note');
  const form = $('settings-form');
  $('settings-error').textContent = '';
  if (!isAdmin()) {
    note.textContent = 'Settings are managed by tenant admin keys only.';
    note.hidden = false;
    form.hidden = true;
    return;
  }
  note.hidden = true;
  form.hidden = false;
  delete form.dataset.loaded;
  try {
    const s = await api.settings();
    showSettings(s);
    form.dataset.loaded = 'true';
  } catch (err) {
    if (handleAuthLoss(err)) return;
    note.hidden = false;
    note.textContent = err instanceof APIError && err.missingRoute
      ? 'Settings are not available on this deployment: its API has no settings route.'
      : `Could not load the settings: ${describe(err)}`;
    form.hidden = Boolean(err instanceof APIError && err.missingRoute);
  }
}

function showSettings(s) {
  $('settings-email').value = s.owner_email || '';
  $('settings-days').value = (s.reminder_days || []).join(', ');
  const notify = s.leak_action === 'notify';
  document.querySelector(`input[name="settings-leak"][value="${notify ? 'notify' : 'revoke'}"]`).checked = true;
  $('settings-cascade').checked = Boolean(s.leak_cascade);
  syncLeak();
}

/** Revoking descendants applies only when a leak revokes. */
function syncLeak() {
  $('settings-cascade').disabled = radio('settings-leak') !== 'revoke';
}

async function submitSettings(ev) {
  ev.preventDefault();
  const raw = $('settings-days').value.trim();
  const days = raw === '' ? [] : raw.split(',').map((d) => Number(d.trim()));
  if (days.some((d) => !Number.isInteger(d))) {
    $('settings-error').textContent = 'Reminder windows are whole numbers of days, separated by commas.';
    $('settings-days').focus();
    return;
  }
  const save = $('settings-save');
  save.disabled = true;
  try {
    const s = await api.saveSettings({
      owner_email: $('settings-email').value.trim(),
      reminder_days: days,
      leak_action: radio('settings-leak'),
      leak_cascade: $('settings-cascade').checked,
    });
    showSettings(s);
    $('settings-error').textContent = '';
    flash('Settings saved.');
  } catch (err) {
    if (handleAuthLoss(err)) return;
    $('settings-error').textContent = `The settings were not saved: ${describe(err)}`;
  } finally {
    save.disabled = false;
  }
}

// ---------- check a key ----------

// The pasted key lives in the field until the check is sent, then only in
// that request: it is cleared from the field and never stored.
async function submitCheck(ev) {
  ev.preventDefault();
  const error = $('check-error');
  const key = $('check-key').value.trim();
  const method = $('check-method').value.trim().toUpperCase();
  const path = $('check-path').value.trim();
  error.textContent = '';
  if (!key) {
    error.textContent = 'Paste the key to check.';
    $('check-key').focus();
    return;
  }
  if ((method === '') !== (path === '')) {
    error.textContent = 'Give a method and a path together, or neither.';
    (method ? $('check-path') : $('check-method')).focus();
    return;
  }
  const body = { key };
  if (method) Object.assign(body, { method, path });
  $('check-key').value = '';
  const submit = $('check-submit');
  submit.disabled = true;
  $('check-result').dataset.loaded = 'false';
  try {
    showCheck(await api.verify(body));
  } catch (err) {
    if (handleAuthLoss(err)) return;
    showCheck(null);
    error.textContent = err instanceof APIError && err.status === 403
      ? 'Your key may not check keys: its scopes do not cover POST /v1/verify.'
      : `The key was not checked: ${describe(err)}`;
  } finally {
    submit.disabled = false;
    $('check-result').dataset.loaded = 'true';
  }
}

const checkWords = {
  VALID: 'Valid', NOT_FOUND: 'Not a key of this tenant', EXPIRED: 'Expired', REVOKED: 'Revoked', DISABLED: 'Disabled',
  FORBIDDEN: 'Valid, but not for this call', RATE_LIMITED: 'Rate limited', CREDITS_EXHAUSTED: 'Out of credits',
};

function showCheck(r) {
  const facts = $('check-facts');
  facts.replaceChildren();
  $('check-verdict').textContent = r ? `${checkWords[r.code] || r.code} (${r.code})` : '';
  $('check-result').dataset.code = r ? r.code : '';
  if (!r || !r.key_id) return;
  facts.append(
    fact('Key ID', h('span', { class: 'mono', text: r.key_id })),
    fact('Name', r.name || '—'),
    fact('Owner', r.owner),
    fact('Type', r.type),
    fact('Role', r.role),
    fact('Scopes', (r.scopes || []).join(', ') || '—'),
    fact('APIs', (r.apis || []).join(', ') || '—'),
    fact('Expires', r.expires_at ? absolute(r.expires_at) : 'never'),
  );
  if (r.retry_after !== undefined) facts.append(fact('Retry after', `${r.retry_after} s`));
}

// ---------- tabs ----------

const tabs = ['keys', 'activity', 'settings', 'check'];

function selectTab(name, focus = true) {
  for (const tab of tabs) {
    const on = tab === name;
    const t = $(`tab-${tab}`);
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(`panel-${tab}`).hidden = !on;
    if (on && focus) t.focus();
  }
  if (name === 'activity') loadActivity(false);
  if (name === 'settings') loadSettings();
}

// ---------- wiring ----------

function init() {
  $('signin-form').addEventListener('submit', (ev) => { ev.preventDefault(); signIn($('token').value); });
  $('token').addEventListener('input', () => { $('token').removeAttribute('aria-invalid'); $('signin-error').textContent = ''; $('signin-status').textContent = ''; });
  $('sign-out').addEventListener('click', () => signOut('Signed out. The key was removed from this browser tab.'));

  $('filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.filters.status = $('filter-status').value;
    state.filters.owner = $('filter-owner').value.trim();
    loadKeys(true);
  });
  $('filter-status').addEventListener('change', () => { state.filters.status = $('filter-status').value; loadKeys(true); });
  $('refresh').addEventListener('click', () => loadKeys(false));
  $('keys-retry').addEventListener('click', () => loadKeys(false));
  $('page-next').addEventListener('click', () => {
    if (!state.nextCursor) return;
    state.cursors[state.page + 1] = state.nextCursor;
    state.page++;
    loadKeys(false);
  });
  $('page-prev').addEventListener('click', () => { if (state.page > 0) { state.page--; loadKeys(false); } });

  $('open-create').addEventListener('click', openCreate);
  $('empty-create').addEventListener('click', openCreate);
  formDialog($('create-dialog'), submitCreate);
  $('create-form').addEventListener('change', syncCreateForm);

  $('reveal-copy').addEventListener('click', copyToken);
  $('reveal-ack').addEventListener('change', () => { $('reveal-done').disabled = !$('reveal-ack').checked; });
  $('reveal-done').addEventListener('click', closeReveal);
  // Escape must not throw the only copy of the token away.
  $('reveal-dialog').addEventListener('cancel', (ev) => {
    ev.preventDefault();
    if ($('reveal-ack').checked) closeReveal();
    else $('reveal-copied').textContent = 'Tick “I have stored this key somewhere safe” before closing.';
  });

  formDialog($('revoke-dialog'), submitRevoke);
  formDialog($('rotate-dialog'), submitRotate);
  $('details-close').addEventListener('click', closeDetails);
  $('details-dialog').addEventListener('cancel', (ev) => { ev.preventDefault(); closeDetails(); });
  $('settings-leak-set').addEventListener('change', syncLeak);

  $('tab-keys').addEventListener('click', () => selectTab('keys'));
  $('tab-activity').addEventListener('click', () => selectTab('activity'));
  $('tab-settings').addEventListener('click', () => selectTab('settings'));
  $('activity-more').addEventListener('click', () => loadActivity(true));
  $('settings-form').addEventListener('submit', submitSettings);
  $('tab-check').addEventListener('click', () => selectTab('check'));
  $('check-form').addEventListener('submit', submitCheck);
  document.querySelector('.tabs').addEventListener('keydown', (ev) => {
    if (ev.key !== 'ArrowLeft' && ev.key !== 'ArrowRight' && ev.key !== 'Home' && ev.key !== 'End') return;
    ev.preventDefault();
    const current = tabs.findIndex((t) => $(`tab-${t}`).getAttribute('aria-selected') === 'true');
    const next = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: tabs.length - 1 }[ev.key];
    selectTab(tabs[(next + tabs.length) % tabs.length]);
  });

  const saved = session.get();
  if (saved) signIn(saved, { restoring: true });
  else $('token').focus();
  document.documentElement.dataset.ready = 'true';
}

init();
