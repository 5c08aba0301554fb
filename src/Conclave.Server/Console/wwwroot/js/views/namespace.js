import { h, clear, enc, badge } from '../dom.js';
import { get } from '../api.js';
import { checked, describePermissions } from '../access.js';
import { renderEditor } from './editor.js';
import { renderReleases } from './releases.js';
import { renderRequests } from './requests.js';
import { renderGray } from './gray.js';
import { renderDelivery } from './delivery.js';
import { renderPolicy } from './policy.js';

const TABS = [['edit', 'Edit'], ['releases', 'Releases'], ['requests', 'Approvals'], ['gray', 'Gray release'], ['delivery', 'Delivery'], ['policy', 'Policy']];

export async function renderNamespace(main, app, env, ns, params) {
  const tab = params.get('tab') || 'edit';
  const base = `/apps/${enc(app)}/envs/${enc(env)}/namespaces/${enc(ns)}`;
  // What the caller may do here decides which controls are offered (the member still checks each change).
  const [n, perms, pending] = await Promise.all([get(base), get(`${base}/permissions`), get(`${base}/requests?status=pending`)]);
  const href = t => `#/apps/${enc(app)}/${enc(env)}/${enc(ns)}?tab=${t}`;
  const panel = h('section', { id: 'panel', 'aria-label': TABS.find(t => t[0] === tab)?.[1] || 'Edit' });
  clear(main,
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/apps' }, 'Applications'), ' / ',
      h('a', { href: `#/apps/${enc(app)}?env=${enc(env)}` }, `${app} (${env})`), ' / ', ns),
    h('h1', null, ns, ' ', h('span', { class: 'muted small' }, n.format.toLowerCase()), n.secret ? [' ', badge('secret', 'warn')] : null,
      n.isPublic ? [' ', badge('public', 'ok')] : null, n.baseApp ? [' ', badge(`overrides ${n.baseApp}`, 'gray')] : null),
    h('p', { class: 'summary' },
      n.headReleaseId ? `Main release r${n.headReleaseId}` : 'Never published', ' · ',
      n.gray ? badge(`gray release r${n.gray.releaseId} active`, 'gray') : 'no gray release', ' · ',
      `working copy revision ${n.revision}, edited by ${n.updatedBy}`,
      n.requireApproval ? [' · ', badge('releases need approval', 'warn')] : null,
      n.separateEditAndRelease ? [' · ', badge('editors may not publish', 'warn')] : null,
      pending.length ? [' · ', h('a', { href: href('requests'), 'data-testid': 'pending-requests' },
        `${pending.length} release request${pending.length === 1 ? '' : 's'} waiting for approval`)] : null),
    checked() ? h('p', { class: 'muted', 'data-testid': 'my-permissions' }, 'Your permissions here: ', describePermissions(perms)) : null,
    h('nav', { class: 'tabs', 'aria-label': 'Namespace views' },
      TABS.map(([id, label]) => h('a', { href: href(id), 'aria-current': id === tab ? 'page' : null }, label))),
    panel);
  const ctx = { app, env, ns, base, n, perms, pending };
  switch (tab) {
    case 'releases': return renderReleases(panel, ctx);
    case 'requests': return renderRequests(panel, ctx);
    case 'gray': return renderGray(panel, ctx);
    case 'delivery': return renderDelivery(panel, app, env, ns);
    case 'policy': return renderPolicy(panel, ctx);
    default: return renderEditor(panel, ctx);
  }
}
