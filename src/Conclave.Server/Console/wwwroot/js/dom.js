// Tiny DOM builder: h('tag', {attrs}, ...children). Text is always set as text, never as HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const fmtNum = n => Number(n).toLocaleString('en-US');

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

export const enc = encodeURIComponent;

export function field(label, input) {
  return h('label', { class: 'field' }, h('span', null, label), input);
}

// A labelled table; rows is an array of arrays of cells (strings or nodes).
export function table(caption, headers, rows, attrs) {
  return h('table', attrs || {},
    caption ? h('caption', null, caption) : null,
    h('thead', null, h('tr', null, headers.map(x => h('th', { scope: 'col' }, x)))),
    h('tbody', null, rows.map(r => r instanceof Node ? r : h('tr', null, r.map(c => h('td', null, c))))));
}

export function badge(text, kind) {
  return h('span', { class: 'badge ' + (kind || '') }, text);
}

// Opens a modal <dialog>; resolves when it closes. build(close) returns its content.
export function modal(title, build) {
  return new Promise(resolve => {
    const id = 'dlg-' + Math.random().toString(36).slice(2);
    const dlg = h('dialog', { 'aria-labelledby': id });
    const close = value => { dlg.close(); dlg.remove(); resolve(value); };
    dlg.addEventListener('cancel', e => { e.preventDefault(); close(undefined); });
    dlg.append(h('h2', { id }, title), build(close));
    document.body.append(dlg);
    dlg.showModal();
  });
}
