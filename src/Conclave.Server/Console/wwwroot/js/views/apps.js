import { h, clear, enc, field, fmtTime } from '../dom.js';
import { get, post } from '../api.js';
import { errorArea, attempt } from '../feedback.js';

export async function renderApps(main, params) {
  const apps = await get('/apps');
  const search = h('input', { type: 'search', id: 'app-search', value: params.get('q') || '', placeholder: 'id, name or owner' });
  const body = h('tbody');
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const shown = apps.filter(a => !q || [a.id, a.name, a.owner].some(x => (x || '').toLowerCase().includes(q)));
    clear(body, shown.map(a => h('tr', null,
      h('td', null, h('a', { href: `#/apps/${enc(a.id)}` }, a.id)), h('td', null, a.name), h('td', null, a.owner), h('td', null, fmtTime(a.createdAt)))));
    count.textContent = `${shown.length} of ${apps.length} apps`;
  };
  search.addEventListener('input', draw);
  draw();

  const id = h('input', { name: 'id', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}' });
  const name = h('input', { name: 'name' });
  const owner = h('input', { name: 'owner' });
  const error = errorArea();
  const form = h('form', { class: 'inline-form', 'aria-label': 'New app' },
    field('App id', id), field('Name', name), field('Owner', owner), h('button', { type: 'submit' }, 'Create app'), error);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const created = await attempt(error, () => post('/apps', { id: id.value.trim(), name: name.value.trim() || null, owner: owner.value.trim() || null }));
    if (created) location.hash = `#/apps/${enc(created.id)}`;
  });

  clear(main,
    h('h1', null, 'Applications'),
    field('Search apps', search), count,
    h('table', { 'aria-label': 'Applications' },
      h('thead', null, h('tr', null, ['App', 'Name', 'Owner', 'Created'].map(x => h('th', { scope: 'col' }, x)))), body),
    h('h2', null, 'New app'), form);
  return null;
}
