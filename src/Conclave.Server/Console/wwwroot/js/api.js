// The only network access of the console: its own server's /api/v1. Errors become ApiError carrying the
// RFC 7807 problem (detail, code, line, column), so every view can show a readable message.
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

const AUTHOR_KEY = 'conclave.author';

export function author() {
  return localStorage.getItem(AUTHOR_KEY) || 'console';
}

export function setAuthor(name) {
  localStorage.setItem(AUTHOR_KEY, name.trim() || 'console');
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  // Signed in (auth enabled), the server records the signed-in user and ignores this header.
  if (method !== 'GET') headers['X-Conclave-Author'] = author();
  let res;
  try {
    res = await fetch('/api/v1' + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, { detail: `cannot reach the server (${e.message})` });
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text }; }
  }
  if (res.status === 401) window.dispatchEvent(new CustomEvent('conclave:signin', { detail: data && data.detail }));
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const get = path => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const put = (path, body) => api('PUT', path, body ?? {});
export const del = path => api('DELETE', path);

// Server-sent events from /api/v1; the browser reconnects by itself after a network error.
export function stream(path, event, onData, onState) {
  const source = new EventSource('/api/v1' + path);
  source.addEventListener(event, e => onData(JSON.parse(e.data)));
  source.addEventListener('open', () => onState && onState('live'));
  source.addEventListener('error', () => onState && onState(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting'));
  return source;
}

export function describe(error) {
  if (error instanceof ApiError) {
    const p = error.problem;
    const where = p.line ? ` (line ${p.line}, column ${p.column})` : '';
    return `${error.message}${where}`;
  }
  return error && error.message ? error.message : String(error);
}
