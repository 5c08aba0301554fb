import { h, clear, field, fmtTime, badge } from '../dom.js';
import { get, post } from '../api.js';
import { errorArea, attempt, flash, reload } from '../feedback.js';
import { renderDiff } from '../diff.js';
import { me } from '../access.js';

// Release requests of a namespace that requires approval (ADR 0015): each pending request with its diff against the
// main release; Approve / Reject for holders of the release permission other than the requester (who may withdraw it).
export async function renderRequests(panel, ctx) {
  const [details, recent] = await Promise.all([
    Promise.all(ctx.pending.map(r => get(`${ctx.base}/requests/${r.id}`))),
    get(`${ctx.base}/requests?limit=20`),
  ]);
  const decided = recent.filter(r => r.status !== 'Pending');
  clear(panel,
    h('h2', null, 'Pending release requests'),
    ctx.n.requireApproval ? null : h('p', { class: 'muted' }, 'This namespace does not require approval now: publishing releases directly.'),
    details.length ? details.map(d => pendingRequest(ctx, d.request, d.diff)) : h('p', { class: 'muted' }, 'No release request is waiting for approval.'),
    h('h2', null, 'Decided'),
    decided.length ? h('table', { 'aria-label': 'Decided release requests' },
      h('thead', null, h('tr', null, ['Request', 'Title', 'Requested by', 'Decision', 'By', 'When', 'Comment'].map(x => h('th', { scope: 'col' }, x)))),
      h('tbody', null, decided.map(r => h('tr', null,
        h('td', null, `#${r.id}`), h('td', null, r.title || ''), h('td', null, r.requestedBy),
        h('td', null, r.status === 'Approved' ? badge(`approved → r${r.releaseId}`, 'ok') : badge('rejected', 'bad')),
        h('td', null, r.decidedBy || ''), h('td', null, fmtTime(r.decidedAt)), h('td', null, r.decisionComment || '')))))
      : h('p', { class: 'muted' }, 'None yet.'));
  return null;
}

function pendingRequest(ctx, r, diff) {
  const label = `Release request ${r.id}`;
  const error = errorArea();
  const mine = r.requestedBy === me();
  let decision = null;
  if (ctx.perms.release) {
    const comment = h('input', { name: 'comment', size: 40, autocomplete: 'off' });
    const approve = mine ? null : h('button', { type: 'button', class: 'primary' }, 'Approve');
    const reject = h('button', { type: 'button', class: 'danger' }, mine ? 'Withdraw' : 'Reject');
    const decide = async (verb, button) => {
      button.disabled = true;
      const result = await attempt(error, () => post(`${ctx.base}/requests/${r.id}/${verb}`, { comment: comment.value || null }));
      button.disabled = false;
      if (!result) return;
      flash(verb === 'approve' ? `Approved release request ${r.id}: published r${result.id}` : `Rejected release request ${r.id}`);
      reload();
    };
    if (approve) approve.addEventListener('click', () => decide('approve', approve));
    reject.addEventListener('click', () => decide('reject', reject));
    decision = h('form', { class: 'inline-form', 'aria-label': `Decide ${label}`, onsubmit: e => e.preventDefault() },
      field('Comment', comment), approve, reject);
  }
  return h('section', { class: 'request', 'aria-label': label },
    h('h3', null, `#${r.id} `, r.title ? `“${r.title}”` : h('span', { class: 'muted' }, '(no title)')),
    h('p', { class: 'muted' }, `requested by ${r.requestedBy}, ${fmtTime(r.requestedAt)}`, r.comment ? ` — ${r.comment}` : ''),
    h('h4', null, ctx.n.headReleaseId ? `Changes against the main release r${ctx.n.headReleaseId}` : 'Everything is new (first release)'),
    renderDiff(diff, `Changes in ${label}`),
    mine ? h('p', { class: 'muted', 'data-testid': 'own-request' }, 'You filed this request: another person with the release permission must approve it.') : null,
    !ctx.perms.release ? h('p', { class: 'muted' }, 'Approving needs the release permission on this namespace.') : null,
    decision, error);
}
