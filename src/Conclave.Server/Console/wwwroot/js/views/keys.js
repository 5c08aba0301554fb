import { h, clear, enc, field, fmtNum } from '../dom.js';
import { get, stream } from '../api.js';
import { errorArea, attempt } from '../feedback.js';

const preview = (v, binary) => binary ? h('span', { class: 'muted' }, `(binary, base64) ${v.slice(0, 60)}`) : h('code', null, v.length > 120 ? v.slice(0, 120) + '…' : v);

export async function renderKeys(main, params) {
  const prefix = params.get('prefix') || '';
  const key = params.get('key');
  const prefixInput = h('input', { name: 'prefix', size: 40, value: prefix, placeholder: 'app/ (empty: every key)' });
  const browse = h('form', { class: 'inline-form', 'aria-label': 'Browse keys' }, field('Prefix', prefixInput), h('button', { type: 'submit' }, 'Browse'));
  browse.addEventListener('submit', e => { e.preventDefault(); location.hash = `#/keys?prefix=${enc(prefixInput.value)}`; });

  const error = errorArea();
  const body = h('tbody');
  const more = h('button', { type: 'button', hidden: true }, 'Load more');
  let last = null;
  let revision = 0;
  const load = async () => {
    const page = await get(`/keys?prefix=${enc(prefix)}&limit=100${last ? '&after=' + enc(last) : ''}`);
    revision = page.revision;
    for (const k of page.keys) {
      body.append(h('tr', null,
        h('td', null, h('a', { href: `#/keys?prefix=${enc(prefix)}&key=${enc(k.key)}` }, k.key)),
        h('td', null, preview(k.value, k.binary)), h('td', null, k.modRevision), h('td', null, k.version), h('td', null, k.lease || '')));
    }
    if (page.keys.length) last = page.keys[page.keys.length - 1].key;
    more.hidden = !page.more;
    return page;
  };
  more.addEventListener('click', () => attempt(error, load));
  const first = await load();

  const history = h('section', { id: 'key-history', 'aria-label': 'Key history' });
  if (key) await renderHistory(history, key);

  const events = h('ol', { class: 'events', reversed: true, 'aria-label': 'Watch events' });
  const watchState = h('span', { class: 'live-state', 'data-testid': 'watch-state' }, 'not watching');
  const watchButton = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Watch prefix live');
  let source = null;
  const stop = () => { if (source) { source.close(); source = null; } watchButton.setAttribute('aria-pressed', 'false'); watchButton.textContent = 'Watch prefix live'; watchState.textContent = 'not watching'; };
  watchButton.addEventListener('click', () => {
    if (source) { stop(); return; }
    source = new EventSource(`/api/v1/keys/watch?prefix=${enc(prefix)}&fromRevision=${revision + 1}`);
    source.addEventListener('ready', () => { watchState.textContent = 'live'; });
    const onEvent = e => {
      const ev = JSON.parse(e.data);
      events.prepend(h('li', { class: 'event-' + ev.type }, `r${ev.revision} ${ev.type} `, h('code', null, ev.kv.key), ev.type === 'put' ? [' = ', preview(ev.kv.value, ev.kv.binary)] : null));
      while (events.children.length > 200) events.lastChild.remove();
    };
    source.addEventListener('put', onEvent);
    source.addEventListener('delete', onEvent);
    source.addEventListener('failed', e => { watchState.textContent = JSON.parse(e.data).detail; stop(); });
    source.addEventListener('error', () => { if (source) watchState.textContent = source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'; });
    watchButton.setAttribute('aria-pressed', 'true');
    watchButton.textContent = 'Stop watching';
  });

  clear(main, h('h1', null, 'Keys'), browse,
    h('p', { class: 'muted' }, `Read at revision ${fmtNum(first.revision)}.`),
    h('table', { 'aria-label': 'Keys' },
      h('thead', null, h('tr', null, ['Key', 'Value', 'Modified at', 'Version', 'Lease'].map(x => h('th', { scope: 'col' }, x)))), body),
    more, error, history,
    h('h2', null, 'Watch ', h('code', null, prefix || '(every key)'), ' ', watchState), watchButton, events);
  return stop;
}

async function renderHistory(section, key) {
  try {
    const hist = await get(`/keys/history?key=${enc(key)}`);
    clear(section, h('h2', null, 'History of ', h('code', null, key)),
      h('p', { class: 'muted' }, `${hist.revisions.length} retained revisions; store at revision ${fmtNum(hist.revision)}, compacted up to ${fmtNum(hist.compactRevision)}.`),
      h('table', { 'aria-label': `History of ${key}` },
        h('thead', null, h('tr', null, ['Revision', 'Change', 'Version', 'Value', 'Lease'].map(x => h('th', { scope: 'col' }, x)))),
        h('tbody', null, hist.revisions.map(r => h('tr', null,
          h('td', null, r.revision), h('td', null, r.type), h('td', null, r.type === 'put' ? r.version : ''),
          h('td', null, r.type === 'put' ? preview(r.value, r.binary) : h('span', { class: 'muted' }, 'deleted')), h('td', null, r.lease || ''))))));
  } catch (e) {
    const error = errorArea();
    error.show(e);
    clear(section, h('h2', null, 'History of ', h('code', null, key)), error);
  }
}
