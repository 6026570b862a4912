// Formatting helpers. They return strings; callers render them as text.

const MIN = 60e3;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

function plural(n, unit) { return `${n} ${unit}${n === 1 ? '' : 's'}`; }

/** "3 h ago", "in 12 days", "just now". */
export function relative(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const d = t - now;
  const a = Math.abs(d);
  let s;
  if (a < MIN) return 'just now';
  if (a < HOUR) s = `${Math.round(a / MIN)} min`;
  else if (a < DAY) s = `${Math.round(a / HOUR)} h`;
  else if (a < 60 * DAY) s = plural(Math.round(a / DAY), 'day');
  else if (a < 730 * DAY) s = plural(Math.round(a / (30 * DAY)), 'month');
  else s = plural(Math.round(a / (365 * DAY)), 'year');
  return d < 0 ? `${s} ago` : `in ${s}`;
}

const absoluteFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

/** Local date and time, for titles and full views. */
export function absolute(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '' : absoluteFmt.format(t);
}

export function shortDate(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '' : dateFmt.format(t);
}

/** Days until iso (negative when past). */
export function daysUntil(iso, now = Date.now()) {
  return (Date.parse(iso) - now) / DAY;
}

/** Lines of a textarea: trimmed, non-empty, in order, no duplicates. */
export function lines(text) {
  const seen = new Set();
  const out = [];
  for (const raw of String(text).split(/[\n,]/)) {
    const v = raw.trim();
    if (v && !seen.has(v)) { seen.add(v); out.push(v); }
  }
  return out;
}

/** Scopes are "METHOD /path" and may not be split on commas. */
export function scopeLines(text) {
  const seen = new Set();
  const out = [];
  for (const raw of String(text).split('\n')) {
    const v = raw.trim().replace(/\s+/g, ' ');
    if (v && !seen.has(v)) { seen.add(v); out.push(v); }
  }
  return out;
}
