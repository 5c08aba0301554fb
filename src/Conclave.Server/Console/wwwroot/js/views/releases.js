import { h, clear, field, fmtTime, badge, modal } from '../dom.js';
import { get, post } from '../api.js';
import { errorArea, attempt, flash, reload } from '../feedback.js';
import { renderDiff } from '../diff.js';

export async function renderReleases(panel, ctx) {
  const [releases, history] = await Promise.all([get(`${ctx.base}/releases?limit=100`), get(`${ctx.base}/history?limit=100`)]);
  if (releases.length === 0) {
    clear(panel, h('p', { class: 'muted' }, 'Nothing published yet.'));
    return null;
  }
  const head = ctx.n.headReleaseId;
  const diffOut = h('div', { id: 'release-diff', 'aria-live': 'polite' });
  const error = errorArea();
  const rows = releases.map((r, i) => {
    const from = h('input', { type: 'radio', name: 'from', value: String(r.id), checked: i === 1 || (releases.length === 1 && i === 0), 'aria-label': `Diff from r${r.id}` });
    const to = h('input', { type: 'radio', name: 'to', value: String(r.id), checked: i === 0, 'aria-label': `Diff to r${r.id}` });
    let action = null;
    if (r.id !== head && head && ctx.perms.release) {
      action = h('button', { type: 'button', 'aria-label': `Roll back to r${r.id}` }, `Roll back to r${r.id}`);
      action.addEventListener('click', () => rollbackDialog(ctx, head, r));
    }
    return h('tr', null,
      h('td', null, from), h('td', null, to),
      h('td', null, `r${r.id} `, r.kind !== 'Normal' ? badge(r.kind.toLowerCase(), r.kind === 'Gray' ? 'gray' : 'warn') : null,
        r.id === head ? [' ', badge('main', 'ok')] : null, ctx.n.gray && ctx.n.gray.releaseId === r.id ? [' ', badge('gray active', 'gray')] : null),
      h('td', null, r.title || ''), h('td', null, r.author, r.approvedBy ? h('span', { class: 'muted' }, ` (approved by ${r.approvedBy})`) : null), h('td', null, fmtTime(r.createdAt)), h('td', null, r.comment || ''), h('td', null, action));
  });
  const form = h('form', { 'aria-label': 'Releases' },
    h('table', { 'aria-label': 'Releases' },
      h('thead', null, h('tr', null, ['From', 'To', 'Release', 'Title', 'Author', 'Published', 'Comment', ''].map(x => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows)),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Diff selected releases')), error);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const data = new FormData(form);
    const a = data.get('from'), b = data.get('to');
    if (!a || !b) { error.show('Choose a release to diff from and one to diff to.'); return; }
    const diff = await attempt(error, () => get(`${ctx.base}/diff?from=${a}&to=${b}`));
    if (diff) clear(diffOut, h('h3', null, `r${a} → r${b}`), renderDiff(diff, `Differences from r${a} to r${b}`));
  });
  clear(panel, h('h2', null, 'Releases'), form, diffOut,
    h('h2', null, 'History'),
    h('table', { 'aria-label': 'History' },
      h('thead', null, h('tr', null, ['#', 'Operation', 'Release', 'Previous', 'Author', 'When', 'Comment'].map(x => h('th', { scope: 'col' }, x)))),
      h('tbody', null, history.map(x => h('tr', null, h('td', null, x.id), h('td', null, x.operation), h('td', null, `r${x.releaseId}`),
        h('td', null, x.previousReleaseId ? `r${x.previousReleaseId}` : ''), h('td', null, x.author), h('td', null, fmtTime(x.at)), h('td', null, x.comment || ''))))));
  return null;
}

async function rollbackDialog(ctx, head, target) {
  const diff = await get(`${ctx.base}/diff?from=${head}&to=${target.id}`).catch(e => e);
  const pending = await get(`${ctx.base}/diff`).catch(() => []);
  await modal(`Roll back to r${target.id}?`, close => {
    const comment = h('textarea', { name: 'comment', rows: 2 });
    // The rollback resets the working copy to r{target}; unpublished edits need a decision first.
    const discardEdits = h('input', { type: 'radio', name: 'edits', value: 'discard', checked: true });
    const keepEdits = h('input', { type: 'radio', name: 'edits', value: 'keep' });
    const ignoreSchema = h('input', { type: 'checkbox', name: 'ignoreSchema' });
    const edits = pending.length ? h('fieldset', { 'aria-label': 'Unpublished changes' },
      h('legend', null, `The working copy has ${pending.length} unpublished change${pending.length === 1 ? '' : 's'} (${pending.map(d => d.key || 'document').join(', ')})`),
      h('label', { class: 'check' }, discardEdits, ' Discard them: the working copy becomes r' + target.id),
      h('label', { class: 'check' }, keepEdits, ' Keep them for the next publish')) : null;
    const error = errorArea();
    const confirm = h('button', { type: 'submit', class: 'danger' }, 'Confirm rollback');
    const cancel = h('button', { type: 'button' }, 'Cancel');
    cancel.addEventListener('click', () => close());
    const form = h('form', { 'aria-label': 'Confirm rollback' },
      h('p', null, `A new release will restore the content of r${target.id}; clients move to it. What changes for clients now on r${head}:`),
      diff instanceof Error ? h('p', { class: 'error', role: 'alert' }, diff.message) : renderDiff(diff, 'Changes the rollback makes'),
      edits, h('label', { class: 'check' }, ignoreSchema, ' Restore it even if the schema attached since refuses it (audited)'),
      field('Comment', comment), error, h('div', { class: 'actions' }, confirm, cancel));
    form.addEventListener('submit', async e => {
      e.preventDefault();
      const body = { toReleaseId: target.id, comment: comment.value || null, expectedRevision: ctx.n.revision, ignoreSchema: ignoreSchema.checked };
      if (pending.length) body.edits = keepEdits.checked ? 'keep' : 'discard';
      const release = await attempt(error, () => post(`${ctx.base}/rollback`, body));
      if (release) { close(release); flash(`Rolled back: r${release.id} restores r${target.id}`); reload(); }
    });
    return form;
  });
}
