// Sign-in for the console while auth is enabled: the session is an HttpOnly cookie the server sets on
// POST /api/v1/session (the console never sees the token); GET tells who is signed in, DELETE signs out.
import { h, clear, field } from './dom.js';

export let session = { authEnabled: false, user: null };

export async function loadSession() {
  const res = await fetch('/api/v1/session', { headers: { Accept: 'application/json' } });
  if (res.ok) session = await res.json();
  return session;
}

// The sign-in page; resolves once a sign-in succeeded.
export function renderSignIn(main, reason) {
  return new Promise(resolve => {
    const name = h('input', { name: 'username', autocomplete: 'username', required: true });
    const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    const error = h('p', { class: 'error', role: 'alert', hidden: true });
    const form = h('form', {
      class: 'signin',
      onsubmit: async e => {
        e.preventDefault();
        error.hidden = true;
        const res = await fetch('/api/v1/session', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ name: name.value, password: password.value }),
        });
        const body = await res.json().catch(() => ({}));
        if (!res.ok) {
          error.textContent = body.detail || `sign-in failed (HTTP ${res.status})`;
          error.hidden = false;
          password.value = '';
          password.focus();
          return;
        }
        session = { authEnabled: true, user: body.user };
        resolve(session);
      },
    },
    field('User', name), field('Password', password), h('button', { type: 'submit' }, 'Sign in'), error);
    clear(main, h('h1', null, 'Sign in'), reason ? h('p', { class: 'muted' }, reason) : null, form);
    name.focus();
  });
}

export async function signOut() {
  await fetch('/api/v1/session', { method: 'DELETE' });
  session = { authEnabled: session.authEnabled, user: null };
}
