import { h, clear, enc, field, fmtTime, badge, modal } from '../dom.js';
import { get, post, del } from '../api.js';
import { errorArea, attempt } from '../feedback.js';

// App credentials of one environment (ADR 0015, Apollo's access keys): listed, created and revoked by the app's owner
// and admins. The key's secret is in the answer to create only: shown once, with a copy button and a warning.
export async function renderCredentials(section, { app, env, manage }) {
  const base = `/apps/${enc(app)}/envs/${enc(env)}/credentials`;
  if (!manage) {
    clear(section, h('h2', null, `Credentials in ${env}`), h('p', { class: 'muted' }, 'Only the app\'s owner and admins see and manage its credentials.'));
    return null;
  }
  const error = errorArea();
  const listArea = h('div');
  const issued = h('div', { 'aria-live': 'polite' });
  const draw = async () => {
    const list = await attempt(error, () => get(base));
    if (!list) return;
    const rows = list.map(c => h('tr', null,
      h('td', null, h('code', null, c.id)), h('td', null, c.name || ''), h('td', null, h('code', null, `…${c.hint}`)),
      h('td', null, `${fmtTime(c.createdAt)} by ${c.createdBy}`),
      h('td', null, c.revokedAt ? [badge('revoked', 'bad'), ` ${fmtTime(c.revokedAt)} by ${c.revokedBy}`] : badge('active', 'ok')),
      h('td', null, c.revokedAt ? '' : revokeButton(c))));
    clear(listArea, list.length ? h('table', { 'aria-label': 'Credentials' },
      h('thead', null, h('tr', null, ['Id', 'Name', 'Key ends', 'Created', 'State', ''].map(x => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows)) : h('p', { class: 'muted' }, 'No credentials: clients of this environment need none unless auth is enabled.'));
  };
  const revokeButton = c => {
    const button = h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${c.id}` }, 'Revoke');
    button.addEventListener('click', async () => {
      const sure = await modal(`Revoke credential ${c.id}?`, close => {
        const yes = h('button', { type: 'button', class: 'danger' }, 'Revoke');
        const no = h('button', { type: 'button' }, 'Cancel');
        yes.addEventListener('click', () => close(true));
        no.addEventListener('click', () => close(false));
        return h('div', null, h('p', null, 'Clients using this key are refused from now on, and their live subscriptions end within seconds.'),
          h('div', { class: 'actions' }, yes, no));
      });
      if (!sure) return;
      const done = await attempt(error, () => del(`${base}/${enc(c.id)}`));
      if (done) { clear(issued); await draw(); }
    });
    return button;
  };

  const name = h('input', { name: 'name', size: 24, placeholder: 'e.g. orders-api pods', autocomplete: 'off' });
  const form = h('form', { class: 'inline-form', 'aria-label': 'New credential' }, field('Credential name', name), h('button', { type: 'submit' }, 'Create credential'));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const created = await attempt(error, () => post(base, { name: name.value.trim() || null }));
    if (!created) return;
    name.value = '';
    showOnce(issued, created);
    await draw();
  });

  clear(section, h('h2', null, `Credentials in ${env}`),
    h('p', { class: 'muted' }, 'Clients present the key as conclave-access-key (or CONCLAVE_ACCESS_KEY); at most two are active, so a rotation overlaps.'),
    issued, listArea, h('h3', null, 'New credential'), form, error);
  await draw();
  return null;
}

// The new key, once: the server keeps only its hash.
function showOnce(area, created) {
  const key = h('code', { class: 'access-key', 'data-testid': 'access-key' }, created.accessKey);
  const copied = h('span', { class: 'ok', 'aria-live': 'polite' });
  const copy = h('button', { type: 'button' }, 'Copy');
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(created.accessKey);
      copied.textContent = 'Copied';
    } catch {
      // No clipboard access (an insecure origin, or denied): select the key so Ctrl+C copies it.
      const range = document.createRange();
      range.selectNodeContents(key);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      copied.textContent = 'Selected: press Ctrl+C';
    }
  });
  const done = h('button', { type: 'button' }, 'I have copied it');
  done.addEventListener('click', () => clear(area));
  clear(area, h('div', { class: 'once', role: 'status', 'aria-label': 'New access key' },
    h('p', null, h('strong', null, `Access key of ${created.credential.id}`), ' — copy it now: it is shown only this once and cannot be shown again.'),
    h('p', null, key, ' ', copy, ' ', copied),
    done));
}
