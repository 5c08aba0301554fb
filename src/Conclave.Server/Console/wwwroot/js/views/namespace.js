import { h, clear, enc, badge } from '../dom.js';
import { get } from '../api.js';
import { renderEditor } from './editor.js';
import { renderReleases } from './releases.js';
import { renderGray } from './gray.js';
import { renderDelivery } from './delivery.js';

const TABS = [['edit', 'Edit'], ['releases', 'Releases'], ['gray', 'Gray release'], ['delivery', 'Delivery']];

export async function renderNamespace(main, app, env, ns, params) {
  const tab = params.get('tab') || 'edit';
  const base = `/apps/${enc(app)}/envs/${enc(env)}/namespaces/${enc(ns)}`;
  const n = await get(base);
  const href = t => `#/apps/${enc(app)}/${enc(env)}/${enc(ns)}?tab=${t}`;
  const panel = h('section', { id: 'panel', 'aria-label': TABS.find(t => t[0] === tab)?.[1] || 'Edit' });
  clear(main,
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/apps' }, 'Applications'), ' / ',
      h('a', { href: `#/apps/${enc(app)}?env=${enc(env)}` }, `${app} (${env})`), ' / ', ns),
    h('h1', null, ns, ' ', h('span', { class: 'muted small' }, n.format.toLowerCase())),
    h('p', { class: 'summary' },
      n.headReleaseId ? `Main release r${n.headReleaseId}` : 'Never published', ' · ',
      n.gray ? badge(`gray release r${n.gray.releaseId} active`, 'gray') : 'no gray release', ' · ',
      `working copy revision ${n.revision}, edited by ${n.updatedBy}`),
    h('nav', { class: 'tabs', 'aria-label': 'Namespace views' },
      TABS.map(([id, label]) => h('a', { href: href(id), 'aria-current': id === tab ? 'page' : null }, label))),
    panel);
  const ctx = { app, env, ns, base, n };
  switch (tab) {
    case 'releases': return renderReleases(panel, ctx);
    case 'gray': return renderGray(panel, ctx);
    case 'delivery': return renderDelivery(panel, app, env, ns);
    default: return renderEditor(panel, ctx);
  }
}
