import { h, clear, field, modal } from '../dom.js';
import { get, put, post, del } from '../api.js';
import { errorArea, attempt, flash, reload } from '../feedback.js';
import { renderDiff } from '../diff.js';
import { me } from '../access.js';
import { flagsEditor } from './flags.js';

export const MASK = '******';

// A secret value as shown without reveal: the mask with a lock mark.
export function masked() {
  return h('span', { class: 'secret-value' }, h('span', { class: 'lock', 'aria-hidden': 'true' }, '\u{1F512}'), ' ', h('code', null, MASK),
    h('span', { class: 'visually-hidden' }, ' (secret)'));
}

export async function renderEditor(panel, ctx) {
  const isProperties = ctx.n.format === 'Properties';
  const state = { revision: ctx.n.revision };
  // What the working copy changes against the main release: marked on the items, and what Discard drops.
  state.pending = ctx.n.headReleaseId ? await get(`${ctx.base}/diff`).catch(() => []) : [];
  // A flags namespace gets the flag form (with Raw JSON for the document editor), unless it is a secret one still masked.
  const isFlags = ctx.n.format === 'Flags' && !(ctx.n.secret && ctx.n.content === MASK);
  const body = isProperties ? propertiesEditor(ctx, state) : isFlags ? flagsEditor(ctx, state, documentEditor) : documentEditor(ctx, state);
  clear(panel, pendingSummary(ctx, state), body, publishActions(ctx, state, body));
  return body.cleanup || null;
}

// "N unpublished changes since rX", what was removed, and Discard (edit permission) with the diff it drops.
function pendingSummary(ctx, state) {
  if (!ctx.n.headReleaseId || state.pending.length === 0) {
    return ctx.n.headReleaseId ? h('p', { class: 'muted', 'data-testid': 'pending' }, `No unpublished changes: the working copy is the main release r${ctx.n.headReleaseId}.`) : null;
  }
  const removed = state.pending.filter(d => d.change === 'Removed').map(d => d.key);
  const error = errorArea();
  let discard = null;
  if (ctx.perms.edit) {
    discard = h('button', { type: 'button', class: 'danger' }, 'Discard unpublished changes');
    discard.addEventListener('click', () => modal('Discard unpublished changes?', close => {
      const yes = h('button', { type: 'button', class: 'danger' }, 'Discard');
      const no = h('button', { type: 'button' }, 'Keep editing');
      const inner = errorArea();
      no.addEventListener('click', () => close());
      yes.addEventListener('click', async () => {
        const n = await attempt(inner, () => post(`${ctx.base}/discard`, { expectedRevision: state.revision }));
        if (n) { close(n); flash(`Discarded: the working copy is r${ctx.n.headReleaseId} again`); reload(); }
      });
      return h('div', null, h('p', null, `The working copy goes back to the main release r${ctx.n.headReleaseId}; these changes are dropped:`),
        renderDiff(state.pending, 'Changes to discard'), inner, h('div', { class: 'actions' }, yes, no));
    }));
  }
  return h('div', { class: 'pending', 'data-testid': 'pending' },
    h('p', null, h('strong', null, `${state.pending.length} unpublished change${state.pending.length === 1 ? '' : 's'}`), ` since the main release r${ctx.n.headReleaseId}`,
      removed.length ? `; removed: ${removed.join(', ')}` : '', '. '), discard, error);
}

// Publish is offered to holders of the release permission only; under "editors may not publish" it is shown disabled
// to someone who edited since the last release, with the reason.
function publishActions(ctx, state, body) {
  if (!ctx.perms.release) {
    return h('p', { class: 'muted', 'data-testid': 'no-release' }, 'Publishing needs the release permission on this namespace.');
  }
  const publishButton = h('button', { type: 'button', class: 'primary' }, 'Review and publish');
  publishButton.addEventListener('click', async () => {
    if (body.beforePublish && !(await body.beforePublish())) return;
    await publishDialog(ctx, state);
  });
  const blocked = ctx.n.separateEditAndRelease && (ctx.n.editors || []).includes(me());
  if (blocked) publishButton.disabled = true;
  return h('div', { class: 'actions' }, publishButton,
    blocked ? h('span', { class: 'muted' }, 'You edited this working copy since the last release and this namespace separates editing from releasing: someone else must publish it.') : null,
    ctx.n.requireApproval && !blocked ? h('span', { class: 'muted' }, 'Releases need approval: publishing files a release request.') : null);
}

