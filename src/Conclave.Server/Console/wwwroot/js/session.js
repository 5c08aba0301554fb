// Sign-in for the console while auth is enabled: the session is an HttpOnly cookie the server sets on
// POST /api/v1/session, or at the end of an OpenID Connect sign-in (GET /api/v1/session/oidc sends the browser to
// the provider, which sends it back to the server's callback); the console never sees the token. GET tells who is
// signed in (user, provider, roles) and whether OIDC is offered, DELETE signs out (and may name the provider's
// end-session URL, RP-Initiated Logout).
import { h, clear, field } from './dom.js';

export let session = { authEnabled: false, user: null, provider: null, roles: null, oidc: null };

export async function loadSession() {
  const res = await fetch('/api/v1/session', { headers: { Accept: 'application/json' } });
  if (res.ok) session = await res.json();
  return session;
}

// The sign-in page; resolves once a sign-in succeeded. `error` is a failed OIDC sign-in's reason (shown as an alert).
export function renderSignIn(main, reason, error) {
  return new Promise(resolve => {
    const name = h('input', { name: 'username', autocomplete: 'username', required: true });
    const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const failure = h('p', { class: 'error', role: 'alert', hidden: !error }, error || '');
    const form = h('form', {
      class: 'signin',
      onsubmit: async e => {
        e.preventDefault();
        failure.hidden = true;
        const res = await fetch('/api/v1/session', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ name: name.value, password: password.value }),
        });
        const body = await res.json().catch(() => ({}));
        if (!res.ok) {
          failure.textContent = body.detail || `sign-in failed (HTTP ${res.status})`;
          failure.hidden = false;
          password.value = '';
          password.focus();
          return;
        }
        session = { ...session, authEnabled: true, user: body.user, provider: body.provider || 'local', roles: body.roles || [] };
        resolve(session);
      },
    },
    field('User', name), field('Password', password), h('button', { type: 'submit' }, 'Sign in'), failure);
    // OpenID Connect: a plain navigation to the server, which redirects to the provider (and back to this page).
    const oidc = session.oidc
      ? h('p', null, h('a', { class: 'oidc', href: `${session.oidc.url}?return=${encodeURIComponent(location.hash || '#/apps')}` }, `Sign in with ${session.oidc.name}`))
      : null;
    clear(main, h('h1', null, 'Sign in'), reason ? h('p', { class: 'muted' }, reason) : null, oidc,
      oidc ? h('p', { class: 'muted' }, 'or with a user of this cluster:') : null, form);
    name.focus();
  });
}

// Signs out; true when the browser is on its way to the OpenID Connect provider to end its session too (the server
// answers 200 with the provider's end-session URL, built from its own configuration; the provider then sends the
// browser back to the sign-in page), false when the sign-out is done here.
export async function signOut() {
  const res = await fetch('/api/v1/session', { method: 'DELETE' });
  session = { ...session, user: null, provider: null, roles: null };
  if (res.status === 200) {
    const { endSessionUrl } = await res.json();
    if (/^https?:\/\//.test(endSessionUrl)) {
      location.assign(endSessionUrl);
      return true;
    }
  }
  return false;
}
