import { h, clear, enc, field, modal } from '../dom.js';
import { post, put, del } from '../api.js';
import { errorArea, attempt, flash, reload } from '../feedback.js';
import { ownsApp } from '../access.js';

const PERMISSIONS = ['edit', 'release', 'reveal'];

// An app's access (ADR 0015): its owner, admins and grants; the owner and admins change them, the owner hands the app over.
export async function renderAccess(section, { app, access, envs, manage }) {
  const base = `/apps/${enc(app)}/access`;
  const error = errorArea();
  const change = async (fn, message) => {
    const done = await attempt(error, fn);
    if (done) { flash(message); reload(); }
  };

  const adminRows = access.admins.map(subject => [h('code', null, subject),
    manage ? removeButton(`Remove admin ${subject}`, () => change(() => del(`${base}/admins/${enc(subject)}`), `Removed admin ${subject}`)) : '']);
  const grantRows = access.grants.map(g => {
    const permission = g.permission.toLowerCase();
    const query = `subject=${enc(g.subject)}&permission=${permission}&env=${enc(g.env)}&ns=${enc(g.namespace)}`;
    return [h('code', null, g.subject), permission, g.env === '*' ? 'every environment' : g.env, g.namespace === '*' ? 'every namespace' : g.namespace,
      manage ? removeButton(`Revoke ${permission} from ${g.subject} on ${g.env}/${g.namespace}`,
        () => change(() => del(`${base}/grants?${query}`), `Revoked ${permission} from ${g.subject}`)) : ''];
  });

  const parts = [
    h('h2', null, 'Owner'),
    h('p', null, h('strong', { 'data-testid': 'owner' }, access.owner), h('span', { class: 'muted' }, ' — holds every permission, manages access, may delete the app')),
    ownsApp(access) ? ownerForm(base, change) : null,
    h('h2', null, 'Admins'),
    h('p', { class: 'muted' }, 'Every permission on every namespace of the app; they manage environments, namespaces, access and credentials.'),
    adminRows.length ? table('Admins', ['Subject', ''], adminRows) : h('p', { class: 'muted' }, 'No admins besides the owner.'),
    manage ? adminForm(base, change) : null,
    h('h2', null, 'Grants'),
    grantRows.length ? table('Grants', ['Subject', 'Permission', 'Environment', 'Namespace', ''], grantRows) : h('p', { class: 'muted' }, 'No grants yet.'),
    manage ? grantForm(base, envs, change) : h('p', { class: 'muted' }, 'Only the app\'s owner and admins change its access.'),
    error,
  ];
  clear(section, ...parts);
  return null;
}

function table(label, headers, rows) {
  return h('table', { 'aria-label': label },
    h('thead', null, h('tr', null, headers.map(x => h('th', { scope: 'col' }, x)))),
    h('tbody', null, rows.map(r => h('tr', null, r.map(c => h('td', null, c))))));
}

function removeButton(label, onConfirm) {
  const button = h('button', { type: 'button', class: 'danger', 'aria-label': label }, 'Remove');
  button.addEventListener('click', async () => {
    const sure = await modal(`${label}?`, close => {
      const yes = h('button', { type: 'button', class: 'danger' }, 'Remove');
      const no = h('button', { type: 'button' }, 'Cancel');
      yes.addEventListener('click', () => close(true));
      no.addEventListener('click', () => close(false));
      return h('div', { class: 'actions' }, yes, no);
    });
    if (sure) await onConfirm();
  });
  return button;
}

// A subject is user:NAME or role:NAME (a role of the auth store, or an OpenID Connect group).
function subjectFields() {
  const kind = h('select', { name: 'kind' }, h('option', { value: 'user' }, 'user'), h('option', { value: 'role' }, 'role'));
  const name = h('input', { name: 'subject', required: true, autocomplete: 'off', size: 16 });
  return { nodes: [field('Kind', kind), field('User or role name', name)], read: () => `${kind.value}:${name.value.trim()}`, reset: () => { name.value = ''; } };
}

function grantForm(base, envs, change) {
  const subject = subjectFields();
  const permission = h('select', { name: 'permission' }, PERMISSIONS.map(p => h('option', { value: p }, p)));
  const env = h('select', { name: 'env' }, h('option', { value: '*' }, '* (every environment)'), envs.map(e => h('option', { value: e.name }, e.name)));
  const ns = h('input', { name: 'namespace', size: 14, placeholder: '* (every namespace)' });
  const form = h('form', { class: 'inline-form', 'aria-label': 'New grant' },
    subject.nodes, field('Permission', permission), field('Environment', env), field('Namespace', ns), h('button', { type: 'submit' }, 'Grant'));
  form.addEventListener('submit', e => {
    e.preventDefault();
    const s = subject.read();
    change(() => post(`${base}/grants`, { subject: s, permission: permission.value, env: env.value, namespace: ns.value.trim() || '*' }),
      `Granted ${permission.value} to ${s}`);
  });
  return h('div', null, h('h3', null, 'Grant a permission'), form);
}

function adminForm(base, change) {
  const subject = subjectFields();
  const form = h('form', { class: 'inline-form', 'aria-label': 'New admin' }, subject.nodes, h('button', { type: 'submit' }, 'Add admin'));
  form.addEventListener('submit', e => {
    e.preventDefault();
    const s = subject.read();
    change(() => post(`${base}/admins`, { subject: s }), `Added admin ${s}`);
  });
  return form;
}

function ownerForm(base, change) {
  const owner = h('input', { name: 'owner', required: true, autocomplete: 'off', size: 16 });
  const form = h('form', { class: 'inline-form', 'aria-label': 'Hand over' }, field('New owner (user name)', owner), h('button', { type: 'submit' }, 'Hand over'));
  form.addEventListener('submit', e => {
    e.preventDefault();
    change(() => put(`${base}/owner`, { owner: owner.value.trim() }), `Handed the app to ${owner.value.trim()}`);
  });
  return form;
}
