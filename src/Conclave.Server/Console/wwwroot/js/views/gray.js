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
    const planText = h('input', { name: 'plan', size: 40, placeholder: 'canary, linear, exponential, or 1%,10%@5m,50%@10m,100%@10m' });
    const maxRejected = h('input', { name: 'maxRejected', type: 'number', min: 0, max: 100, step: '0.1', value: '5' });
    const maxUnhealthy = h('input', { name: 'maxUnhealthy', type: 'number', min: 0, max: 100, step: '0.1', value: '5' });
    const minReports = h('input', { name: 'minReports', type: 'number', min: 1, step: '1', value: '1' });
    const form = h('form', { class: 'stack-form', 'aria-label': 'Start gray release' },
      h('p', null, `Publishes the working copy to the instances the rule selects; the others stay on ${ctx.n.headReleaseId ? 'r' + ctx.n.headReleaseId : 'no release'}.`),
      rule.nodes,
      h('fieldset', { 'aria-label': 'Rollout plan' }, h('legend', null, 'Rollout plan (optional): the percentage follows the steps by itself, the release is promoted after the last step, and the plan halts and rolls back past the limits'),
        field('Plan steps or strategy', planText), field('Halt past rejected (%)', maxRejected), field('Halt past unhealthy (%)', maxUnhealthy), field('Reports needed before judging', minReports)),
      field('Release title', title), h('button', { type: 'submit', class: 'primary' }, 'Start gray release'), error);
    form.addEventListener('submit', async e => {
      e.preventDefault();
      const diff = await attempt(error, () => get(`${ctx.base}/diff`));
      if (!diff) return;
      const go = await confirmShip(planText.value.trim() ? `Start a rollout by plan ${planText.value.trim()}?` : `Start a gray release to ${describeRule(rule.read()) || 'no instance'}?`,
        `The gray instances get the working copy; what changes for them against r${ctx.n.headReleaseId || '—'}:`, diff, 'Start gray release');
      if (!go) return;
      const body = { rule: rule.read(), title: title.value || null, expectedRevision: ctx.n.revision };
      if (planText.value.trim()) {
        body.plan = { text: planText.value.trim(), maxRejectedPercent: Number(maxRejected.value), maxUnhealthyPercent: Number(maxUnhealthy.value), minReports: Number(minReports.value) };
      }
      const release = await attempt(error, () => post(`${ctx.base}/gray`, body));
      if (release) { flash(body.plan ? `Gray release r${release.id} rolling out by plan` : `Gray release r${release.id} started`); reload(); }
    });
    clear(panel, h('h2', null, 'Gray release'), ctx.n.rollout ? planTimeline(ctx, ctx.n.rollout, null) : null, form);
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

  // A running plan changes the rule by itself: its timeline is kept current by polling the namespace.
  const plan = h('section', { 'aria-label': 'Rollout plan' });
  const goesTo = h('p', { 'data-testid': 'goes-to' }, 'Goes to ', h('strong', null, describeRule(gray.rule)), `; everyone else stays on ${ctx.n.headReleaseId ? 'r' + ctx.n.headReleaseId : 'no release'}.`);
  const planActive = ctx.n.rollout && ctx.n.rollout.releaseId === gray.releaseId && (ctx.n.rollout.status === 'Running' || ctx.n.rollout.status === 'Paused');
  let poll = null;
  if (ctx.n.rollout && ctx.n.rollout.releaseId === gray.releaseId) {
    const draw = rollout => {
      clear(plan, planTimeline(ctx, rollout, error));
      if (ctx.n.gray) clear(goesTo, 'Goes to ', h('strong', null, describeRule(ctx.n.gray.rule)), `; everyone else stays on ${ctx.n.headReleaseId ? 'r' + ctx.n.headReleaseId : 'no release'}.`);
    };
    draw(ctx.n.rollout);
    let last = JSON.stringify(ctx.n.rollout);
    poll = setInterval(async () => {
      const n = await get(ctx.base).catch(() => null);
      if (!n) return;
      if (!n.gray || n.gray.releaseId !== gray.releaseId) { clearInterval(poll); reload(); return; }
      const now = JSON.stringify(n.rollout);
      if (now !== last) { last = now; ctx.n = n; draw(n.rollout); } else drawBake(plan, n.rollout);
    }, 1000);
  }
  const cohortSummary = h('p', { class: 'cohort', 'data-testid': 'cohort', 'aria-live': 'polite' });
  const cohortTable = h('div');
  const live = h('section', { 'aria-label': 'Delivery' });
  clear(panel,
    h('h2', null, `Gray release r${gray.releaseId}`),
    goesTo,
    ctx.perms.release ? h('div', { class: 'actions' }, ctx.n.requireApproval ? null : promote, abandon) : null, error, plan,
    h('h3', null, 'Gray cohort'), cohortSummary, cohortTable,
    ctx.perms.release && !planActive ? [h('h3', null, 'Change rule'), ruleForm] : null,
    live);
  const stop = await renderDelivery(live, ctx.app, ctx.env, ctx.ns, s => {
    cohortSummary.textContent = `${fmtNum(s.grayCohort)} of ${fmtNum(s.instanceCount)} reporting instances in the cohort, ${fmtNum(s.grayApplied)} on r${gray.releaseId}`;
    clear(cohortTable, instancesTable(s.instances.filter(i => i.inGray), 'Gray cohort'));
  });
  return () => { if (poll) clearInterval(poll); if (typeof stop === 'function') stop(); };
}

