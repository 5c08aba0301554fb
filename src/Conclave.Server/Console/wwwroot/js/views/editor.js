import { h, clear, field, modal } from '../dom.js';
import { get, put, post, del } from '../api.js';
import { errorArea, attempt, flash, reload } from '../feedback.js';
import { renderDiff } from '../diff.js';

export async function renderEditor(panel, ctx) {
  const isProperties = ctx.n.format === 'Properties';
  const state = { revision: ctx.n.revision };
  const body = isProperties ? propertiesEditor(ctx, state) : documentEditor(ctx, state);
  const publishButton = h('button', { type: 'button', class: 'primary' }, 'Review and publish');
  publishButton.addEventListener('click', async () => {
    if (body.beforePublish && !(await body.beforePublish())) return;
    await publishDialog(ctx, state);
  });
  clear(panel, body, h('div', { class: 'actions' }, publishButton));
  return body.cleanup || null;
}

function propertiesEditor(ctx, state) {
  const error = errorArea();
  const key = h('input', { name: 'key', required: true, autocomplete: 'off' });
  const value = h('input', { name: 'value', autocomplete: 'off', size: 30 });
  const comment = h('input', { name: 'comment', autocomplete: 'off' });
  const rows = ctx.n.items.map(item => {
    const edit = h('button', { type: 'button', 'aria-label': `Edit ${item.key}` }, 'Edit');
    edit.addEventListener('click', () => { key.value = item.key; value.value = item.value; comment.value = item.comment || ''; value.focus(); });
    const remove = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${item.key}` }, 'Delete');
    remove.addEventListener('click', async () => {
      const done = await attempt(error, () => del(`${ctx.base}/items/${encodeURIComponent(item.key)}?expectedRevision=${state.revision}`));
      if (done) { flash(`Deleted ${item.key} from the working copy`); reload(); }
    });
    return h('tr', null, h('td', null, h('code', null, item.key)), h('td', null, h('code', null, item.value)), h('td', null, item.comment || ''), h('td', null, edit, ' ', remove));
  });
  const form = h('form', { class: 'inline-form', 'aria-label': 'Set item' },
    field('Key', key), field('Value', value), field('Comment', comment), h('button', { type: 'submit' }, 'Save item'));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const k = key.value.trim();
    const saved = await attempt(error, () => put(`${ctx.base}/items/${encodeURIComponent(k)}`, { value: value.value, comment: comment.value || null, expectedRevision: state.revision }));
    if (saved) { flash(`Saved ${k} (not published yet)`); reload(); }
  });
  return h('div', null,
    h('h2', null, 'Items (working copy)'),
    rows.length ? h('table', { 'aria-label': 'Items' },
      h('thead', null, h('tr', null, ['Key', 'Value', 'Comment', 'Actions'].map(x => h('th', { scope: 'col' }, x)))), h('tbody', null, rows))
      : h('p', { class: 'muted' }, 'No items yet.'),
    form, error);
}

function documentEditor(ctx, state) {
  const format = ctx.n.format.toLowerCase();
  const status = h('p', { id: 'doc-status', class: 'doc-status', 'aria-live': 'polite' });
  const text = h('textarea', { id: 'doc', name: 'document', rows: 18, spellcheck: 'false', 'aria-describedby': 'doc-status' });
  text.value = ctx.n.content;
  const error = errorArea();
  let saved = ctx.n.content;
  let timer = null;
  let seq = 0;
  const goTo = (line, column) => {
    const lines = text.value.split('\n');
    let offset = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
    offset += Math.max(0, column - 1);
    text.focus();
    text.setSelectionRange(offset, offset);
  };
  const validate = async () => {
    const mine = ++seq;
    let result;
    try { result = await post(`${ctx.base}/validate`, { content: text.value }); } catch (e) { result = { valid: false, message: e.message }; }
    if (mine !== seq) return;
    text.setAttribute('aria-invalid', result.valid ? 'false' : 'true');
    if (result.valid) {
      clear(status, h('span', { class: 'ok' }, `Valid ${format}`), text.value !== saved ? ' · unsaved edits' : '');
    } else {
      const where = result.line ? `Line ${result.line}, column ${result.column}: ` : '';
      const jump = result.line ? h('button', { type: 'button', class: 'link' }, 'go to error') : null;
      if (jump) jump.addEventListener('click', () => goTo(result.line, result.column));
      clear(status, h('span', { class: 'error-inline', role: 'alert' }, where + result.message), ' ', jump);
    }
  };
  text.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(validate, 250); });
  const save = async () => {
    const n = await attempt(error, () => put(`${ctx.base}/content`, { content: text.value, expectedRevision: state.revision }));
    if (!n) return false;
    state.revision = n.revision;
    saved = text.value;
    await validate();
    return true;
  };
  const saveButton = h('button', { type: 'button' }, 'Save draft');
  saveButton.addEventListener('click', async () => { if (await save()) { flash('Saved the working copy (not published yet)'); reload(); } });
  validate();
  const el = h('div', null,
    h('h2', null, 'Document (working copy)'),
    h('label', { for: 'doc' }, `Document (${format})`), text, status,
    h('div', { class: 'actions' }, saveButton), error);
  el.beforePublish = async () => (text.value === saved ? true : save());
  el.cleanup = () => clearTimeout(timer);
  return el;
}

async function publishDialog(ctx, state) {
  const diff = await get(`${ctx.base}/diff`).catch(e => e);
  await modal(`Publish ${ctx.app}/${ctx.env}/${ctx.ns}`, close => {
    const title = h('input', { name: 'title', size: 40 });
    const comment = h('textarea', { name: 'comment', rows: 3 });
    const error = errorArea();
    const publish = h('button', { type: 'submit', class: 'primary' }, 'Publish');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    cancel.addEventListener('click', () => close());
    const form = h('form', { method: 'dialog', 'aria-label': 'Publish' },
      h('h3', null, ctx.n.headReleaseId ? `Changes against the main release r${ctx.n.headReleaseId}` : 'Everything is new (first release)'),
      diff instanceof Error ? h('p', { class: 'error', role: 'alert' }, diff.message) : renderDiff(diff, 'Changes to publish'),
      field('Release title', title), field('Comment', comment), error,
      h('div', { class: 'actions' }, publish, cancel));
    form.addEventListener('submit', async e => {
      e.preventDefault();
      publish.disabled = true;
      const release = await attempt(error, () => post(`${ctx.base}/releases`, { title: title.value || null, comment: comment.value || null, expectedRevision: state.revision }));
      publish.disabled = false;
      if (release) { close(release); flash(`Published r${release.id}`); reload(); }
    });
    return form;
  });
}
