import { h, clear, enc, field, fmtTime, badge, modal } from '../dom.js';
import { get, post, del } from '../api.js';
import { errorArea, attempt } from '../feedback.js';

// Webhooks of one app (ADR 0016): listed, created, pinged and deleted by the app's owner and admins, with the delivery
// log of the selected one (refreshed every 2 s while shown). The signing secret is in the answer to create only: shown
// once, as on the credentials page.
const STATE = { Delivered: 'ok', Pending: 'warn', Failed: 'bad' };

export async function renderWebhooks(section, { app, envs, manage }) {
  const base = `/apps/${enc(app)}/webhooks`;
  if (!manage) {
    clear(section, h('h2', null, 'Webhooks'), h('p', { class: 'muted' }, 'Only the app\'s owner and admins see and manage its webhooks.'));
    return null;
  }
  const error = errorArea();
  const listArea = h('div');
  const issued = h('div', { 'aria-live': 'polite' });
  const logArea = h('section', { 'aria-label': 'Delivery log' });
  let selected = null;
  let timer = null;

  const drawLog = async () => {
    if (!selected) { clear(logArea); return; }
    const list = await attempt(error, () => get(`${base}/${enc(selected)}/deliveries`));
    if (!list) return;
    const rows = list.map(d => h('tr', null,
      h('td', null, h('code', null, d.eventId)), h('td', null, d.eventType),
      h('td', null, badge(d.state.toLowerCase(), STATE[d.state] || '')), h('td', null, String(d.attempts)),
      h('td', null, d.lastStatus != null ? String(d.lastStatus) : ''), h('td', { class: 'detail' }, d.lastError || ''),
      h('td', null, fmtTime(d.lastAttemptAt)), h('td', null, d.state === 'Pending' ? fmtTime(d.nextAttemptAt) : ''),
      h('td', null, redeliverButton(d), ' ', payloadButton(d))));
    clear(logArea, h('h3', null, `Deliveries of ${selected}`),
      list.length ? h('table', { 'aria-label': 'Deliveries' },
        h('thead', null, h('tr', null, ['Event', 'Type', 'State', 'Attempts', 'Last status', 'Last error', 'Last attempt', 'Next attempt', ''].map(x => h('th', { scope: 'col' }, x)))),
        h('tbody', null, rows)) : h('p', { class: 'muted' }, 'No deliveries yet: publish something, or send a ping.'));
  };
  const redeliverButton = d => {
    const button = h('button', { type: 'button', 'aria-label': `Redeliver ${d.eventId}` }, 'Redeliver');
    button.addEventListener('click', async () => {
      if (await attempt(error, () => post(`${base}/${enc(d.webhookId)}/deliveries/${enc(d.eventId)}/redeliver`, {}))) await drawLog();
    });
    return button;
  };
  const payloadButton = d => {
    const button = h('button', { type: 'button', 'aria-label': `Body of ${d.eventId}` }, 'Body');
    button.addEventListener('click', () => modal(`Body of ${d.eventId}`, close => {
      const ok = h('button', { type: 'button' }, 'Close');
      ok.addEventListener('click', () => close());
      let text = d.payload;
      try { text = JSON.stringify(JSON.parse(d.payload), null, 2); } catch { /* shown as sent */ }
      return h('div', null, h('pre', null, text), h('div', { class: 'actions' }, ok));
    }));
    return button;
  };

  const draw = async () => {
    const list = await attempt(error, () => get(base));
    if (!list) return;
    const rows = list.map(w => h('tr', { 'aria-current': w.id === selected ? 'true' : null },
      h('td', null, h('code', null, w.id)), h('td', null, h('code', null, w.url)),
      h('td', null, `${w.env || '*'} / ${w.namespace || '*'}`), h('td', null, w.events.join(', ')),
      h('td', null, h('code', null, w.secretHint)), h('td', null, `${fmtTime(w.createdAt)} by ${w.createdBy}`),
      h('td', null, showButton(w), ' ', pingButton(w), ' ', deleteButton(w))));
    clear(listArea, list.length ? h('table', { 'aria-label': 'Webhooks' },
      h('thead', null, h('tr', null, ['Id', 'URL', 'Env / namespace', 'Events', 'Secret ends', 'Created', ''].map(x => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows)) : h('p', { class: 'muted' }, 'No webhooks yet.'));
  };
  const select = async id => { selected = id; await draw(); await drawLog(); };
  const showButton = w => {
    const button = h('button', { type: 'button', 'aria-label': `Deliveries of ${w.id}` }, 'Deliveries');
    button.addEventListener('click', () => select(w.id));
    return button;
  };
  const pingButton = w => {
    const button = h('button', { type: 'button', 'aria-label': `Ping ${w.id}` }, 'Ping');
    button.addEventListener('click', async () => {
      if (await attempt(error, () => post(`${base}/${enc(w.id)}/ping`, {}))) await select(w.id);
    });
    return button;
  };
  const deleteButton = w => {
    const button = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${w.id}` }, 'Delete');
    button.addEventListener('click', async () => {
      const sure = await modal(`Delete webhook ${w.id}?`, close => {
        const yes = h('button', { type: 'button', class: 'danger' }, 'Delete');
        const no = h('button', { type: 'button' }, 'Cancel');
        yes.addEventListener('click', () => close(true));
        no.addEventListener('click', () => close(false));
        return h('div', null, h('p', null, `${w.url} stops receiving events; its delivery log and unsent deliveries are deleted.`), h('div', { class: 'actions' }, yes, no));
      });
      if (!sure) return;
      if (await attempt(error, () => del(`${base}/${enc(w.id)}`))) {
        if (selected === w.id) selected = null;
        clear(issued);
        await draw();
        await drawLog();
      }
    });
    return button;
  };

  const url = h('input', { name: 'url', type: 'url', required: true, size: 40, placeholder: 'https://ci.example.com/conclave', autocomplete: 'off' });
  const env = h('select', { name: 'env' }, h('option', { value: '' }, 'every environment'), envs.map(e => h('option', { value: e.name }, e.name)));
  const ns = h('input', { name: 'namespace', size: 14, placeholder: 'every namespace', autocomplete: 'off' });
  const events = h('input', { name: 'events', size: 30, placeholder: 'default: releases, gray, approvals, rejections', autocomplete: 'off' });
  const description = h('input', { name: 'description', size: 20, autocomplete: 'off' });
  const form = h('form', { class: 'inline-form', 'aria-label': 'New webhook' },
    field('URL', url), field('Environment', env), field('Namespace', ns), field('Events (comma-separated)', events), field('Description', description),
    h('button', { type: 'submit' }, 'Create webhook'));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const list = events.value.split(',').map(x => x.trim()).filter(Boolean);
    const created = await attempt(error, () => post(base, {
      url: url.value.trim(), env: env.value || null, namespace: ns.value.trim() || null, events: list.length ? list : null, description: description.value.trim() || null,
    }));
    if (!created) return;
    url.value = ''; ns.value = ''; events.value = ''; description.value = '';
    showOnce(issued, created);
    await select(created.webhook.id);
  });

  clear(section, h('h2', null, 'Webhooks'),
    h('p', { class: 'muted' }, 'Each event is a signed JSON POST (X-Conclave-Signature-256, X-Conclave-Event-Id), retried with back-off for about 50 minutes.'),
    issued, listArea, logArea, h('h3', null, 'New webhook'), form, error);
  await draw();
  timer = setInterval(() => { if (selected) drawLog(); }, 2000);
  return () => clearInterval(timer);
}

// The signing secret, once: afterwards only its last 4 characters are shown.
function showOnce(area, created) {
  const secret = h('code', { class: 'access-key', 'data-testid': 'webhook-secret' }, created.secret);
  const done = h('button', { type: 'button' }, 'I have copied it');
  done.addEventListener('click', () => clear(area));
  clear(area, h('div', { class: 'once', role: 'status', 'aria-label': 'New webhook secret' },
    h('p', null, h('strong', null, `Signing secret of ${created.webhook.id}`), ' — copy it now: it is shown only this once and cannot be shown again.'),
    h('p', null, secret),
    done));
}
