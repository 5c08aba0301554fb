import { h } from './dom.js';
import { describe } from './api.js';

// Page-wide message under the header (API errors of the current page land here when nothing closer exists).
export function showBanner(message, kind) {
  const banner = document.getElementById('banner');
  banner.textContent = message;
  banner.className = 'banner ' + (kind || 'error');
  banner.hidden = false;
}

export function hideBanner() {
  document.getElementById('banner').hidden = true;
}

// An inline error next to a form: shows the API's problem detail (with line and column when given).
export function errorArea() {
  const el = h('p', { class: 'error', role: 'alert', hidden: true });
  el.show = error => { el.textContent = typeof error === 'string' ? error : describe(error); el.hidden = false; };
  el.hide = () => { el.hidden = true; el.textContent = ''; };
  return el;
}

// Runs fn; on failure shows the error in area and returns undefined.
export async function attempt(area, fn) {
  area.hide();
  try {
    return await fn();
  } catch (e) {
    area.show(e);
    return undefined;
  }
}

let pendingFlash = null;

// A success message shown after the next render (changes re-render the page from the server's state).
export function flash(message) {
  pendingFlash = message;
}

export function takeFlash() {
  const m = pendingFlash;
  pendingFlash = null;
  return m;
}

// Renders the current page again from the server, stopping its live streams first.
export function reload() {
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}
