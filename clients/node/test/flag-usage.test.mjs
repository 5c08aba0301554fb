// Evaluation insight without a member: which evaluations FlagSet counts, and how FlagUsage (what live flags use) turns
// the counts into a namespace's report entries: recent resets after a harvest while totals grow, a failed report's
// recent counts come back, a flag is reported only for the last namespace defining it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlagSet } from '../dist/index.js';
import { FlagUsage, MAX_FLAG_EVALUATION_ENTRIES } from '../dist/flag-usage.js';

const doc = (flags) => FlagSet.parse(JSON.stringify({ flags }));
const staff = { type: 'boolean', defaultVariant: 'off', rules: [{ users: ['alice'], variant: 'on' }] };
const ranking = (defaultVariant) => ({ type: 'string', variants: { classic: 'bm25', learned: 'ltr' }, defaultVariant });

/** Live flags' bookkeeping for `namespaces` with their sets; returns the merged set to evaluate and the usage. */
function track(usage, namespaces, sets) {
  const map = new Map(Object.entries(sets));
  const merged = FlagSet.merge(namespaces.flatMap((n) => map.get(n) ?? []));
  usage.update(namespaces, map, merged);
  return merged;
}

const byKey = (entries) => Object.fromEntries((entries ?? []).map((e) => [`${e.flag}/${e.variant}`, [e.total, e.recent]]));

function times(n, f) {
  for (let i = 0; i < n; i++) {
    f();
  }
}

describe('evaluation counting', () => {
  it('counts successful evaluations per variant (typed reads and evaluate), never errors', () => {
    const usage = new FlagUsage();
    const set = track(usage, ['features'], {
      features: doc({ Staff: staff, Ranking: ranking('classic'), Limit: { type: 'number', variants: { low: 1.5, high: 10 }, defaultVariant: 'low' } }),
    });
    times(3, () => assert.equal(set.getBoolean('Staff', false, { targetingKey: 'alice' }).value, true));
    times(2, () => set.getBoolean('Staff', true, { targetingKey: 'bob' }));
    set.evaluate('Staff', { targetingKey: 'bob' });
    set.getString('Ranking', 'x');
    // Errors: missing flag, wrong type, a fractional variant read as an integer.
    assert.equal(set.getBoolean('Nope', true).errorCode, 'FLAG_NOT_FOUND');
    assert.equal(set.getNumber('Ranking', 1).errorCode, 'TYPE_MISMATCH');
    assert.equal(set.evaluate('Nope').errorCode, 'FLAG_NOT_FOUND');
    assert.equal(set.getInteger('Limit', 7).errorCode, 'TYPE_MISMATCH');
    assert.ok(usage.hasRecent());
    assert.deepEqual(byKey(usage.harvest('features')), { 'Staff/on': [3, 3], 'Staff/off': [3, 3], 'Ranking/classic': [1, 1] });
    assert.ok(!usage.hasRecent());
  });

  it('the counting keeps results as they were: frozen, same enumerable fields', () => {
    const set = doc({ Staff: staff });
    const r = set.getBoolean('Staff', false, { targetingKey: 'alice' });
    assert.ok(Object.isFrozen(r));
    assert.deepEqual({ ...r }, { flag: 'Staff', value: true, variant: 'on', reason: 'TARGETING_MATCH', errorCode: null, errorMessage: null });
    assert.equal(JSON.stringify(r), '{"flag":"Staff","value":true,"variant":"on","reason":"TARGETING_MATCH","errorCode":null,"errorMessage":null}');
  });
});

