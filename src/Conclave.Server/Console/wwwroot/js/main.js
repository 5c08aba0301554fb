import { h, clear } from './dom.js';
import { describe, author, setAuthor } from './api.js';
import { hideBanner, showBanner, takeFlash } from './feedback.js';
import { renderApps } from './views/apps.js';
import { renderApp } from './views/app.js';
import { renderNamespace } from './views/namespace.js';
import { renderDeliveryPage } from './views/delivery.js';
import { renderKeys } from './views/keys.js';
import { renderCluster } from './views/cluster.js';
import { renderAudit } from './views/audit.js';
import { renderSettings } from './views/settings.js';
import { loadSession, renderSignIn, signOut, session } from './session.js';

const main = document.getElementById('main');
let cleanup = null;
let generation = 0;

function dispatch(parts, params) {
  const [section, app, env, ns] = parts;
  switch (section) {
    case 'apps':
      if (ns) return renderNamespace(main, app, env, ns, params);
      if (app) return renderApp(main, app, params);
      return renderApps(main, params);
    case 'delivery': return renderDeliveryPage(main, params);
    case 'keys': return renderKeys(main, params);
    case 'cluster': return renderCluster(main, params);
    case 'audit': return renderAudit(main, params);
    case 'settings': return renderSettings(main, params);
    default: location.replace('#/apps'); return null;
  }
}

async function route() {
  const mine = ++generation;
  if (cleanup) { try { cleanup(); } catch { /* a view that failed to stop must not block the next */ } }
  cleanup = null;
  hideBanner();
  const hash = location.hash && location.hash !== '#' ? location.hash.slice(1) : '/apps';
  const [path, query] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll('nav a[data-section]')) {
    if (a.dataset.section === parts[0]) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  clear(main, h('p', { class: 'muted' }, 'Loading…'));
  try {
    const result = await dispatch(parts, new URLSearchParams(query || ''));
    if (mine !== generation) { if (typeof result === 'function') result(); return; }
    cleanup = typeof result === 'function' ? result : null;
    const message = takeFlash();
    if (message) showBanner(message, 'ok');
  } catch (e) {
    if (mine !== generation) return;
    clear(main, h('h1', null, 'Something went wrong'), h('p', { class: 'error', role: 'alert' }, describe(e)),
      h('p', null, h('a', { href: '#/apps' }, 'Back to applications')));
  }
}

const authorInput = document.getElementById('author');
authorInput.value = author();
authorInput.addEventListener('change', () => setAuthor(authorInput.value));

// With auth enabled the console shows who is signed in (the audit records that user) instead of the author box.
function showSession() {
  const signedIn = session.authEnabled && session.user;
  document.getElementById('author-field').hidden = session.authEnabled;
  document.getElementById('signed-in').hidden = !signedIn;
  document.getElementById('signed-in-user').textContent = signedIn ? session.user : '';
  document.getElementById('whoami-user').textContent = signedIn ? session.user : '';
  document.getElementById('whoami-provider').textContent = !signedIn ? ''
    : session.provider === 'oidc' ? `OpenID Connect${session.oidc ? ` (${session.oidc.name})` : ''}` : 'this cluster (auth store)';
  const roles = signedIn ? (session.roles || []) : [];
  document.getElementById('whoami-roles').textContent = roles.length ? roles.join(', ') : 'none';
  document.getElementById('whoami').open = false;
}

let signingIn = false;
async function signIn(reason, error) {
  if (signingIn) return;
  signingIn = true;
  generation++;
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  hideBanner();
  try {
    await renderSignIn(main, reason, error);
  } finally {
    signingIn = false;
  }
  showSession();
  route();
}

document.getElementById('sign-out').addEventListener('click', async () => {
  if (await signOut()) return; // on the way to the provider, which sends the browser back to the sign-in page
  showSession();
  signIn('Signed out.');
});
window.addEventListener('conclave:signin', e => signIn(e.detail));
window.addEventListener('hashchange', () => { if (!signingIn) route(); });
window.addEventListener('unhandledrejection', e => console.error(e.reason));

// A failed OpenID Connect sign-in comes back as /?signin_error=...: shown on the sign-in page, then dropped from the URL.
const signinError = new URLSearchParams(location.search).get('signin_error');
if (signinError !== null) history.replaceState(null, '', location.pathname + location.hash);

loadSession().then(s => {
  showSession();
  if (s.authEnabled && !s.user) signIn(null, signinError); else route();
}, () => route());
