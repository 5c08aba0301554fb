import { h, clear, enc, field, fmtTime } from '../dom.js';
import { get, post } from '../api.js';
import { errorArea, attempt } from '../feedback.js';

// Apps come a page at a time (a range read of PAGE keys on the server, whatever the number of apps). The search
// filters the loaded apps by id, name or owner, and asks the server for the ids starting with what is typed, which
// may not be loaded yet.
const PAGE = 100;

export async function renderApps(main, params) {
  const search = h('input', { type: 'search', id: 'app-search', value: params.get('q') || '', placeholder: 'id, name or owner' });
  const body = h('tbody');
  const count = h('p', { class: 'muted', 'aria-live': 'polite' });
  const more = h('button', { type: 'button' }, 'More apps');
  const byId = new Map();
  let last = null;
  let done = false;
  const page = (prefix, after) => get(`/apps?limit=${PAGE}` + (prefix ? `&prefix=${encodeURIComponent(prefix)}` : '') + (after ? `&after=${encodeURIComponent(after)}` : ''));
  const add = apps => apps.forEach(a => byId.set(a.id, a));
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const apps = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const shown = apps.filter(a => !q || [a.id, a.name, a.owner].some(x => (x || '').toLowerCase().includes(q)));
    clear(body, shown.map(a => h('tr', null,
      h('td', null, h('a', { href: `#/apps/${enc(a.id)}` }, a.id)), h('td', null, a.name), h('td', null, a.owner), h('td', null, fmtTime(a.createdAt)))));
    count.textContent = `${shown.length} of ${apps.length}${done ? '' : '+'} apps`;
    more.hidden = done;
  };
  const loadMore = async () => {
    const apps = await page('', last);
    add(apps);
    if (apps.length) last = apps[apps.length - 1].id;
    done = apps.length < PAGE;
    draw();
  };
  const lookUp = async () => {
    const typed = search.value.trim();
    if (typed && !done) {
      add(await page(typed, null));
      draw();
    }
  };
  more.addEventListener('click', loadMore);
  search.addEventListener('input', () => { draw(); lookUp(); });
  await loadMore();
  await lookUp();

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
    more,
    h('h2', null, 'New app'), form);
  return null;
}
