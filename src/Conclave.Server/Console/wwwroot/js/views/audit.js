import { h, clear, enc, field, fmtTime } from '../dom.js';
import { get } from '../api.js';
import { appPicker } from '../appPicker.js';

const ACTIONS = ['', 'app.', 'env.', 'namespace.', 'item.', 'content.', 'schema.', 'release.', 'gray.', 'access.', 'credential.', 'secret.', 'keys.', 'settings.', 'denied'];

// A datetime-local value (the browser's time zone) as an instant, and back: the API filters on instants.
const toInstant = v => (v ? new Date(v).toISOString() : '');
const toLocal = iso => {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = n => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};

export async function renderAudit(main, params) {
  const q = k => params.get(k) || '';
  const query = new URLSearchParams();
  for (const k of ['app', 'author', 'action', 'q', 'since', 'until']) if (q(k)) query.set(k, q(k));
  query.set('limit', '500');
  const entries = await get('/audit?' + query.toString());
  const picker = appPicker('app', q('app'), 'all apps');
  const app = picker.input;
  const author = h('input', { name: 'author', value: q('author'), size: 12 });
  const action = h('select', { name: 'action' }, ACTIONS.map(a => h('option', { value: a, selected: a === q('action') }, a ? a + '*' : 'any action')));
  const text = h('input', { name: 'q', type: 'search', value: q('q'), size: 20 });
  const since = h('input', { name: 'since', type: 'datetime-local', value: toLocal(q('since')) });
  const until = h('input', { name: 'until', type: 'datetime-local', value: toLocal(q('until')) });
  const form = h('form', { class: 'inline-form', 'aria-label': 'Filter audit' },
    field('App', picker.element), field('Author', author), field('Action', action), field('Target or detail contains', text),
    field('From (local time)', since), field('Until (local time)', until), h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', e => {
    e.preventDefault();
    const next = new URLSearchParams();
    if (app.value.trim()) next.set('app', app.value.trim());
    if (author.value.trim()) next.set('author', author.value.trim());
    if (action.value) next.set('action', action.value);
    if (text.value.trim()) next.set('q', text.value.trim());
    if (since.value) next.set('since', toInstant(since.value));
    if (until.value) next.set('until', toInstant(until.value));
    location.hash = '#/audit?' + next.toString();
  });
  clear(main, h('h1', null, 'Audit'), form,
    h('p', { class: 'muted' }, `${entries.length} entries, newest first.`),
    h('table', { class: 'audit', 'aria-label': 'Audit entries' },
      h('thead', null, h('tr', null, ['When', 'App', 'Author', 'Action', 'Target', 'Detail', 'From', 'Request'].map(x => h('th', { scope: 'col' }, x)))),
      h('tbody', null, entries.map(e => h('tr', null, h('td', { class: 'nowrap' }, fmtTime(e.at)), h('td', null, h('a', { href: `#/apps/${enc(e.app)}` }, e.app)),
        h('td', null, e.author), h('td', { class: 'nowrap' }, h('code', null, e.action)), h('td', null, e.target), h('td', null, e.detail), h('td', null, e.from || ''), h('td', null, e.requestId || ''))))));
  return null;
}
