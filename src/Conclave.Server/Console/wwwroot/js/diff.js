import { h } from './dom.js';

// Renders the center's diff entries. Properties diff per key; documents come as one entry (old and new
// document), shown here line by line (a longest-common-subsequence diff, presentation only).
export function renderDiff(entries, label) {
  if (!entries || entries.length === 0) return h('p', { class: 'muted diff-empty' }, 'No differences.');
  if (entries.length === 1 && entries[0].key === '') return documentDiff(entries[0].oldValue || '', entries[0].newValue || '', label);
  return h('table', { class: 'diff', 'aria-label': label || 'Differences' },
    h('thead', null, h('tr', null, ['Key', 'Change', 'Before', 'After'].map(x => h('th', { scope: 'col' }, x)))),
    h('tbody', null, entries.map(e => h('tr', { class: 'diff-' + e.change.toLowerCase() },
      h('td', null, h('code', null, e.key)), h('td', null, e.change),
      h('td', null, e.oldValue === null || e.oldValue === undefined ? '' : h('code', null, e.oldValue)),
      h('td', null, e.newValue === null || e.newValue === undefined ? '' : h('code', null, e.newValue))))));
}

function documentDiff(before, after, label) {
  const a = before.split('\n');
  const b = after.split('\n');
  const lines = lcsDiff(a, b);
  return h('pre', { class: 'diff doc-diff', 'aria-label': label || 'Differences', tabindex: '0' },
    lines.map(([op, text]) => h('span', { class: op === '+' ? 'diff-added' : op === '-' ? 'diff-removed' : 'diff-same' }, `${op} ${text}\n`)));
}

function lcsDiff(a, b) {
  // Documents are at most 256 KiB; past a few thousand lines fall back to whole-document before/after.
  if (a.length * b.length > 4_000_000) return [...a.map(x => ['-', x]), ...b.map(x => ['+', x])];
  const n = a.length, m = b.length;
  const dp = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push([' ', a[i]]); i++; j++; }
    else if (dp[i + 1][j] >= dp[i][j + 1]) out.push(['-', a[i++]]);
    else out.push(['+', b[j++]]);
  }
  while (i < n) out.push(['-', a[i++]]);
  while (j < m) out.push(['+', b[j++]]);
  return out;
}