const remaining = (rollout) => {
  const step = rollout.steps[rollout.step];
  const baked = rollout.status === 'Running' ? rollout.bakedSeconds + Math.max(0, (Date.now() - Date.parse(rollout.stepStartedAt)) / 1000) : rollout.bakedSeconds;
  return Math.max(0, Math.ceil(step.bakeSeconds - baked));
};

function drawBake(section, rollout) {
  const el = section.querySelector('[data-testid="bake"]');
  if (el && rollout && (rollout.status === 'Running' || rollout.status === 'Paused')) el.textContent = bakeText(rollout);
}

const bakeText = rollout => rollout.status === 'Paused' ? `paused, ${remaining(rollout)} s of bake left` : `${remaining(rollout)} s of bake left`;

// The plan as a timeline: one entry per step (done with what the cohort reported, the current one with its bake,
// the ones to come), the limits, how it ended, and the controls for holders of the release permission.
function planTimeline(ctx, rollout, error) {
  const active = rollout.status === 'Running' || rollout.status === 'Paused';
  const results = new Map(rollout.results.map(r => [r.step, r]));
  const steps = rollout.steps.map((step, i) => {
    const done = results.get(i + 1);
    const current = active && i === rollout.step;
    const state = done ? 'done' : current ? rollout.status.toLowerCase() : active ? 'to come' : 'not reached';
    return h('li', { class: `plan-step ${done ? 'done' : current ? 'current' : 'pending'}`, 'data-testid': `plan-step-${i + 1}` },
      h('strong', null, `Step ${i + 1}: ${step.percentage}%`), ` · bake ${step.bakeSeconds} s · ${state}`,
      done ? ` · ${fmtNum(done.applied)} applied, ${fmtNum(done.rejected)} rejected, ${fmtNum(done.unhealthy)} unhealthy` : null,
      current ? [' · ', h('span', { 'data-testid': 'bake' }, bakeText(rollout))] : null);
  });
  const controls = [];
  if (active && ctx.perms.release) {
    const act = (label, path, body, message) => {
      const b = h('button', { type: 'button' }, label);
      b.addEventListener('click', async () => {
        const n = await attempt(error, () => post(`${ctx.base}/gray/plan/${path}`, body()));
        if (n) { flash(message); reload(); }
      });
      return b;
    };
    controls.push(rollout.status === 'Running' ? act('Pause plan', 'pause', () => ({}), 'Rollout paused') : act('Resume plan', 'resume', () => ({}), 'Rollout resumed'));
    if (rollout.step + 1 < rollout.steps.length) {
      controls.push(act(`Skip to step ${rollout.step + 2}`, 'skip', () => ({ step: rollout.step + 2 }), `Rollout moved to step ${rollout.step + 2}`));
    }
    const abort = h('button', { type: 'button', class: 'danger' }, 'Abort plan');
    abort.addEventListener('click', async () => {
      const sure = await modal('Abort the rollout?', close => {
        const yes = h('button', { type: 'button', class: 'danger' }, 'Abort and roll back');
        const no = h('button', { type: 'button' }, 'Keep it');
        yes.addEventListener('click', () => close(true));
        no.addEventListener('click', () => close(false));
        return h('div', null, h('p', null, `The gray release r${rollout.releaseId} is abandoned: every instance returns to r${ctx.n.headReleaseId || '—'}.`), h('div', { class: 'actions' }, yes, no));
      });
      if (!sure) return;
      const n = await attempt(error, () => post(`${ctx.base}/gray/plan/abort`, { reason: 'aborted in the console' }));
      if (n) { flash('Rollout aborted: every instance is back on the main release'); reload(); }
    });
    controls.push(abort);
  }
  return h('div', { class: 'plan' },
    h('h3', null, active ? `Rollout plan of r${rollout.releaseId}: ${rollout.status.toLowerCase()}` : `Last rollout (r${rollout.releaseId}): ${rollout.status.toLowerCase()}`),
    rollout.outcome ? h('p', { 'data-testid': 'plan-outcome', class: rollout.status === 'Halted' ? 'error' : 'muted' }, rollout.outcome) : null,
    h('p', { class: 'muted' }, `Started by ${rollout.startedBy}; halts and rolls back past ${rollout.maxRejectedPercent}% rejected or ${rollout.maxUnhealthyPercent}% unhealthy reports (after ${rollout.minReports}).`),
    h('ol', { class: 'timeline', 'aria-label': 'Rollout steps' }, steps),
    controls.length ? h('div', { class: 'actions' }, controls) : null);
}
