import { h, clear, enc, field, fmtTime, badge, modal } from '../dom.js';
import { get, post, del } from '../api.js';
import { errorArea, attempt, flash, reload } from '../feedback.js';
import { renderDiff } from '../diff.js';
import { managesApp } from '../access.js';
import { renderAccess } from './access.js';
import { renderCredentials } from './credentials.js';
import { renderWebhooks } from './webhooks.js';

const FORMATS = ['properties', 'json', 'yaml', 'text', 'flags'];

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
  sections.push(transferSection(app, manage));
  if (manage) sections.push(dangerSection(app, env));
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
  const nsPublic = h('input', { type: 'checkbox', name: 'public' });
  const nsError = errorArea();
  const nsForm = h('form', { class: 'inline-form', 'aria-label': 'New namespace' },
    field('Namespace name', nsName), field('Format', nsFormat),
    h('label', { class: 'check' }, nsPublic, ' Public (other apps may associate it)'), h('button', { type: 'submit' }, 'Create namespace'), nsError);
  nsForm.addEventListener('submit', async e => {
    e.preventDefault();
    const created = await attempt(nsError, () => post(`/apps/${enc(app)}/envs/${enc(env)}/namespaces`, { name: nsName.value.trim(), format: nsFormat.value, public: nsPublic.checked }));
    if (created) location.hash = `#/apps/${enc(app)}/${enc(env)}/${enc(created.name)}`;
  });

  // Associating another app's public namespace (same environment, same name) makes this app's own copy, whose items override the base's.
  const baseApp = h('input', { name: 'base-app', required: true, size: 14 });
  const baseNs = h('input', { name: 'public-namespace', required: true, size: 16 });
  const assocError = errorArea();
  const assocForm = h('form', { class: 'inline-form', 'aria-label': 'Associate a public namespace' },
    field('Base app', baseApp), field('Public namespace', baseNs), h('button', { type: 'submit' }, 'Associate'), assocError);
  assocForm.addEventListener('submit', async e => {
    e.preventDefault();
    const name = baseNs.value.trim();
    const made = await attempt(assocError, () => post(`/apps/${enc(app)}/envs/${enc(env)}/namespaces/${enc(name)}/associate`, { baseApp: baseApp.value.trim() }));
    if (made) location.hash = `#/apps/${enc(app)}/${enc(env)}/${enc(made.name)}`;
  });

  return h('section', { 'aria-label': `Environment ${env}` },
    h('h2', null, `Namespaces in ${env}`),
    overview.length === 0 ? h('p', { class: 'muted' }, 'No namespaces yet.') :
      h('table', { 'aria-label': `Namespaces in ${env}` },
        h('thead', null, h('tr', null, ['Namespace', 'Format', 'Latest release', 'State', 'Last edit'].map(x => h('th', { scope: 'col' }, x)))),
        h('tbody', null, rows)),
    manage ? [h('h3', null, 'New namespace'), nsForm, h('h3', null, 'Associate a public namespace of another app'), assocForm] : null,
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

// Deleting an environment or the app: each confirmed by typing its name. The member refuses while something is
// left inside (an environment with namespaces, an app with environments) and says what; that answer is shown.
function dangerSection(app, env) {
  const error = errorArea();
  const deleteEnv = env ? h('button', { type: 'button', class: 'danger' }, `Delete environment ${env}`) : null;
  const deleteApp = h('button', { type: 'button', class: 'danger' }, `Delete app ${app}`);
  if (deleteEnv) {
    deleteEnv.addEventListener('click', async () => {
      if (!(await confirmByName(`Delete environment ${app}/${env}?`, 'Its credentials and grants go with it. An environment that still has namespaces is refused: delete them first.', env))) return;
      const done = await attempt(error, () => del(`/apps/${enc(app)}/envs/${enc(env)}`));
      if (done !== undefined) { flash(`Deleted environment ${env}`); go(`#/apps/${enc(app)}`); }
    });
  }
  deleteApp.addEventListener('click', async () => {
    if (!(await confirmByName(`Delete app ${app}?`, 'Its access record and audit go with it. An app that still has environments is refused: delete them first.', app))) return;
    const done = await attempt(error, () => del(`/apps/${enc(app)}`));
    if (done !== undefined) { flash(`Deleted app ${app}`); go('#/apps'); }
  });
  return h('section', { 'aria-label': 'Delete' }, h('h2', null, 'Delete'), h('div', { class: 'actions' }, deleteEnv, deleteApp), error);
}

// A modal that enables its Delete button only once the name is typed exactly.
function confirmByName(title, explanation, name) {
  return modal(title, close => {
    const typed = h('input', { name: 'confirm-name', autocomplete: 'off' });
    const yes = h('button', { type: 'button', class: 'danger', disabled: true }, 'Delete');
    const no = h('button', { type: 'button' }, 'Cancel');
    typed.addEventListener('input', () => { yes.disabled = typed.value !== name; });
    yes.addEventListener('click', () => close(true));
    no.addEventListener('click', () => close(false));
    return h('div', null, h('p', null, explanation), field(`Type ${name} to confirm`, typed), h('div', { class: 'actions' }, yes, no));
  });
}

// Navigates, or renders again when already there (the same hash fires no hashchange).
function go(hash) {
  if (location.hash === hash) reload(); else location.hash = hash;
}

// Export downloads the app's export file; import (owner and admins) runs a dry run first and shows what each
// namespace would get, and only the confirm button writes.
function transferSection(app, manage) {
  const error = errorArea();
  const exportButton = h('button', { type: 'button' }, 'Export');
  exportButton.addEventListener('click', async () => {
    const file = await attempt(error, () => get(`/apps/${enc(app)}/export`));
    if (!file) return;
    const url = URL.createObjectURL(new Blob([JSON.stringify(file, null, 2)], { type: 'application/json' }));
    const link = h('a', { href: url, download: `${app}.conclave.json`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 0);
  });
  if (!manage) return h('section', { 'aria-label': 'Export and import' }, h('h2', null, 'Export'), exportButton, error);

  const fileInput = h('input', { type: 'file', name: 'import-file', accept: 'application/json,.json' });
  const overwrite = h('input', { type: 'checkbox', name: 'overwrite' });
  const preview = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'inline-form', 'aria-label': 'Import' },
    field('Export file', fileInput), h('label', { class: 'check' }, overwrite, ' Overwrite namespaces that differ'),
    h('button', { type: 'submit' }, 'Dry run'));
  let parsed = null;
  const run = dryRun => post(`/apps/${enc(app)}/import?dryRun=${dryRun}&overwrite=${overwrite.checked}`, parsed);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    clear(preview);
    error.hide();
    const file = fileInput.files[0];
    if (!file) { error.show('Choose an export file first.'); return; }
    try { parsed = JSON.parse(await file.text()); } catch (x) { error.show(`${file.name} is not JSON: ${x.message}`); return; }
    const result = await attempt(error, () => run(true));
    if (!result) return;
    const confirm = h('button', { type: 'button', class: 'primary' }, 'Import for real');
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      const done = await attempt(error, () => run(false));
      confirm.disabled = false;
      if (done) clear(preview, h('h3', null, 'Imported'), outcomes(done, 'Import result'));
    });
    clear(preview, h('h3', null, `Dry run of ${file.name}${overwrite.checked ? ' (overwrite)' : ''}: nothing written yet`),
      outcomes(result, 'Import dry run'), h('div', { class: 'actions' }, confirm));
  });
  // Changing the options after a dry run asks for a new one, so what is confirmed is what was shown.
  for (const input of [fileInput, overwrite]) input.addEventListener('change', () => clear(preview));
  return h('section', { 'aria-label': 'Export and import' }, h('h2', null, 'Export and import'),
    h('div', { class: 'actions' }, exportButton), form, preview, error);
}

function outcomes(result, label) {
  return h('table', { 'aria-label': label },
    h('thead', null, h('tr', null, ['Environment', 'Namespace', 'Outcome', 'Detail', 'Changes'].map(x => h('th', { scope: 'col' }, x)))),
    h('tbody', null, result.namespaces.map(o => h('tr', null, h('td', null, o.env), h('td', null, o.namespace), h('td', null, o.action),
      h('td', null, o.detail || ''), h('td', null, o.changes && o.changes.length ? renderDiff(o.changes, `Changes to ${o.env}/${o.namespace}`) : '')))));
}
