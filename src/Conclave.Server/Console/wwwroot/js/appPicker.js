import { h } from './dom.js';
import { get } from './api.js';

// An app id field that suggests ids as one types, for pages that filter by app. It never loads the list of every
// app (there may be thousands): each change of the typed prefix asks the server for at most SUGGESTIONS ids starting
// with it (a range read of that many keys), the newest answer winning.
const SUGGESTIONS = 20;
let lists = 0;

export function appPicker(name, value, placeholder) {
  const id = `app-suggestions-${++lists}`;
  const suggestions = h('datalist', { id });
  const input = h('input', { name, type: 'search', list: id, value: value || '', placeholder: placeholder || 'app id', autocomplete: 'off', spellcheck: 'false' });
  let asked = null;
  const suggest = async () => {
    const prefix = input.value.trim();
    if (prefix === asked) return;
    asked = prefix;
    let apps;
    try {
      apps = await get(`/apps?limit=${SUGGESTIONS}` + (prefix ? `&prefix=${encodeURIComponent(prefix)}` : ''));
    } catch {
      return; // suggestions are a convenience: the field still takes any id
    }
    if (asked !== prefix) return;
    suggestions.replaceChildren(...apps.map(a => h('option', { value: a.id }, a.name && a.name !== a.id ? a.name : null)));
  };
  input.addEventListener('input', suggest);
  input.addEventListener('focus', suggest);
  return { input, element: h('span', { class: 'app-picker' }, input, suggestions) };
}
