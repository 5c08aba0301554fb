import { h, clear, enc, field, fmtNum, fmtTime, badge } from '../dom.js';
import { get, stream } from '../api.js';
import { appPicker } from '../appPicker.js';

// The convergence text and bar: "812 of 1,000 on r42, 3 rejected".
export function convergence(s) {
  if (!s.headReleaseId) return h('p', { class: 'muted' }, `Nothing published yet · ${fmtNum(s.instanceCount)} instances reporting`);
  const text = `${fmtNum(s.applied)} of ${fmtNum(s.instanceCount)} on r${s.headReleaseId}, ${fmtNum(s.rejected)} rejected`;
  const pct = n => (s.instanceCount ? (100 * n / s.instanceCount) : 0) + '%';
  const applied = h('span', { class: 'seg applied' });
  const rejected = h('span', { class: 'seg rejected' });
  applied.style.width = pct(s.applied);
  rejected.style.width = pct(s.rejected);
  const others = Object.entries(s.byRelease).filter(([r]) => Number(r) !== s.headReleaseId).map(([r, c]) => `r${r}: ${fmtNum(c)}`);
  return h('div', { class: 'convergence' },
    h('p', { class: 'convergence-text', 'data-testid': 'convergence' }, text),
    h('div', { class: 'bar', role: 'progressbar', 'aria-label': `Instances on r${s.headReleaseId}`, 'aria-valuemin': 0, 'aria-valuemax': s.instanceCount, 'aria-valuenow': s.applied, 'aria-valuetext': text },
      applied, rejected),
    others.length ? h('p', { class: 'muted' }, 'Other releases applied: ' + others.join(', ')) : null);
}

export function instancesTable(list, label) {
  if (list.length === 0) return h('p', { class: 'muted' }, 'No instances reporting.');
  return h('table', { 'aria-label': label },
    h('thead', null, h('tr', null, ['Instance', 'Labels', 'Release', 'Status', 'Reason', 'Reported', 'From', 'Gray'].map(x => h('th', { scope: 'col' }, x)))),
    h('tbody', null, list.map(i => h('tr', null,
      h('td', null, h('code', null, i.instanceId)), h('td', null, i.labels.join(', ')), h('td', null, `r${i.releaseId}`),
      h('td', null, badge(i.status.toLowerCase(), i.status === 'Applied' ? 'ok' : 'bad')), h('td', null, i.reason || ''),
      h('td', null, fmtTime(i.reportedAt)), h('td', null, i.from || ''), h('td', null, i.inGray ? 'yes' : '')))));
}

// Live delivery of one namespace; returns a function that stops the stream.
export async function renderDelivery(panel, app, env, ns, onSnapshot) {
  const path = `/apps/${enc(app)}/envs/${enc(env)}/namespaces/${enc(ns)}/delivery`;
  const first = await get(path);
  const state = h('span', { class: 'live-state', 'data-testid': 'live-state' }, 'connecting');
  const body = h('div', { 'aria-live': 'polite' });
  const draw = s => {
    clear(body, convergence(s), s.truncated ? h('p', { class: 'muted' }, `Showing the first ${s.instances.length} instances.`) : null,
      instancesTable(s.instances, 'Instances'));
    if (onSnapshot) onSnapshot(s);
  };
  draw(first);
  clear(panel, h('h2', null, `Delivery of ${ns} `, state), body);
  const source = stream(`${path}/events`, 'delivery', draw, s => { state.textContent = s; });
  return () => source.close();
}

// The Delivery section: pick a namespace, then its live view.
export async function renderDeliveryPage(main, params) {
  const app = params.get('app') || '', env = params.get('env') || '', ns = params.get('ns') || '';
  const envs = app ? await get(`/apps/${enc(app)}/envs`) : [];
  const names = app && env ? (await get(`/apps/${enc(app)}/envs/${enc(env)}/namespaces`)).map(n => n.name) : [];
  const go = (name, value) => {
    const q = new URLSearchParams({ app, env, ns });
    q.set(name, value);
    if (name === 'app') { q.delete('env'); q.delete('ns'); }
    if (name === 'env') q.delete('ns');
    location.hash = '#/delivery?' + q.toString();
  };
  const pick = (name, label, options, value) => {
    const s = h('select', { name }, h('option', { value: '' }, '—'), options.map(o => h('option', { value: o, selected: o === value }, o)));
    s.addEventListener('change', () => go(name, s.value));
    return field(label, s);
  };
  // Apps are typed (with suggestions), not listed: there may be thousands.
  const appField = appPicker('app', app);
  appField.input.addEventListener('change', () => { if (appField.input.value.trim() !== app) go('app', appField.input.value.trim()); });
  const panel = h('section', { 'aria-label': 'Delivery' });
  clear(main, h('h1', null, 'Delivery'),
    h('p', { class: 'muted' }, 'Which release each instance applied or rejected, live.'),
    h('div', { class: 'inline-form' }, field('App', appField.element), pick('env', 'Environment', envs.map(e => e.name), env), pick('ns', 'Namespace', names, ns)),
    panel);
  if (app && env && ns) return renderDelivery(panel, app, env, ns);
  return null;
}
