import { h, clear, field, badge, fmtTime } from '../dom.js';
import { get, put, post, describe } from '../api.js';
import { errorArea, attempt, flash, reload } from '../feedback.js';
import { bucket, threshold, rolloutVariant } from '../flagBucket.js';
import { usageCell } from '../flagUsage.js';

// The flag editor of a namespace of format flags (docs/feature-flags.md): a list of the working copy's flags and a
// form for one flag. It edits the parsed document in place (fields it does not show are kept) and saves the whole
// document as the working copy (PUT .../content), so the server's validation, the diff and publishing stay as for any
// document. "Raw JSON" switches to the document editor for what the form cannot show.

const TYPES = ['boolean', 'string', 'number', 'json'];
const NEW_VARIANTS = { boolean: { on: true, off: false }, string: { control: '' }, number: { control: 0 }, json: { control: {} } };

// Per namespace, for this browser tab: the flag being edited and whether raw JSON is shown (a save re-renders the page).
const selection = new Map();
const rawShown = new Set();
// Per namespace, for this browser tab: the list's order ('document', 'stale-first', 'stale-only') and the stale period.
const listOrder = new Map();
const staleDaysOf = new Map();
// The cohort preview's sample keys are the page's, never the document's: kept per namespace, flag and rule.
const sampleKeys = new Map();
let uid = 0;

// Checks just enough of the document's shape for the form to show it; everything else is the server's to judge.
export function parseFlags(text) {
  if (!text.trim()) return { doc: { flags: {} } };
  let doc;
  try { doc = JSON.parse(text); } catch (e) { return { problem: `it is not valid JSON (${e.message})` }; }
  const isObject = v => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObject(doc) || !isObject(doc.flags)) return { problem: 'it is not an object with a "flags" object' };
  for (const [name, f] of Object.entries(doc.flags)) {
    const at = `flags["${name}"]`;
    if (!isObject(f)) return { problem: `${at} is not an object` };
    if (f.variants !== undefined && !isObject(f.variants)) return { problem: `${at}.variants is not an object` };
    if (f.rules !== undefined && !Array.isArray(f.rules)) return { problem: `${at}.rules is not an array` };
    for (const [i, r] of (f.rules || []).entries()) {
      const where = `${at}.rules[${i}]`;
      if (!isObject(r)) return { problem: `${where} is not an object` };
      for (const list of ['users', 'instances', 'groups', 'prerequisites', 'rollout']) {
        if (r[list] !== undefined && !Array.isArray(r[list])) return { problem: `${where}.${list} is not an array` };
      }
      if ((r.prerequisites || []).some(p => !isObject(p) || (p.variants !== undefined && !Array.isArray(p.variants)))) return { problem: `${where}.prerequisites holds something other than {flag, variants}` };
      if ((r.rollout || []).some(e => !isObject(e))) return { problem: `${where}.rollout holds something other than {variant, percentage}` };
      if (r.attributes !== undefined && (!isObject(r.attributes) || Object.values(r.attributes).some(v => !Array.isArray(v)))) return { problem: `${where}.attributes is not an object of lists` };
      if (r.window !== undefined && !isObject(r.window)) return { problem: `${where}.window is not an object` };
    }
  }
  return { doc };
}

export const serialize = doc => JSON.stringify(doc, null, 2) + '\n';

// A boolean flag without "variants" has on/off (docs/feature-flags.md).
const variantsOf = f => f.variants || (f.type === 'boolean' ? { on: true, off: false } : {});
const splitList = text => text.split(/[,\n]/).map(s => s.trim()).filter(Boolean);
const setOrDelete = (obj, key, value) => { if (value === undefined || (Array.isArray(value) && value.length === 0)) delete obj[key]; else obj[key] = value; };
const round2 = n => Math.round(Number(n) * 100) / 100;