function propertiesEditor(ctx, state) {
  const error = errorArea();
  const canEdit = ctx.perms.edit;
  const key = h('input', { name: 'key', required: true, autocomplete: 'off' });
  const value = h('input', { name: 'value', autocomplete: 'off', size: 30 });
  const comment = h('input', { name: 'comment', autocomplete: 'off' });
  const secret = h('input', { type: 'checkbox', name: 'secret', checked: ctx.n.secret, disabled: ctx.n.secret });
  const secretHint = h('span', { class: 'muted small-note' });
  // A secret is typed like a password; an item once secret stays secret (delete it to make it plain).
  const syncSecret = () => { value.type = secret.checked ? 'password' : 'text'; };
  secret.addEventListener('change', syncSecret);
  key.addEventListener('input', () => {
    const existing = ctx.n.items.find(i => i.key === key.value.trim());
    const locked = ctx.n.secret || Boolean(existing && existing.secret);
    secret.disabled = locked;
    if (locked) secret.checked = true;
    secretHint.textContent = '';
    syncSecret();
  });
  syncSecret();
  let revealed = null;
  const rows = ctx.n.items.map(item => {
    const cell = h('td', null, item.secret ? masked() : h('code', null, item.value));
    const actions = [];
    if (item.secret && ctx.perms.reveal) {
      const reveal = h('button', { type: 'button', 'aria-label': `Reveal ${item.key}` }, 'Reveal');
      reveal.addEventListener('click', async () => {
        if (reveal.getAttribute('aria-pressed') === 'true') {
          clear(cell, masked()); reveal.setAttribute('aria-pressed', 'false'); reveal.textContent = 'Reveal';
          reveal.setAttribute('aria-label', `Reveal ${item.key}`);
          return;
        }
        revealed = revealed || await attempt(error, () => get(`${ctx.base}?reveal=true`));
        syncTextToggle();
        const plain = revealed && revealed.items.find(i => i.key === item.key);
        if (!plain) return;
        clear(cell, h('span', { class: 'lock', 'aria-hidden': 'true' }, '\u{1F513}'), ' ', h('code', { 'data-testid': `revealed-${item.key}` }, plain.value));
        reveal.setAttribute('aria-pressed', 'true');
        reveal.textContent = 'Hide';
        reveal.setAttribute('aria-label', `Hide ${item.key}`);
      });
      actions.push(reveal, ' ');
    }
    if (canEdit) {
      const edit = h('button', { type: 'button', 'aria-label': `Edit ${item.key}` }, 'Edit');
      edit.addEventListener('click', () => {
        const plain = revealed && revealed.items.find(i => i.key === item.key);
        key.value = item.key;
        // Without reveal the mask goes back as the value, which keeps the stored secret.
        value.value = plain ? plain.value : item.value;
        comment.value = item.comment || '';
        secret.checked = item.secret || ctx.n.secret;
        secret.disabled = item.secret || ctx.n.secret;
        secretHint.textContent = item.secret && !plain ? 'Leave the mask to keep the stored value.' : '';
        syncSecret();
        value.focus();
      });
      const remove = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${item.key}` }, 'Delete');
      remove.addEventListener('click', async () => {
        const done = await attempt(error, () => del(`${ctx.base}/items/${encodeURIComponent(item.key)}?expectedRevision=${state.revision}`));
        if (done) { flash(`Deleted ${item.key} from the working copy`); reload(); }
      });
      actions.push(edit, ' ', remove);
    }
    const change = (state.pending || []).find(d => d.key === item.key);
    const mark = change ? [' ', h('span', { class: 'badge warn', 'data-testid': `changed-${item.key}` }, change.change === 'Added' ? 'new' : 'changed')] : null;
    return h('tr', { class: item.secret ? 'secret-item' : null }, h('td', null, h('code', null, item.key), mark), cell, h('td', null, item.comment || ''),
      canEdit || ctx.perms.reveal ? h('td', null, actions) : null);
  });
  let form = null;
  if (canEdit) {
    form = h('form', { class: 'inline-form', 'aria-label': 'Set item' },
      field('Key', key), field('Value', value), field('Comment', comment),
      h('label', { class: 'check' }, secret, ' Secret'), h('button', { type: 'submit' }, 'Save item'), secretHint);
    form.addEventListener('submit', async e => {
      e.preventDefault();
      const k = key.value.trim();
      const saved = await attempt(error, () => put(`${ctx.base}/items/${encodeURIComponent(k)}`,
        { value: value.value, comment: comment.value || null, expectedRevision: state.revision, secret: secret.checked }));
      if (saved) { flash(`Saved ${k}${secret.checked ? ' (secret)' : ''} (not published yet)`); reload(); }
    });
  }
  const headers = ['Key', 'Value', 'Comment'].concat(canEdit || ctx.perms.reveal ? ['Actions'] : []);
  const itemView = h('div', null,
    rows.length ? h('table', { 'aria-label': 'Items' },
      h('thead', null, h('tr', null, headers.map(x => h('th', { scope: 'col' }, x)))), h('tbody', null, rows))
      : h('p', { class: 'muted' }, 'No items yet.'),
    form || h('p', { class: 'muted', 'data-testid': 'read-only' }, 'Read only: changing this working copy needs the edit permission.'));
  // Text mode: the working copy as the server renders it (key=value, comments as "# ..." above their key); saving
  // sends it back whole and the server parses it into items. Secret values must not land in a textarea masked or
  // unasked, so with secret items it waits for Reveal.
  // (An empty secret namespace has nothing to expose; what is saved into it becomes secret on the member.)
  const hasSecrets = ctx.n.items.some(i => i.secret);
  const textToggle = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Edit as text');
  const textNote = h('span', { class: 'muted', 'data-testid': 'text-mode-note' });
  const textArea = h('textarea', { id: 'properties-text', name: 'properties-text', rows: 16, spellcheck: 'false' });
  const textSave = h('button', { type: 'button', class: 'primary' }, 'Save text');
  const textView = h('div', { hidden: true },
    h('label', { for: 'properties-text' }, 'Working copy as text (key=value; # comment above its key)'), textArea,
    h('div', { class: 'actions' }, textSave));
  const syncTextToggle = () => {
    const blocked = hasSecrets && !revealed;
    textToggle.disabled = blocked;
    textNote.textContent = blocked
      ? (ctx.perms.reveal ? 'Text mode shows every value: reveal a secret item first.' : 'Text mode is not available: this namespace has secret items and you may not reveal them.')
      : '';
  };
  syncTextToggle();
  let textShown = null;
  textToggle.addEventListener('click', () => {
    const on = textToggle.getAttribute('aria-pressed') !== 'true';
    if (on) textArea.value = textShown = revealed ? revealed.content : ctx.n.content;
    textToggle.setAttribute('aria-pressed', String(on));
    textToggle.textContent = on ? 'Edit as items' : 'Edit as text';
    textView.hidden = !on;
    itemView.hidden = on;
    if (on) textArea.focus();
  });
  const saveText = () => attempt(error, () => put(`${ctx.base}/content`, { content: textArea.value, expectedRevision: state.revision }));
  textSave.addEventListener('click', async () => {
    const n = await saveText();
    if (n) { flash(`Saved the working copy from text: ${n.items.length} item${n.items.length === 1 ? '' : 's'} (not published yet)`); reload(); }
  });
  const el = h('div', null,
    h('h2', null, 'Items (working copy)'),
    canEdit ? h('div', { class: 'actions' }, textToggle, textNote) : null,
    itemView, canEdit ? textView : null,
    error);
  // Publishing from text mode publishes what the textarea shows: unsaved text is saved first.
  el.beforePublish = async () => {
    if (textView.hidden || textArea.value === textShown) return true;
    const n = await saveText();
    if (!n) return false;
    state.revision = n.revision;
    textShown = textArea.value;
    return true;
  };
  return el;
}

function documentEditor(ctx, state) {
  const format = ctx.n.format.toLowerCase();
  const status = h('p', { id: 'doc-status', class: 'doc-status', 'aria-live': 'polite' });
  const text = h('textarea', { id: 'doc', name: 'document', rows: 18, spellcheck: 'false', 'aria-describedby': 'doc-status' });
  text.value = ctx.n.content;
  // A secret document arrives masked: it is read only until revealed (reveal permission), and then editable.
  const hidden = ctx.n.secret && ctx.n.content === MASK;
  text.readOnly = !ctx.perms.edit || hidden;
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
    if (text.value === MASK) { clear(status, masked()); return; }
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
  const saveButton = h('button', { type: 'button', hidden: !ctx.perms.edit || hidden }, 'Save draft');
  saveButton.addEventListener('click', async () => { if (await save()) { flash('Saved the working copy (not published yet)'); reload(); } });
  let revealButton = null;
  if (hidden && ctx.perms.reveal) {
    revealButton = h('button', { type: 'button' }, 'Reveal');
    revealButton.addEventListener('click', async () => {
      const plain = await attempt(error, () => get(`${ctx.base}?reveal=true`));
      if (!plain) return;
      text.value = saved = plain.content;
      text.readOnly = !ctx.perms.edit;
      saveButton.hidden = !ctx.perms.edit;
      revealButton.remove();
      validate();
    });
  }
  validate();
  const el = h('div', null,
    h('h2', null, 'Document (working copy)'),
    h('label', { for: 'doc' }, `Document (${format})`), text, status,
    h('div', { class: 'actions' }, saveButton, revealButton),
    ctx.perms.edit ? null : h('p', { class: 'muted', 'data-testid': 'read-only' }, 'Read only: changing this working copy needs the edit permission.'),
    error);
  el.beforePublish = async () => (text.value === saved || !ctx.perms.edit ? true : save());
  el.cleanup = () => clearTimeout(timer);
  return el;
}

async function publishDialog(ctx, state) {
  const diff = await get(`${ctx.base}/diff`).catch(e => e);
  await modal(`Publish ${ctx.app}/${ctx.env}/${ctx.ns}`, close => {
    const title = h('input', { name: 'title', size: 40 });
    const comment = h('textarea', { name: 'comment', rows: 3 });
    const error = errorArea();
    const approval = ctx.n.requireApproval;
    const publish = h('button', { type: 'submit', class: 'primary' }, approval ? 'Request release' : 'Publish');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    cancel.addEventListener('click', () => close());
    const form = h('form', { method: 'dialog', 'aria-label': 'Publish' },
      h('h3', null, ctx.n.headReleaseId ? `Changes against the main release r${ctx.n.headReleaseId}` : 'Everything is new (first release)'),
      diff instanceof Error ? h('p', { class: 'error', role: 'alert' }, diff.message) : renderDiff(diff, 'Changes to publish'),
      approval ? h('p', { class: 'muted' }, 'This namespace requires approval: this files a release request that another person with the release permission approves.') : null,
      field('Release title', title), field('Comment', comment), error,
      h('div', { class: 'actions' }, publish, cancel));
    form.addEventListener('submit', async e => {
      e.preventDefault();
      publish.disabled = true;
      const release = await attempt(error, () => post(`${ctx.base}/releases`, { title: title.value || null, comment: comment.value || null, expectedRevision: state.revision }));
      publish.disabled = false;
      if (!release) return;
      close(release);
      // 202: the namespace requires approval, and the answer is the release request filed instead.
      flash(release.requestedBy ? `Release request ${release.id} filed, waiting for approval` : `Published r${release.id}`);
      reload();
    });
    return form;
  });
}
