import { h, fmtNum, badge } from './dom.js';

// Evaluation insight of a flags namespace (docs/feature-flags.md): what the live fleet serves per flag, from
// GET .../flags/usage ({releaseId, staleDays, flags: [{flag, variants, instances, lastEvaluated, stale}]}).

const DAY = 86_400_000;
const plural = (n, word) => `${fmtNum(n)} ${word}${n === 1 ? '' : 's'}`;

// lastEvaluated is a UTC day ("2026-01-05T00:00:00+00:00"): shown as 2026-01-05.
export const utcDay = iso => new Date(iso).toISOString().slice(0, 10);

// Whole days from a UTC day to today (UTC).
export function daysSince(iso, now = Date.now()) {
  const today = new Date(now);
  return Math.round((Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()) - Date.parse(iso)) / DAY);
}

// A share as a whole percentage; a share that rounds to 0 or 100 without being it says so.
export function percent(count, total) {
  const p = 100 * count / total;
  if (p > 0 && p < 1) return '<1%';
  if (p > 99 && p < 100) return '>99%';
  return `${Math.round(p)}%`;
}

// The variants served, most served first: [{variant, count}].
export function served(entry) {
  return Object.entries(entry.variants || {}).map(([variant, count]) => ({ variant, count: Number(count) }))
    .filter(v => v.count > 0)
    .sort((a, b) => b.count - a.count || (a.variant < b.variant ? -1 : a.variant > b.variant ? 1 : 0));
}

// "on 75% · off 25% of 40 evaluations, 3 instances"; null when nothing was served.
export function usageText(entry) {
  const list = served(entry);
  const total = list.reduce((s, v) => s + v.count, 0);
  if (total === 0) return null;
  return `${list.map(v => `${v.variant} ${percent(v.count, total)}`).join(' · ')} of ${plural(total, 'evaluation')}, ${plural(entry.instances, 'instance')}`;
}

// Why a stale flag is stale (the badge's tooltip).
export function staleReason(entry, report, now = Date.now()) {
  if (!entry.lastEvaluated) return `Never evaluated, and the main release r${report.releaseId} is older than ${plural(report.staleDays, 'day')}`;
  return `Not evaluated for ${plural(daysSince(entry.lastEvaluated, now), 'day')}: last evaluated on ${utcDay(entry.lastEvaluated)} (stale after ${plural(report.staleDays, 'day')})`;
}

// The list's cell for one flag: a bar per variant with the shares as text, or why there is none; a stale badge.
export function usageCell(entry, report) {
  const stale = entry.stale ? [badge('stale', 'warn stale'), ' '] : null;
  if (stale) stale[0].title = staleReason(entry, report);
  const text = usageText(entry);
  if (!text) {
    const why = entry.lastEvaluated ? `no evaluations by the live instances (last evaluated on ${utcDay(entry.lastEvaluated)})` : 'not evaluated yet';
    return [stale, h('span', { class: 'muted' }, why)];
  }
  const list = served(entry);
  const total = list.reduce((s, v) => s + v.count, 0);
  const segments = list.map((v, i) => {
    const seg = h('span', { class: `seg v${i % 6}`, title: `${v.variant}: ${fmtNum(v.count)} (${percent(v.count, total)})` });
    seg.style.width = `${100 * v.count / total}%`;
    return seg;
  });
  // The text says it all; the bar is a picture of it.
  return [stale, h('div', { class: 'bar usage-bar', 'aria-hidden': 'true' }, segments), h('span', { class: 'usage-text' }, text),
    entry.lastEvaluated ? h('div', { class: 'muted small-note' }, `last evaluated on ${utcDay(entry.lastEvaluated)}`) : null];
}