export function flagsEditor(ctx, state, documentEditor) {
  const canEdit = ctx.perms.edit;
  const loaded = parseFlags(ctx.n.content);
  const savedText = ctx.n.content;
  let doc = loaded.doc || { flags: {} };
  let savedFlags = loaded.doc ? structuredClone(loaded.doc.flags) : {};
  let dirty = false;
  let selected = selection.get(ctx.base);
  let raw = null;
  let timer = null;
  let seq = 0;
  // The fleet's usage of the main release's flags: { loading, report, error, at }; fetched on opening and on Refresh.
  let usage = { loading: false, report: null, error: null, at: null };
  let usageSeq = 0;

  const error = errorArea();
  const validation = h('p', { class: 'doc-status', 'data-testid': 'flags-validation', 'aria-live': 'polite' });
  const status = h('p', { class: 'muted', 'data-testid': 'flags-status' });
  const listArea = h('div');
  const flagArea = h('div');
  const formView = h('div', { 'data-testid': 'flag-form' });
  const rawView = h('div', { hidden: true });
  const rawToggle = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Raw JSON');
  const cannotShow = h('p', { class: 'error', role: 'alert', hidden: true, 'data-testid': 'flags-unshowable' });

  // Asks the member's dry run (the publish validation, schema included) about the document as it stands in the form.
  const validate = async () => {
    const mine = ++seq;
    let result;
    try { result = await post(`${ctx.base}/validate`, { content: serialize(doc) }); } catch (e) { result = { valid: false, message: e.message }; }
    if (mine !== seq) return;
    if (result.valid) clear(validation, h('span', { class: 'ok' }, 'Valid flags document'));
    else clear(validation, h('span', { class: 'error-inline', role: 'alert' }, result.message));
  };
  const changed = () => {
    dirty = true;
    renderStatus();
    renderList();
    clearTimeout(timer);
    timer = setTimeout(validate, 250);
  };

  const renderStatus = () => {
    const n = Object.keys(doc.flags).length;
    status.textContent = `${n} flag${n === 1 ? '' : 's'}` + (dirty ? ' · unsaved changes: Save writes them to the working copy' : '');
  };

  const publishedState = name => {
    const mine = JSON.stringify(doc.flags[name]) !== JSON.stringify(savedFlags[name]) ? [badge('unsaved', 'bad'), ' '] : null;
    if (!ctx.n.headReleaseId) return [mine, badge('never published', 'gray')];
    const change = (state.pending || []).find(d => d.key === name);
    if (!change) return [mine, badge('published', 'ok')];
    return [mine, badge(change.change === 'Added' ? 'new, not published' : 'changed, not published', 'warn')];
  };

  // What the fleet serves of a flag of the main release (see flagUsage.js).
  const usageOf = (name, byFlag) => {
    if (!ctx.n.headReleaseId) return h('span', { class: 'muted' }, '—');
    if (!byFlag) return h('span', { class: 'muted' }, usage.loading ? 'loading…' : '—');
    const entry = byFlag.get(name);
    return entry ? usageCell(entry, usage.report) : h('span', { class: 'muted' }, 'not in the main release');
  };

  const renderList = () => {
    const all = Object.keys(doc.flags);
    const byFlag = usage.report ? new Map(usage.report.flags.map(f => [f.flag, f])) : null;
    const isStale = name => Boolean(byFlag && byFlag.get(name) && byFlag.get(name).stale);
    const mode = listOrder.get(ctx.base) || 'document';
    const names = mode === 'stale-first' ? [...all.filter(isStale), ...all.filter(n => !isStale(n))]
      : mode === 'stale-only' ? all.filter(isStale) : all;
    // Drawing the list again (usage arrived, a switch changed) keeps the focus on the control that had it.
    const focused = listArea.contains(document.activeElement) ? document.activeElement.getAttribute('aria-label') : null;
    const rows = names.map(name => {
      const f = doc.flags[name];
      const enabled = h('input', { type: 'checkbox', checked: f.enabled !== false, disabled: !canEdit, 'aria-label': `Enabled ${name}` });
      enabled.addEventListener('change', () => {
        f.enabled = enabled.checked;
        changed();
        if (selected === name) renderFlag();
        // The list was drawn again: keep the focus on this flag's switch.
        const row = [...listArea.querySelectorAll('tr')].find(tr => tr.dataset.flag === name);
        if (row) row.querySelector('input[type="checkbox"]').focus();
      });
      const edit = h('button', { type: 'button', 'aria-label': `Edit ${name}`, 'aria-pressed': String(selected === name) }, selected === name ? 'Editing' : 'Edit');
      edit.addEventListener('click', () => select(name));
      let remove = null;
      if (canEdit) {
        remove = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${name}` }, 'Delete');
        remove.addEventListener('click', () => {
          delete doc.flags[name];
          if (selected === name) select(null);
          changed();
        });
      }
      return h('tr', { class: selected === name ? 'selected' : null, 'data-flag': name },
        h('td', null, h('code', null, name), f.description ? h('div', { class: 'muted small-note' }, f.description) : null),
        h('td', null, f.type === undefined ? '' : String(f.type)),
        h('td', null, h('label', { class: 'check' }, enabled, f.enabled === false ? 'disabled' : 'enabled')),
        h('td', null, f.defaultVariant === undefined ? '' : h('code', null, String(f.defaultVariant))),
        h('td', null, String((f.rules || []).length)),
        h('td', null, publishedState(name)),
        h('td', { class: 'usage' }, usageOf(name, byFlag)),
        h('td', null, edit, ' ', remove));
    });
    const empty = all.length === 0 ? 'No flags yet.'
      : byFlag ? `No stale flags among the ${all.length} flag${all.length === 1 ? '' : 's'}.` : 'Stale flags are known once the usage is loaded.';
    clear(listArea, names.length
      ? h('table', { 'aria-label': 'Flags' },
        h('thead', null, h('tr', null, ['Flag', 'Type', 'State', 'Default variant', 'Rules', 'Published', 'Served (live instances)', 'Actions'].map(x => h('th', { scope: 'col' }, x)))),
        h('tbody', null, rows))
      : h('p', { class: 'muted', 'data-testid': 'flags-empty' }, empty));
    if (focused) {
      const again = [...listArea.querySelectorAll('[aria-label]')].find(e => e.getAttribute('aria-label') === focused);
      if (again) again.focus();
    }
  };

  // Evaluation insight: per flag of the main release, the variants the live instances served and whether it is stale.
  const order = h('select', { name: 'flag-order' },
    [['document', 'All flags, in document order'], ['stale-first', 'Stale flags first'], ['stale-only', 'Only stale flags']]
      .map(([value, label]) => h('option', { value, selected: value === (listOrder.get(ctx.base) || 'document') }, label)));
  order.addEventListener('change', () => { listOrder.set(ctx.base, order.value); renderList(); });
  const staleDays = h('input', { type: 'number', name: 'stale-days', min: 1, max: 3650, step: 1, value: String(staleDaysOf.get(ctx.base) || 7) });
  staleDays.addEventListener('change', () => {
    const n = Number(staleDays.value);
    // Not marked invalid (that would hold Save back): an impossible period goes back to the one in use.
    if (!Number.isInteger(n) || n < 1 || n > 3650) { staleDays.value = String(staleDaysOf.get(ctx.base) || 7); return; }
    staleDaysOf.set(ctx.base, n);
    loadUsage();
  });
  const refresh = h('button', { type: 'button' }, 'Refresh usage');
  refresh.addEventListener('click', () => loadUsage());
  const usageStatus = h('p', { class: 'muted', 'data-testid': 'usage-status', 'aria-live': 'polite' });
  const usageBar = h('div', { class: 'inline-form usage-controls', role: 'group', 'aria-label': 'Usage' },
    field('Show', order), field('Stale after (days)', staleDays), refresh);

  const renderUsageStatus = () => {
    // Left enabled while loading (disabling it would drop the focus): the latest request's answer wins anyway.
    refresh.disabled = !ctx.n.headReleaseId;
    if (!ctx.n.headReleaseId) { clear(usageStatus, 'Nothing published yet: instances count the evaluations of the main release.'); return; }
    if (usage.error) { clear(usageStatus, h('span', { class: 'error-inline', role: 'alert' }, `Cannot load what the fleet serves: ${usage.error}`)); return; }
    if (!usage.report) { clear(usageStatus, 'Loading what the fleet serves…'); return; }
    const r = usage.report;
    const stale = r.flags.filter(f => f.stale).length;
    clear(usageStatus, `Served: evaluations of r${r.releaseId} reported by the live instances · ${stale} of ${r.flags.length} flag${r.flags.length === 1 ? '' : 's'} stale (not evaluated for ${r.staleDays} day${r.staleDays === 1 ? '' : 's'}) · as of ${fmtTime(usage.at.toISOString())}`,
      usage.loading ? ' · refreshing…' : '');
  };

  // On opening the view and on Refresh (no polling): the answer of the latest request wins.
  const loadUsage = async () => {
    if (!ctx.n.headReleaseId) { renderUsageStatus(); return; }
    const mine = ++usageSeq;
    usage.loading = true;
    renderUsageStatus();
    let report = null, error = null;
    try { report = await get(`${ctx.base}/flags/usage?staleDays=${staleDaysOf.get(ctx.base) || 7}`); } catch (e) { error = describe(e); }
    if (mine !== usageSeq) return;
    usage = { loading: false, report, error, at: new Date() };
    renderUsageStatus();
    renderList();
  };

  const select = name => {
    selected = name;
    if (name) selection.set(ctx.base, name); else selection.delete(ctx.base);
    renderList();
    renderFlag();
  };

  const renderFlag = () => {
    const f = selected && doc.flags[selected];
    if (!f) { clear(flagArea); return; }
    const form = flagForm(selected, f, { changed, rerender: renderFlag, base: ctx.base });
    // Read only: the same form with every control disabled.
    clear(flagArea, canEdit ? form : h('fieldset', { class: 'plain', disabled: true }, form));
  };

  // A new flag: a name and a type, with variants to start from.
  let newFlagForm = null;
  if (canEdit) {
    const name = h('input', { name: 'flag-name', autocomplete: 'off', size: 24 });
    const type = h('select', { name: 'flag-type' }, TYPES.map(t => h('option', { value: t }, t)));
    const addError = errorArea();
    newFlagForm = h('form', { class: 'inline-form', 'aria-label': 'New flag' },
      field('Flag name', name), field('Type', type), h('button', { type: 'submit' }, 'Add flag'), addError);
    newFlagForm.addEventListener('submit', e => {
      e.preventDefault();
      addError.hide();
      const n = name.value.trim();
      if (!n) { addError.show('Name the flag.'); return; }
      const same = Object.keys(doc.flags).find(x => x.toLowerCase() === n.toLowerCase());
      if (same) { addError.show(`There is a flag ${same} already (flag names may not differ only in case).`); return; }
      const variants = structuredClone(NEW_VARIANTS[type.value]);
      doc.flags[n] = { type: type.value, enabled: true, variants, defaultVariant: type.value === 'boolean' ? 'off' : Object.keys(variants)[0], rules: [] };
      name.value = '';
      changed();
      select(n);
    });
  }

  const save = async () => {
    error.hide();
    const invalid = formView.querySelector('[aria-invalid="true"]');
    if (invalid) {
      error.show(`Fix the marked field first: ${invalid.getAttribute('aria-label') || invalid.name || 'a value'} is not valid.`);
      invalid.focus();
      return false;
    }
    const n = await attempt(error, () => put(`${ctx.base}/content`, { content: serialize(doc), expectedRevision: state.revision }));
    if (!n) return false;
    state.revision = n.revision;
    dirty = false;
    savedFlags = structuredClone(doc.flags);
    return true;
  };
  const saveButton = h('button', { type: 'button', hidden: !canEdit }, 'Save flags');
  saveButton.addEventListener('click', async () => {
    if (await save()) { flash('Saved the flags to the working copy (not published yet)'); reload(); }
  });

  const showRaw = on => {
    if (on) {
      if (raw && raw.cleanup) raw.cleanup();
      raw = documentEditor(ctx, state);
      // Unsaved form edits go over to the text (and count as unsaved there).
      const text = raw.querySelector('textarea');
      if (dirty && text) { text.value = serialize(doc); text.dispatchEvent(new Event('input')); }
      clear(rawView, raw);
      rawShown.add(ctx.base);
    } else {
      const text = raw && raw.querySelector('textarea');
      if (text) {
        const parsed = parseFlags(text.value);
        if (!parsed.doc) {
          cannotShow.textContent = `The form cannot show this document: ${parsed.problem}. Fix it here as raw JSON.`;
          cannotShow.hidden = false;
          return;
        }
        doc = parsed.doc;
        dirty = text.value !== savedText;
      }
      rawShown.delete(ctx.base);
      cannotShow.hidden = true;
      if (selected && !doc.flags[selected]) selected = null;
      renderStatus();
      renderList();
      renderFlag();
      validate();
    }
    rawToggle.setAttribute('aria-pressed', String(on));
    rawToggle.textContent = on ? 'Form' : 'Raw JSON';
    rawView.hidden = !on;
    formView.hidden = on;
  };
  rawToggle.addEventListener('click', () => showRaw(rawToggle.getAttribute('aria-pressed') !== 'true'));

  clear(formView, status, validation, usageBar, usageStatus, listArea, newFlagForm, flagArea,
    h('div', { class: 'actions' }, saveButton),
    canEdit ? null : h('p', { class: 'muted', 'data-testid': 'read-only' }, 'Read only: changing this working copy needs the edit permission.'));

  const el = h('div', null,
    h('h2', null, 'Flags (working copy)'),
    h('div', { class: 'actions' }, rawToggle, h('span', { class: 'muted' }, 'The form edits the document; Raw JSON shows all of it as text.')),
    cannotShow, formView, rawView, error);

  renderStatus();
  renderList();
  renderFlag();
  loadUsage();
  if (!loaded.doc) {
    cannotShow.textContent = `The form cannot show this document: ${loaded.problem}. Fix it here as raw JSON.`;
    cannotShow.hidden = false;
    showRaw(true);
  } else if (rawShown.has(ctx.base)) {
    showRaw(true);
  } else {
    validate();
  }

  // Publishing publishes what is shown: unsaved form or text edits are saved first.
  el.beforePublish = async () => {
    if (!canEdit) return true;
    if (!rawView.hidden) return raw.beforePublish ? raw.beforePublish() : true;
    return dirty ? save() : true;
  };
  el.cleanup = () => { clearTimeout(timer); usageSeq++; if (raw && raw.cleanup) raw.cleanup(); };
  return el;
}

// The form for one flag: type, description, seed, variants, default and off variant, and its rules in order.
function flagForm(name, f, env) {
  const { changed, rerender } = env;
  const variants = variantsOf(f);
  const variantNames = Object.keys(variants);
  const writeVariants = next => { f.variants = next; };

  const type = h('select', { name: 'type' }, TYPES.map(t => h('option', { value: t, selected: t === f.type }, t)));
  if (!TYPES.includes(f.type)) type.prepend(h('option', { value: String(f.type), selected: true }, `${f.type} (unknown)`));
  type.addEventListener('change', () => {
    const next = {};
    for (const [k, v] of Object.entries(variants)) next[k] = convert(v, type.value);
    f.type = type.value;
    writeVariants(next);
    changed();
    rerender();
  });
  const description = h('input', { name: 'description', size: 50, value: f.description || '' });
  description.addEventListener('input', () => { setOrDelete(f, 'description', description.value || undefined); changed(); });
  const seed = h('input', { name: 'seed', size: 24, value: f.seed || '', placeholder: name });
  seed.addEventListener('input', () => { setOrDelete(f, 'seed', seed.value || undefined); changed(); });
  seed.addEventListener('change', rerender);
  const enabled = h('input', { type: 'checkbox', name: 'enabled', checked: f.enabled !== false });
  enabled.addEventListener('change', () => { f.enabled = enabled.checked; changed(); });

  // Variants: renaming one renames the references to it in this flag.
  const variantRows = Object.entries(variants).map(([vName, value]) => {
    const nameInput = h('input', { name: 'variant-name', size: 14, value: vName, 'aria-label': `Name of variant ${vName}` });
    nameInput.addEventListener('change', () => {
      const to = nameInput.value.trim();
      if (!to || to === vName || to in variants) { nameInput.value = vName; return; }
      const next = {};
      for (const [k, v] of Object.entries(variants)) next[k === vName ? to : k] = v;
      writeVariants(next);
      renameVariant(f, vName, to);
      changed();
      rerender();
    });
    const valueInput = valueEditor(f.type, value, `Value of variant ${vName}`, v => { variants[vName] = v; writeVariants(variants); changed(); });
    const remove = h('button', { type: 'button', class: 'danger', 'aria-label': `Remove variant ${vName}` }, 'Remove');
    remove.addEventListener('click', () => {
      const next = { ...variants };
      delete next[vName];
      writeVariants(next);
      changed();
      rerender();
    });
    return h('tr', null, h('td', null, nameInput), h('td', null, valueInput), h('td', null, remove));
  });
  const addVariant = h('button', { type: 'button' }, 'Add variant');
  addVariant.addEventListener('click', () => {
    let i = variantNames.length + 1;
    while (`variant${i}` in variants) i++;
    writeVariants({ ...variants, [`variant${i}`]: convert('', f.type) });
    changed();
    rerender();
  });

  const variantOptions = (current, blank) => [
    blank ? h('option', { value: '', selected: current === undefined }, blank) : null,
    variantNames.map(v => h('option', { value: v, selected: v === current }, v)),
    current !== undefined && !variantNames.includes(current) ? h('option', { value: String(current), selected: true }, `${current} (no such variant)`) : null];
  const defaultVariant = h('select', { name: 'defaultVariant' }, variantOptions(f.defaultVariant, f.defaultVariant === undefined ? '(choose)' : null));
  defaultVariant.addEventListener('change', () => { setOrDelete(f, 'defaultVariant', defaultVariant.value || undefined); changed(); });
  const offVariant = h('select', { name: 'offVariant' }, variantOptions(f.offVariant, 'not set (off for a boolean flag that has it, else the default)'));
  offVariant.addEventListener('change', () => { setOrDelete(f, 'offVariant', offVariant.value || undefined); changed(); });

  const rules = f.rules || [];
  const addRule = h('button', { type: 'button' }, 'Add rule');
  addRule.addEventListener('click', () => {
    f.rules = [...rules, { variant: variantNames.find(v => v !== f.defaultVariant) || variantNames[0] || '' }];
    changed();
    rerender();
  });

  return h('section', { class: 'flag-editor', 'aria-label': `Flag ${name}` },
    h('h3', null, 'Flag ', h('code', null, name)),
    h('div', { class: 'inline-form' },
      field('Type', type), field('Description', description), field('Seed (default: the flag name)', seed),
      h('label', { class: 'check' }, enabled, ' Enabled (off: everyone gets the off variant)')),
    h('h4', null, 'Variants'),
    h('table', { 'aria-label': `Variants of ${name}` },
      h('thead', null, h('tr', null, ['Variant', `Value (${f.type})`, ''].map(x => h('th', { scope: 'col' }, x)))),
      h('tbody', null, variantRows)),
    f.variants ? null : h('p', { class: 'muted small-note' }, 'A boolean flag without variants has on (true) and off (false); editing them writes them out.'),
    h('div', { class: 'inline-form' }, addVariant, field('Default variant', defaultVariant), field('Off variant', offVariant)),
    h('h4', null, 'Rules (the first that matches decides)'),
    rules.length ? h('ol', { class: 'rules', 'aria-label': `Rules of ${name}` }, rules.map((rule, i) => ruleEditor(name, f, rule, i, variantNames, env)))
      : h('p', { class: 'muted' }, 'No rules: everyone gets the default variant.'),
    h('div', { class: 'actions' }, addRule));
}

// One rule: its conditions (lists typed comma or line separated), then its outcome with a cohort preview for a rollout.
function ruleEditor(flagName, f, rule, i, variantNames, env) {
  const { changed, rerender } = env;
  const n = i + 1;
  const listField = (key, label) => {
    const area = h('textarea', { name: key, rows: 2, spellcheck: 'false', 'aria-label': `${label} (rule ${n})` });
    area.value = (rule[key] || []).map(String).join('\n');
    area.addEventListener('input', () => { setOrDelete(rule, key, splitList(area.value)); changed(); });
    return field(label, area);
  };
  const ruleName = h('input', { name: 'rule-name', size: 20, value: rule.name || '', 'aria-label': `Name (rule ${n})` });
  ruleName.addEventListener('input', () => { setOrDelete(rule, 'name', ruleName.value || undefined); changed(); });

  // attributes: one per line, name=value1,value2
  const attributes = h('textarea', { name: 'attributes', rows: 2, spellcheck: 'false', 'aria-label': `Attributes (rule ${n})` });
  attributes.value = Object.entries(rule.attributes || {}).map(([k, v]) => `${k}=${v.join(',')}`).join('\n');
  attributes.addEventListener('input', () => {
    const parsed = parsePairs(attributes.value);
    attributes.setAttribute('aria-invalid', String(!parsed));
    if (!parsed) return;
    setOrDelete(rule, 'attributes', parsed.length ? Object.fromEntries(parsed) : undefined);
    changed();
  });
  // prerequisites: one per line, flag=variant1,variant2
  const prerequisites = h('textarea', { name: 'prerequisites', rows: 2, spellcheck: 'false', 'aria-label': `Prerequisites (rule ${n})` });
  prerequisites.value = (rule.prerequisites || []).map(p => `${p.flag}=${(p.variants || []).join(',')}`).join('\n');
  prerequisites.addEventListener('input', () => {
    const parsed = parsePairs(prerequisites.value);
    prerequisites.setAttribute('aria-invalid', String(!parsed));
    if (!parsed) return;
    setOrDelete(rule, 'prerequisites', parsed.map(([flag, vs]) => ({ flag, variants: vs })));
    changed();
  });
  const windowInput = end => {
    const input = h('input', { name: end, size: 22, value: (rule.window && rule.window[end]) || '', placeholder: '2027-01-10T08:00:00Z', 'aria-label': `Window ${end} (rule ${n})` });
    input.addEventListener('input', () => {
      const w = { ...(rule.window || {}) };
      setOrDelete(w, end, input.value.trim() || undefined);
      setOrDelete(rule, 'window', Object.keys(w).length ? w : undefined);
      changed();
    });
    return field(`Window ${end} (RFC 3339)`, input);
  };

  // The outcome: a fixed variant, or a rollout over the targeting key's bucket.
  const group = `outcome-${++uid}`;
  const isRollout = Array.isArray(rule.rollout);
  const fixedRadio = h('input', { type: 'radio', name: group, value: 'variant', checked: !isRollout });
  const rolloutRadio = h('input', { type: 'radio', name: group, value: 'rollout', checked: isRollout });
  fixedRadio.addEventListener('change', () => {
    delete rule.rollout;
    rule.variant = variantNames.find(v => v !== f.defaultVariant) || variantNames[0] || '';
    changed();
    rerender();
  });
  rolloutRadio.addEventListener('change', () => {
    delete rule.variant;
    rule.rollout = [{ variant: variantNames.find(v => v !== f.defaultVariant) || variantNames[0] || '', percentage: 0 }];
    changed();
    rerender();
  });
  let outcome;
  if (!isRollout) {
    const variant = h('select', { name: 'variant', 'aria-label': `Variant (rule ${n})` },
      variantNames.map(v => h('option', { value: v, selected: v === rule.variant }, v)),
      rule.variant !== undefined && !variantNames.includes(rule.variant) ? h('option', { value: String(rule.variant), selected: true }, `${rule.variant} (no such variant)`) : null);
    variant.addEventListener('change', () => { rule.variant = variant.value; changed(); });
    outcome = field('Serve the variant', variant);
  } else {
    outcome = rolloutEditor(flagName, f, rule, n, variantNames, env);
  }

  const move = (label, to, disabled) => {
    const b = h('button', { type: 'button', disabled, 'aria-label': `${label} rule ${n}` }, label);
    b.addEventListener('click', () => {
      const rules = f.rules;
      if (to === null) rules.splice(i, 1);
      else [rules[i], rules[to]] = [rules[to], rules[i]];
      changed();
      rerender();
    });
    return b;
  };
  const count = f.rules.length;
  return h('li', { class: 'rule' },
    h('fieldset', null,
      h('legend', null, `Rule ${n}`),
      h('div', { class: 'actions' }, move('Move up', i - 1, i === 0), move('Move down', i + 1, i === count - 1), move('Remove', null, false)),
      h('div', { class: 'inline-form' }, field('Name', ruleName)),
      h('p', { class: 'muted small-note' }, 'Conditions (all must hold; none means everyone). Lists: comma or line separated.'),
      h('div', { class: 'rule-conditions' },
        listField('users', 'Users'), listField('instances', 'Instances'), listField('groups', 'Groups'),
        field('Attributes (name=value1,value2 per line)', attributes),
        field('Prerequisites (flag=variant1,variant2 per line)', prerequisites)),
      h('div', { class: 'inline-form' }, windowInput('start'), windowInput('end')),
      h('fieldset', { class: 'outcome' }, h('legend', null, `Outcome of rule ${n}`),
        h('label', { class: 'check' }, fixedRadio, ' Fixed variant'),
        h('label', { class: 'check' }, rolloutRadio, ' Rollout by percentage'),
        outcome)));
}

// A rollout: per entry a variant and a percentage (slider and number, 0-100 in 0.01 steps), the total, and the cohort
// preview: sample targeting keys with the bucket and variant each gets from this rule.
function rolloutEditor(flagName, f, rule, n, variantNames, env) {
  const { changed, rerender } = env;
  const total = h('p', { class: 'muted', 'data-testid': `rollout-total-${n}` });
  const keys = h('textarea', { name: 'preview-keys', rows: 4, spellcheck: 'false', 'aria-label': `Sample targeting keys (rule ${n})` });
  const sampleId = `${env.base}|${flagName}|${n}`;
  keys.value = sampleKeys.get(sampleId) || '';
  const preview = h('div', { 'aria-live': 'polite' });
  const renderTotal = () => {
    const sum = rule.rollout.reduce((s, e) => s + threshold(e.percentage), 0) / 100;
    total.textContent = `Total ${sum.toFixed(2)}%` + (sum > 100 ? ' — over 100: publishing refuses it' : ` · ${(100 - sum).toFixed(2)}% go on to the next rule`);
    total.className = sum > 100 ? 'error-inline' : 'muted';
  };
  const renderPreview = () => {
    const sample = keys.value.split('\n').map(k => k.trim()).filter(Boolean);
    if (!sample.length) { clear(preview, h('p', { class: 'muted small-note' }, 'Type targeting keys (one per line) to see which variant each gets from this rule.')); return; }
    const seed = typeof f.seed === 'string' && f.seed ? f.seed : flagName;
    const rows = sample.map(key => {
      const b = bucket(seed, key);
      return { key, b, variant: rolloutVariant(rule.rollout, b) };
    });
    const counts = new Map();
    for (const r of rows) counts.set(r.variant, (counts.get(r.variant) || 0) + 1);
    const share = [...counts.entries()].map(([v, c]) => `${v === null ? 'no match (next rule)' : v}: ${c} of ${rows.length} (${(100 * c / rows.length).toFixed(1)}%)`).join(' · ');
    clear(preview,
      h('table', { class: 'preview', 'aria-label': `Cohort preview (rule ${n})` },
        h('thead', null, h('tr', null, ['Targeting key', 'Bucket', 'Gets'].map(x => h('th', { scope: 'col' }, x)))),
        h('tbody', null, rows.map(r => h('tr', null, h('td', null, h('code', null, r.key)), h('td', null, String(r.b)),
          h('td', null, r.variant === null ? h('span', { class: 'muted' }, 'no match: next rule') : h('code', null, r.variant)))))),
      h('p', { 'data-testid': `cohort-share-${n}` }, share));
  };
  keys.addEventListener('input', () => { sampleKeys.set(sampleId, keys.value); renderPreview(); });

  const entries = rule.rollout.map((entry, k) => {
    const label = `rule ${n}, entry ${k + 1}`;
    const variant = h('select', { name: 'rollout-variant', 'aria-label': `Rollout variant (${label})` },
      variantNames.map(v => h('option', { value: v, selected: v === entry.variant }, v)),
      entry.variant !== undefined && !variantNames.includes(entry.variant) ? h('option', { value: String(entry.variant), selected: true }, `${entry.variant} (no such variant)`) : null);
    variant.addEventListener('change', () => { entry.variant = variant.value; changed(); renderPreview(); });
    const pct = Number(entry.percentage) || 0;
    const slider = h('input', { type: 'range', min: 0, max: 100, step: 0.01, value: String(pct), 'aria-label': `Percentage slider (${label})` });
    const number = h('input', { type: 'number', min: 0, max: 100, step: 0.01, value: String(pct), size: 7, 'aria-label': `Percentage (${label})` });
    const set = (value, from) => {
      const v = round2(value);
      const ok = Number.isFinite(v) && v >= 0 && v <= 100;
      number.setAttribute('aria-invalid', String(!ok));
      if (!ok) return;
      entry.percentage = v;
      if (from !== slider) slider.value = String(v);
      if (from !== number) number.value = String(v);
      renderTotal();
      renderPreview();
      changed();
    };
    slider.addEventListener('input', () => set(slider.value, slider));
    number.addEventListener('input', () => { if (number.value !== '') set(number.value, number); });
    const remove = h('button', { type: 'button', class: 'danger', 'aria-label': `Remove rollout entry (${label})` }, 'Remove');
    remove.addEventListener('click', () => { rule.rollout.splice(k, 1); changed(); rerender(); });
    return h('div', { class: 'rollout-entry' }, variant, slider, number, h('span', null, '%'), remove);
  });
  const add = h('button', { type: 'button' }, 'Add rollout entry');
  add.addEventListener('click', () => {
    const used = new Set(rule.rollout.map(e => e.variant));
    rule.rollout.push({ variant: variantNames.find(v => !used.has(v)) || variantNames[0] || '', percentage: 0 });
    changed();
    rerender();
  });
  renderTotal();
  renderPreview();
  // The preview sits beside the sliders, so moving one shows the cohort change at once.
  return h('div', { class: 'rollout' },
    h('div', null,
      h('p', { class: 'muted small-note' }, 'Entries cover consecutive bucket ranges from 0, in order: put the variant you ramp up first.'),
      entries, h('div', { class: 'actions' }, add), total),
    h('div', { class: 'cohort-preview' }, h('h5', null, 'Cohort preview (this rule alone, computed in the browser)'),
      field('Sample targeting keys (one per line)', keys), preview));
}

// A variant's value, typed by the flag's type; a json value that does not parse is marked invalid and not taken.
function valueEditor(type, value, label, set) {
  if (type === 'boolean') {
    const select = h('select', { name: 'variant-value', 'aria-label': label },
      h('option', { value: 'true', selected: value === true }, 'true'), h('option', { value: 'false', selected: value !== true }, 'false'));
    select.addEventListener('change', () => set(select.value === 'true'));
    return select;
  }
  if (type === 'number') {
    const input = h('input', { type: 'number', step: 'any', name: 'variant-value', value: String(value), 'aria-label': label });
    input.addEventListener('input', () => {
      const ok = input.value.trim() !== '' && Number.isFinite(Number(input.value));
      input.setAttribute('aria-invalid', String(!ok));
      if (ok) set(Number(input.value));
    });
    return input;
  }
  if (type === 'string') {
    const input = h('input', { name: 'variant-value', size: 30, value: typeof value === 'string' ? value : JSON.stringify(value), 'aria-label': label });
    input.addEventListener('input', () => set(input.value));
    return input;
  }
  const input = h('input', { name: 'variant-value', size: 40, value: JSON.stringify(value), spellcheck: 'false', 'aria-label': `${label} (JSON)` });
  input.addEventListener('input', () => {
    let parsed;
    try { parsed = JSON.parse(input.value); } catch { input.setAttribute('aria-invalid', 'true'); return; }
    input.setAttribute('aria-invalid', 'false');
    set(parsed);
  });
  return input;
}

function convert(value, type) {
  switch (type) {
    case 'boolean': return value === true || value === 'true';
    case 'number': { const n = Number(value); return Number.isFinite(n) && typeof value !== 'boolean' ? n : 0; }
    case 'string': return typeof value === 'string' ? value : JSON.stringify(value);
    default: return value;
  }
}

function renameVariant(f, from, to) {
  if (f.defaultVariant === from) f.defaultVariant = to;
  if (f.offVariant === from) f.offVariant = to;
  for (const rule of f.rules || []) {
    if (rule.variant === from) rule.variant = to;
    for (const e of rule.rollout || []) if (e.variant === from) e.variant = to;
  }
}

// Lines of name=value1,value2; null when a line has no name.
function parsePairs(text) {
  const out = [];
  for (const line of text.split('\n').map(l => l.trim()).filter(Boolean)) {
    const at = line.indexOf('=');
    if (at <= 0) return null;
    out.push([line.slice(0, at).trim(), splitList(line.slice(at + 1))]);
  }
  return out;
}
