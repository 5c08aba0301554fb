import { h, clear, field } from '../dom.js';
import { get, api } from '../api.js';
import { errorArea, attempt, flash, reload } from '../feedback.js';

// The center's settings (root only while auth is enabled; the server decides and refuses others with a problem):
// who may create apps, and how long the audit keeps entries.
export async function renderSettings(main) {
  const settings = await get('/settings');
  const creators = h('textarea', { name: 'appCreators', rows: 4, cols: 40, placeholder: 'role:platform\nuser:alice' }, (settings.appCreators || []).join('\n'));
  const retention = h('input', { name: 'auditRetentionDays', type: 'number', min: 0, value: String(settings.auditRetentionDays || 0) });
  const error = errorArea();
  const form = h('form', { 'aria-label': 'Center settings' },
    field('May create apps (one user:NAME or role:NAME per line; empty: every signed-in user)', creators),
    field('Audit retention in days (0 keeps everything)', retention),
    h('button', { type: 'submit' }, 'Save settings'), error);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const body = {
      appCreators: creators.value.split('\n').map(x => x.trim()).filter(Boolean),
      auditRetentionDays: Number(retention.value || 0),
    };
    if (await attempt(error, () => api('PUT', '/settings', body)) !== undefined) {
      flash('Settings saved.');
      reload();
    }
  });
  clear(main, h('h1', null, 'Settings'), form);
  return null;
}