describe('harvest', () => {
  it('recent resets after a harvest, totals keep growing; nothing new reports totals with recent 0', () => {
    const usage = new FlagUsage();
    const set = track(usage, ['features'], { features: doc({ Staff: staff }) });
    times(5, () => set.getBoolean('Staff', false, { targetingKey: 'alice' }));
    assert.deepEqual(byKey(usage.harvest('features')), { 'Staff/on': [5, 5] });
    times(2, () => set.getBoolean('Staff', false, { targetingKey: 'alice' }));
    times(4, () => set.getBoolean('Staff', false, { targetingKey: 'bob' }));
    const second = usage.harvest('features');
    assert.deepEqual(byKey(second), { 'Staff/on': [7, 2], 'Staff/off': [4, 4] });
    assert.deepEqual(second.map((e) => e.variant), ['off', 'on'], 'most recently used first');
    assert.deepEqual(byKey(usage.harvest('features')), { 'Staff/on': [7, 0], 'Staff/off': [4, 0] });
  });

  it("a failed report's recent counts are added back to the next one", () => {
    const usage = new FlagUsage();
    const set = track(usage, ['features'], { features: doc({ Staff: staff }) });
    times(3, () => set.getBoolean('Staff', false, { targetingKey: 'alice' }));
    const failed = usage.harvest('features');
    assert.ok(!usage.hasRecent());
    usage.restore(failed);
    assert.ok(usage.hasRecent(), 'the restored counts wait to be sent');
    times(2, () => set.getBoolean('Staff', false, { targetingKey: 'alice' }));
    assert.deepEqual(byKey(usage.harvest('features')), { 'Staff/on': [5, 5] });
    assert.deepEqual(byKey(usage.harvest('features')), { 'Staff/on': [5, 0] });
  });

  it("another namespace's flags are not reported; a flag overridden by a later namespace is reported for that one", () => {
    const usage = new FlagUsage();
    const set = track(usage, ['features', 'overrides'], {
      features: doc({ Staff: staff, Ranking: ranking('classic') }),
      overrides: doc({ Ranking: ranking('learned'), Other: { type: 'boolean', defaultVariant: 'on' } }),
    });
    times(4, () => set.getBoolean('Staff', false, { targetingKey: 'bob' }));
    times(6, () => assert.equal(set.getString('Ranking', 'x').variant, 'learned'));
    assert.ok(usage.owns('features') && usage.owns('overrides') && !usage.owns('settings'));
    assert.deepEqual(byKey(usage.harvest('features')), { 'Staff/off': [4, 4] });
    assert.deepEqual(byKey(usage.harvest('overrides')), { 'Ranking/learned': [6, 6] });
    assert.equal(usage.harvest('settings'), null);
  });

  it("a replaced definition's last counts stay under its name; a flag no namespace defines is dropped", () => {
    const usage = new FlagUsage();
    const v1 = track(usage, ['features'], { features: doc({ Staff: staff, Gone: { type: 'boolean', defaultVariant: 'on' } }) });
    times(3, () => v1.getBoolean('Staff', false, { targetingKey: 'alice' }));
    times(2, () => v1.getBoolean('Gone', false));
    // A new release redefines Staff and removes Gone before anything was reported.
    const v2 = track(usage, ['features'], { features: doc({ Staff: { ...staff, rules: [{ users: ['bob'], variant: 'on' }] } }) });
    times(1, () => v2.getBoolean('Staff', false, { targetingKey: 'bob' }));
    times(1, () => v1.getBoolean('Staff', false, { targetingKey: 'alice' })); // the old set, no longer tracked
    assert.deepEqual(byKey(usage.harvest('features')), { 'Staff/on': [4, 4] });
  });

  it(`reports at most ${MAX_FLAG_EVALUATION_ENTRIES} entries, the least used dropped`, () => {
    const usage = new FlagUsage();
    const flags = {};
    const variants = Object.fromEntries(Array.from({ length: 5 }, (_, v) => [`v${v}`, `value-${v}`]));
    for (let f = 0; f < 1000; f++) {
      flags[`F${f}`] = { type: 'string', variants, defaultVariant: 'v0', rules: Array.from({ length: 4 }, (_, r) => ({ users: [`u${r + 1}`], variant: `v${r + 1}` })) };
    }
    const set = track(usage, ['features'], { features: doc(flags) });
    for (let f = 0; f < 1000; f++) {
      for (let u = 0; u < 5; u++) {
        times(f === 0 && u === 0 ? 1 : 2, () => set.getString(`F${f}`, 'x', { targetingKey: `u${u}` }));
      }
    }
    const entries = usage.harvest('features');
    assert.equal(entries.length, MAX_FLAG_EVALUATION_ENTRIES);
    assert.ok(!entries.some((e) => e.flag === 'F0' && e.variant === 'v0'), 'the least used entry is left out');
  });
});
