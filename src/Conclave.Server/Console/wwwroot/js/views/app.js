import { h, clear, enc, field, fmtTime, badge } from '../dom.js';
import { get, post } from '../api.js';
import { errorArea, attempt } from '../feedback.js';
import { renderDiff } from '../diff.js';
import { managesApp } from '../access.js';
import { renderAccess } from './access.js';
import { renderCredentials } from './credentials.js';
import { renderWebhooks } from './webhooks.js';

const FORMATS = ['properties', 'json', 'yaml', 'text'];

const VIEWS = [['namespaces', 'Namespaces'], ['access', 'Access'], ['credentials', 'Credentials'], ['webhooks', 'Webhooks']];

export async function renderApp(main, app, params) {
  const [info, envs, access] = await Promise.all([get(`/apps/${enc(app)}`), get(`/apps/${enc(app)}/envs`), get(`/apps/${enc(app)}/access`)]);
  const view = params.get('view') || 'namespaces';
  const manage = managesApp(access);
  const env = params.get('env') || (envs[0] && envs[0].name);
  const viewHref = (v, e) => `#/apps/${enc(app)}?${v === 'namespaces' ? '' : `view=${v}&`}${e ? `env=${enc(e)}` : ''}`;
  const viewNav = h('nav', { class: 'tabs', 'aria-label': 'App views' },
    VIEWS.map(([id, label]) => h('a', { href: viewHref(id, env), 'aria-current': id === view ? 'page' : null }, label)));
  const head = [
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/apps' }, 'Applications'), ' / ', app),
    h('h1', null, info.name === info.id ? app : `${app} — ${info.name}`),
    h('p', { class: 'muted' }, `owner ${info.owner} · created ${fmtTime(info.createdAt)} by ${info.createdBy} · `,
      h('a', { href: `#/audit?app=${enc(app)}` }, 'audit')),
    viewNav,
  ];
  if (view === 'access') {
    const section = h('section', { 'aria-label': 'Access' });
    clear(main, ...head, section);
    return renderAccess(section, { app, access, envs, manage });
  }
  if (view === 'webhooks') {
    const section = h('section', { 'aria-label': 'Webhooks' });
    clear(main, ...head, section);
    return renderWebhooks(section, { app, envs, manage });
  }
  const envNav = h('nav', { class: 'tabs', 'aria-label': 'Environments' },
    envs.map(e => h('a', { href: viewHref(view, e.name), 'aria-current': e.name === env ? 'page' : null }, e.name)));
  if (view === 'credentials') {
    const section = h('section', { 'aria-label': 'Credentials' });
    clear(main, ...head, envNav, section);
    if (!env) { clear(section, h('p', { class: 'muted' }, 'No environments yet: credentials belong to an app and an environment.')); return null; }
    return renderCredentials(section, { app, env, manage });
  }

  const envName = h('input', { name: 'env', required: true, size: 10 });
  const envError = errorArea();
  const envForm = h('form', { class: 'inline-form', 'aria-label': 'New environment' },
    field('Environment name', envName), h('button', { type: 'submit' }, 'Add environment'), envError);
  envForm.addEventListener('submit', async e => {
    e.preventDefault();
    const created = await attempt(envError, () => post(`/apps/${enc(app)}/envs`, { name: envName.value.trim() }));
    if (created) location.hash = `#/apps/${enc(app)}?env=${enc(created.name)}`;
  });

  const sections = [...head, envNav, manage ? envForm : null];
  if (env) sections.push(await environmentSection(app, env, envs, manage));
  else sections.push(h('p', { class: 'muted' }, 'No environments yet: add one (for example DEV or PRO).'));
  clear(main, ...sections);
  return null;
}

async function environmentSection(app, env, envs, manage) {
  const overview = await get(`/apps/${enc(app)}/envs/${enc(env)}/overview`);
  const rows = overview.map(n => h('tr', null,
    h('td', null, h('a', { href: `#/apps/${enc(app)}/${enc(env)}/${enc(n.name)}` }, n.name)),
    h('td', null, n.format.toLowerCase()),
    h('td', null, n.head ? `r${n.head.id} ${n.head.title ? '“' + n.head.title + '”' : ''} by ${n.head.author}, ${fmtTime(n.head.createdAt)}` : h('span', { class: 'muted' }, 'never published')),
    h('td', null,
      n.unpublished ? badge('unpublished changes', 'warn') : badge('published', 'ok'),
      n.gray ? [' ', badge(`gray r${n.gray.releaseId}`, 'gray')] : null),
    h('td', null, `${n.updatedBy}, ${fmtTime(n.updatedAt)}`)));

  const nsName = h('input', { name: 'namespace', required: true, size: 16 });
  const nsFormat = h('select', { name: 'format' }, FORMATS.map(f => h('option', { value: f }, f)));
  const nsError = errorArea();
  const nsForm = h('form', { class: 'inline-form', 'aria-label': 'New namespace' },
    field('Namespace name', nsName), field('Format', nsFormat), h('button', { type: 'submit' }, 'Create namespace'), nsError);
  nsForm.addEventListener('submit', async e => {
    e.preventDefault();
    const created = await attempt(nsError, () => post(`/apps/${enc(app)}/envs/${enc(env)}/namespaces`, { name: nsName.value.trim(), format: nsFormat.value }));
    if (created) location.hash = `#/apps/${enc(app)}/${enc(env)}/${enc(created.name)}`;
  });

  return h('section', { 'aria-label': `Environment ${env}` },
    h('h2', null, `Namespaces in ${env}`),
    overview.length === 0 ? h('p', { class: 'muted' }, 'No namespaces yet.') :
      h('table', { 'aria-label': `Namespaces in ${env}` },
        h('thead', null, h('tr', null, ['Namespace', 'Format', 'Latest release', 'State', 'Last edit'].map(x => h('th', { scope: 'col' }, x)))),
        h('tbody', null, rows)),
    manage ? [h('h3', null, 'New namespace'), nsForm] : null,
    compareSection(app, env, envs, overview.map(n => n.name)));
}

function compareSection(app, env, envs, names) {
  const ns = h('select', { name: 'compare-ns' }, names.map(n => h('option', { value: n }, n)));
  const a = h('select', { name: 'compare-a' }, envs.map(e => h('option', { value: e.name, selected: e.name === env }, e.name)));
  const b = h('select', { name: 'compare-b' }, envs.map(e => h('option', { value: e.name, selected: e.name !== env }, e.name)));
  const out = h('div', { 'aria-live': 'polite' });
  const error = errorArea();
  const form = h('form', { class: 'inline-form', 'aria-label': 'Compare environments' },
    field('Namespace', ns), field('Environment A', a), field('Environment B', b), h('button', { type: 'submit' }, 'Compare'), error);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const diff = await attempt(error, () => get(`/apps/${enc(app)}/diff?ns=${enc(ns.value)}&envA=${enc(a.value)}&envB=${enc(b.value)}`));
    if (diff) clear(out, h('h4', null, `${ns.value}: ${a.value} → ${b.value} (main releases)`), renderDiff(diff, `Differences between ${a.value} and ${b.value}`));
  });
  return h('section', { 'aria-label': 'Compare across environments' }, h('h2', null, 'Compare across environments'),
    names.length && envs.length > 1 ? [form, out] : h('p', { class: 'muted' }, 'Needs a namespace and at least two environments.'));
}
