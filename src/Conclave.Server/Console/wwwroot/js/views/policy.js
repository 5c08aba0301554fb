import { h, clear, enc, modal } from '../dom.js';
import { put, del } from '../api.js';
import { errorArea, attempt, flash, reload } from '../feedback.js';

// A namespace's release policy (ADR 0015): shown to everyone, changed by the app's owner and admins.
export async function renderPolicy(panel, ctx) {
  const manage = ctx.perms.manage;
  const separate = h('input', { type: 'checkbox', name: 'separateEditAndRelease', checked: ctx.n.separateEditAndRelease, disabled: !manage });
  const approval = h('input', { type: 'checkbox', name: 'requireApproval', checked: ctx.n.requireApproval, disabled: !manage });
  const error = errorArea();
  const form = h('form', { class: 'stack-form', 'aria-label': 'Release policy' },
    h('label', { class: 'check' }, separate, ' Separate editing from releasing (who changed the working copy since the last release may not publish it)'),
    h('label', { class: 'check' }, approval, ' Require approval (a publish files a release request that another person with the release permission approves)'),
    manage ? h('button', { type: 'submit' }, 'Save policy') : h('p', { class: 'muted' }, 'Changing the policy needs the app\'s owner or an admin.'),
    error);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const saved = await attempt(error, () => put(`${ctx.base}/policy`, { separateEditAndRelease: separate.checked, requireApproval: approval.checked }));
    if (saved) { flash('Saved the release policy'); reload(); }
  });
  const editors = ctx.n.editors || [];
  const sections = [
    h('h2', null, 'Release policy'), form,
    h('h2', null, 'Unreleased edits by'),
    editors.length ? h('ul', { 'aria-label': 'Editors since the last release' }, editors.map(x => h('li', null, x)))
      : h('p', { class: 'muted' }, 'Nobody: the working copy has not changed since the last release.'),
  ];
  sections.push(h('h2', null, 'JSON Schema'), schemaSection(ctx));
  if (manage) sections.push(h('h2', null, 'Delete namespace'), deleteButton(ctx));
  clear(panel, ...sections);
  return null;
}

function deleteButton(ctx) {
  const error = errorArea();
  const button = h('button', { type: 'button', class: 'danger' }, `Delete ${ctx.ns}`);
  button.addEventListener('click', async () => {
    const choice = await modal(`Delete ${ctx.app}/${ctx.env}/${ctx.ns}?`, close => {
      const force = h('input', { type: 'checkbox', name: 'force' });
      const yes = h('button', { type: 'button', class: 'danger' }, 'Delete');
      const no = h('button', { type: 'button' }, 'Cancel');
      yes.addEventListener('click', () => close({ force: force.checked }));
      no.addEventListener('click', () => close(null));
      return h('div', null, h('p', null, 'The working copy, every release and the history go away; clients of this namespace stop getting it.'),
        h('label', { class: 'check' }, force, ' even if instances still report it'), h('div', { class: 'actions' }, yes, no));
    });
    if (!choice) return;
    const done = await attempt(error, () => del(`${ctx.base}${choice.force ? '?force=true' : ''}`));
    // DELETE answers 204: api() returns null, so success is "no error shown".
    if (done !== undefined) { flash(`Deleted namespace ${ctx.ns}`); location.hash = `#/apps/${enc(ctx.app)}?env=${enc(ctx.env)}`; }
  });
  return h('div', null, button, error);
}

// The schema every publish is checked against: attached, replaced or removed by holders of edit; the server
// compiles it and answers 422 with the reason when it is not a usable JSON Schema.
function schemaSection(ctx) {
  const current = ctx.n.schema || '';
  const text = h('textarea', { id: 'schema', name: 'schema', rows: 10, spellcheck: 'false', readOnly: !ctx.perms.edit });
  text.value = current;
  const status = h('p', { class: 'muted', 'data-testid': 'schema-status' },
    current ? 'Publishing checks the working copy against this schema.' : 'No schema: publishing checks the format only.');
  if (!ctx.perms.edit) {
    return h('div', null, status, current ? [h('label', { for: 'schema' }, 'Schema'), text] : null,
      h('p', { class: 'muted' }, 'Changing the schema needs the edit permission.'));
  }
  const error = errorArea();
  const save = h('button', { type: 'submit' }, current ? 'Replace schema' : 'Attach schema');
  const remove = current ? h('button', { type: 'button', class: 'danger' }, 'Remove schema') : null;
  const send = async (schema, message) => {
    const n = await attempt(error, () => put(`${ctx.base}/schema`, { schema, expectedRevision: ctx.n.revision }));
    if (n) { flash(message); reload(); }
  };
  const form = h('form', { class: 'stack-form', 'aria-label': 'JSON Schema' },
    status, h('label', { for: 'schema' }, 'Schema (JSON)'), text, h('div', { class: 'actions' }, save, remove), error);
  form.addEventListener('submit', e => { e.preventDefault(); send(text.value, 'Saved the schema'); });
  if (remove) remove.addEventListener('click', () => send(null, 'Removed the schema'));
  return form;
}
