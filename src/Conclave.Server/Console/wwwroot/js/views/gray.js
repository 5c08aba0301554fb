import { h, clear, field, fmtNum, modal } from '../dom.js';
import { get, post, put } from '../api.js';
import { renderDiff } from '../diff.js';
import { errorArea, attempt, flash, reload } from '../feedback.js';
import { renderDelivery, instancesTable } from './delivery.js';

const list = s => s.split(',').map(x => x.trim()).filter(Boolean);

function ruleFields(rule) {
  const ids = h('input', { name: 'instanceIds', size: 30, value: rule ? rule.instanceIds.join(', ') : '' });
  const labels = h('input', { name: 'labels', size: 30, value: rule ? rule.labels.join(', ') : '', placeholder: 'zone=a, canary=true' });
  const percentage = h('input', { name: 'percentage', type: 'number', min: 0, max: 100, step: '0.01', value: rule ? String(rule.percentage) : '0' });
  return {
    nodes: [field('Instance ids (comma-separated)', ids), field('Labels (key=value, all must match)', labels), field('Percentage of instances', percentage)],
    read: () => ({ instanceIds: list(ids.value), labels: list(labels.value), percentage: Number(percentage.value || 0) }),
  };
}

export function describeRule(rule) {
  const parts = [];
  if (rule.instanceIds.length) parts.push(`instances ${rule.instanceIds.join(', ')}`);
  if (rule.labels.length) parts.push(`labels ${rule.labels.join(' and ')}`);
  if (rule.percentage) parts.push(`${rule.percentage}% of instances`);
  return parts.join(' or ');
}

// A confirmation that shows the diff a change ships; resolves true on confirm.
function confirmShip(title, lead, diff, verb) {
  return modal(title, close => {
    const yes = h('button', { type: 'button', class: 'primary' }, verb);
    const no = h('button', { type: 'button' }, 'Cancel');
    yes.addEventListener('click', () => close(true));
    no.addEventListener('click', () => close(false));
    return h('div', null, h('p', null, lead), renderDiff(diff, 'Changes shipped'), h('div', { class: 'actions' }, yes, no));
  });
}

export async function renderGray(panel, ctx) {
  const gray = ctx.n.gray;
  const error = errorArea();
  if (!gray && !ctx.perms.release) {
    clear(panel, h('h2', null, 'Gray release'), h('p', { class: 'muted' }, 'No gray release. Starting one needs the release permission on this namespace.'));
    return null;
  }
  if (!gray && ctx.n.requireApproval) {
    clear(panel, h('h2', null, 'Gray release'), h('p', { class: 'muted' }, 'Gray release is not available while this namespace requires approval for releases (Policy tab).'));
    return null;
  }
  if (!gray) {
    const rule = ruleFields(null);
    const title = h('input', { name: 'title', size: 30 });
    const form = h('form', { class: 'stack-form', 'aria-label': 'Start gray release' },
      h('p', null, `Publishes the working copy to the instances the rule selects; the others stay on ${ctx.n.headReleaseId ? 'r' + ctx.n.headReleaseId : 'no release'}.`),
      rule.nodes, field('Release title', title), h('button', { type: 'submit', class: 'primary' }, 'Start gray release'), error);
    form.addEventListener('submit', async e => {
      e.preventDefault();
      const diff = await attempt(error, () => get(`${ctx.base}/diff`));
      if (!diff) return;
      const go = await confirmShip(`Start a gray release to ${describeRule(rule.read()) || 'no instance'}?`,
        `The gray instances get the working copy; what changes for them against r${ctx.n.headReleaseId || '—'}:`, diff, 'Start gray release');
      if (!go) return;
      const release = await attempt(error, () => post(`${ctx.base}/gray`, { rule: rule.read(), title: title.value || null, expectedRevision: ctx.n.revision }));
      if (release) { flash(`Gray release r${release.id} started`); reload(); }
    });
    clear(panel, h('h2', null, 'Gray release'), form);
    return null;
  }

  const rule = ruleFields(gray.rule);
  const ruleForm = h('form', { class: 'stack-form', 'aria-label': 'Change gray rule' }, rule.nodes, h('button', { type: 'submit' }, 'Change rule'));
  ruleForm.addEventListener('submit', async e => {
    e.preventDefault();
    const n = await attempt(error, () => put(`${ctx.base}/gray/rule`, { rule: rule.read(), expectedRevision: ctx.n.revision }));
    if (n) { flash('Gray rule changed'); reload(); }
  });
  const promote = h('button', { type: 'button', class: 'primary' }, `Promote r${gray.releaseId} to main`);
  promote.addEventListener('click', async () => {
    const diff = await attempt(error, () => get(`${ctx.base}/diff?from=${ctx.n.headReleaseId}&to=${gray.releaseId}`));
    if (!diff) return;
    const go = await confirmShip(`Promote r${gray.releaseId} to main?`, `Every instance gets r${gray.releaseId}; what changes for those on r${ctx.n.headReleaseId}:`, diff, 'Promote');
    if (!go) return;
    const n = await attempt(error, () => post(`${ctx.base}/gray/promote`, { expectedRevision: ctx.n.revision }));
    if (n) { flash(`Promoted r${gray.releaseId}: it is the main release now`); reload(); }
  });
  const abandon = h('button', { type: 'button', class: 'danger' }, 'Abandon gray release');
  abandon.addEventListener('click', async () => {
    const sure = await modal('Abandon the gray release?', close => {
      const yes = h('button', { type: 'button', class: 'danger' }, 'Abandon');
      const no = h('button', { type: 'button' }, 'Keep it');
      yes.addEventListener('click', () => close(true));
      no.addEventListener('click', () => close(false));
      return h('div', null, h('p', null, `Instances on r${gray.releaseId} go back to r${ctx.n.headReleaseId || '—'}.`), h('div', { class: 'actions' }, yes, no));
    });
    if (!sure) return;
    const n = await attempt(error, () => post(`${ctx.base}/gray/abandon`, { expectedRevision: ctx.n.revision }));
    if (n) { flash('Gray release abandoned'); reload(); }
  });

  const cohortSummary = h('p', { class: 'cohort', 'data-testid': 'cohort', 'aria-live': 'polite' });
  const cohortTable = h('div');
  const live = h('section', { 'aria-label': 'Delivery' });
  clear(panel,
    h('h2', null, `Gray release r${gray.releaseId}`),
    h('p', null, 'Goes to ', h('strong', null, describeRule(gray.rule)), `; everyone else stays on ${ctx.n.headReleaseId ? 'r' + ctx.n.headReleaseId : 'no release'}.`),
    ctx.perms.release ? h('div', { class: 'actions' }, ctx.n.requireApproval ? null : promote, abandon) : null, error,
    h('h3', null, 'Gray cohort'), cohortSummary, cohortTable,
    ctx.perms.release ? [h('h3', null, 'Change rule'), ruleForm] : null,
    live);
  return renderDelivery(live, ctx.app, ctx.env, ctx.ns, s => {
    cohortSummary.textContent = `${fmtNum(s.grayCohort)} of ${fmtNum(s.instanceCount)} reporting instances in the cohort, ${fmtNum(s.grayApplied)} on r${gray.releaseId}`;
    clear(cohortTable, instancesTable(s.instances.filter(i => i.inGray), 'Gray cohort'));
  });
}
