// The Node flags evaluator against the shared vectors (tests/flags/vectors.json: buckets, every evaluation through the
// typed reads, every invalid document at its path), the fast bucket against a BigInt transcription of the spec, and a
// property test of the hand-written JSON scanner: random and mutated documents either parse or are refused with a
// FlagDocumentError, never another exception, and never slowly.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FlagDocumentError, FlagSet, flagBucket } from '../dist/index.js';

const repository = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const vectors = JSON.parse(readFileSync(join(repository, 'tests', 'flags', 'vectors.json'), 'utf8'));

/** The spec's bucket, step by step in BigInt: the reference the 32-bit-halves implementation is checked against. */
function referenceBucket(seed, key) {
  const mask = (1n << 64n) - 1n;
  let h = 14695981039346656037n;
  for (const byte of Buffer.from(`${seed}/${key}`, 'utf8')) {
    h = ((h ^ BigInt(byte)) * 1099511628211n) & mask;
  }
  h ^= h >> 30n;
  h = (h * 0xbf58476d1ce4e5b9n) & mask;
  h ^= h >> 27n;
  h = (h * 0x94d049bb133111ebn) & mask;
  h ^= h >> 31n;
  return Number(h % 10000n);
}

/** A seeded PRNG (mulberry32), so a failing case can be replayed from its seed. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function context(raw) {
  return {
    ...(raw.targetingKey !== undefined ? { targetingKey: raw.targetingKey } : {}),
    ...(raw.instanceId !== undefined ? { instanceId: raw.instanceId } : {}),
    ...(raw.groups !== undefined ? { groups: raw.groups } : {}),
    ...(raw.attributes !== undefined ? { attributes: raw.attributes } : {}),
    ...(raw.now !== undefined ? { now: new Date(raw.now) } : {}),
  };
}

function read(set, evaluation) {
  const ctx = context(evaluation.context);
  switch (evaluation.type) {
    case 'boolean': return set.getBoolean(evaluation.flag, evaluation.default, ctx);
    case 'string': return set.getString(evaluation.flag, evaluation.default, ctx);
    case 'number': return set.getNumber(evaluation.flag, evaluation.default, ctx);
    case 'integer': return set.getInteger(evaluation.flag, evaluation.default, ctx);
    case 'json': return set.getObject(evaluation.flag, evaluation.default, ctx);
    default: throw new Error(`unknown type ${evaluation.type}`);
  }
}

describe('shared vectors', () => {
  it('every bucket matches', () => {
    assert.ok(vectors.buckets.length >= 40);
    for (const { seed, key, bucket } of vectors.buckets) {
      assert.equal(flagBucket(seed, key), bucket, `bucket of ${JSON.stringify(seed)}/${JSON.stringify(key)}`);
    }
    assert.ok(vectors.buckets.some((b) => /[^\x00-\x7f]/.test(b.key)), 'the vectors hold a non-ASCII key');
    assert.ok(vectors.buckets.some((b) => b.key.length >= 300), 'the vectors hold a 300-character key');
  });

  it('every evaluation gives the expected value, variant, reason and error code', () => {
    let count = 0;
    for (const vector of vectors.cases) {
      const set = FlagSet.parse(JSON.stringify(vector.document));
      for (const evaluation of vector.evaluations) {
        const label = `${vector.name}: ${evaluation.flag} as ${evaluation.type} for ${JSON.stringify(evaluation.context)}`;
        const r = read(set, evaluation);
        assert.deepEqual(r.value, evaluation.expect.value, `${label}: value`);
        assert.equal(r.variant, evaluation.expect.variant, `${label}: variant`);
        assert.equal(r.reason, evaluation.expect.reason, `${label}: reason`);
        assert.equal(r.errorCode, evaluation.expect.errorCode, `${label}: errorCode`);
        assert.equal(r.flag, evaluation.flag);
        assert.equal(r.errorMessage === null, r.errorCode === null, `${label}: an error message exactly on error`);
        count++;
      }
    }
    assert.ok(count >= 100, `only ${count} evaluations`);
  });

  it('every invalid document is refused at the expected path', () => {
    assert.ok(vectors.invalid.length >= 30);
    for (const { name, content, path } of vectors.invalid) {
      assert.throws(
        () => FlagSet.parse(content),
        (e) => {
          assert.ok(e instanceof FlagDocumentError, `${name}: threw ${e?.name}: ${e?.message}`);
          assert.ok(e.path.startsWith(path), `${name}: refused at '${e.path}' (${e.message}), expected under '${path}'`);
          return true;
        },
        name,
      );
    }
  });
});

describe('buckets', () => {
  it('the 32-bit-halves hash equals the BigInt reference on random keys, including non-ASCII and lone surrogates', () => {
    const next = random(25);
    const alphabet = ['a', 'Z', '0', '/', ' ', 'é', 'ß', '中', '日', '😀', '\u{10ffff}', '\ud800', '\udfff', '\u0000', '\u07ff', '\u0800', '\uffff'];
    for (let i = 0; i < 3000; i++) {
      const length = Math.floor(next() * (i % 10 === 0 ? 400 : 24));
      let key = '';
      for (let j = 0; j < length; j++) {
        key += alphabet[Math.floor(next() * alphabet.length)];
      }
      const seed = i % 3 === 0 ? '' : `flag-${i % 7}`;
      assert.equal(flagBucket(seed, key), referenceBucket(seed, key), `bucket of ${JSON.stringify(seed)}/${JSON.stringify(key)}`);
    }
  });

  it('a rollout is sticky and monotonic: raising 20% to 30% keeps everyone who was on', () => {
    const doc = (p) => JSON.stringify({ flags: { f: { type: 'boolean', defaultVariant: 'off', rules: [{ rollout: [{ variant: 'on', percentage: p }] }] } } });
    const at20 = FlagSet.parse(doc(20));
    const at30 = FlagSet.parse(doc(30));
    let on20 = 0;
    let on30 = 0;
    for (let i = 0; i < 10000; i++) {
      const ctx = { targetingKey: `user-${i}` };
      const a = at20.getBoolean('f', false, ctx).value;
      const b = at30.getBoolean('f', false, ctx).value;
      on20 += a ? 1 : 0;
      on30 += b ? 1 : 0;
      assert.ok(!a || b, `user-${i} was on at 20% and off at 30%`);
    }
    assert.ok(Math.abs(on20 - 2000) <= 100, `${on20} of 10,000 on at 20%`);
    assert.ok(Math.abs(on30 - 3000) <= 100, `${on30} of 10,000 on at 30%`);
  });
});

describe('the strict parser', () => {
  const valid = JSON.stringify(vectors.cases.find((c) => c.name === 'targeting conditions in order').document);
  const refusedAt = (text, path) =>
    assert.throws(() => FlagSet.parse(text), (e) => e instanceof FlagDocumentError && e.path === path, `${text.slice(0, 80)} at '${path}'`);

  it('refuses duplicate names at every level, where JSON.parse would keep the last silently', () => {
    refusedAt('{"flags": {}, "flags": {}}', '');
    refusedAt('{"flags": {"f": {"type": "boolean", "type": "boolean", "defaultVariant": "on"}}}', 'flags["f"]');
    refusedAt('{"flags": {"f": {"type": "string", "variants": {"a": "x", "a": "y"}, "defaultVariant": "a"}}}', 'flags["f"].variants["a"]');
    refusedAt('{"flags": {"f": {"type": "boolean", "defaultVariant": "on", "rules": [{"variant": "on", "variant": "off"}]}}}', 'flags["f"].rules[0]');
    refusedAt('{"flags": {"f": {"type": "boolean", "defaultVariant": "on", "rules": [{"attributes": {"a": ["1"], "a": ["2"]}, "variant": "on"}]}}}', 'flags["f"].rules[0].attributes["a"]');
    refusedAt('{"flags": {"f": {"type": "json", "variants": {"a": [{"x": 1}, {"y": {"z": 1, "\\u007a": 2}}]}, "defaultVariant": "a"}}}', 'flags["f"].variants["a"]');
  });

  it('bounds nesting: deep text is refused quickly, without exhausting the stack', { timeout: 60_000 }, () => {
    for (const text of ['['.repeat(1_000_000), `{"flags": ${'{"a":'.repeat(200_000)}`, '{"flags": {"f": {"type": "json", "variants": {"a": ' + '['.repeat(500_000) + ']'.repeat(500_000) + '}}}}']) {
      const started = performance.now();
      refusedAt(text, '');
      assert.ok(performance.now() - started < 2000, 'refused within 2 s');
    }
    // 33 levels inside a variant: valid JSON for the document, but over the value limit, at the variant's path.
    refusedAt(`{"flags": {"f": {"type": "json", "variants": {"a": ${'['.repeat(34)}${']'.repeat(34)}}, "defaultVariant": "a"}}}`, 'flags["f"].variants["a"]');
    FlagSet.parse(`{"flags": {"f": {"type": "json", "variants": {"a": ${'['.repeat(33)}${']'.repeat(33)}}, "defaultVariant": "a"}}}`);
  });

  it('refuses what is not strict JSON', () => {
    for (const text of ['', ' ', '{"flags": {}} x', '{"flags": {}', "{'flags': {}}", '{"flags": {},}', '{"flags": {} // c\n}', '{"flags": {"f": {"type": "number", "variants": {"a": 01}, "defaultVariant": "a"}}}',
      '{"flags": {"f": {"type": "number", "variants": {"a": 1.}, "defaultVariant": "a"}}}', '{"flags": {"f": {"type": "string", "variants": {"a": "\\x"}, "defaultVariant": "a"}}}',
      '{"flags": {"f": {"type": "string", "variants": {"a": "\\ud800"}, "defaultVariant": "a"}}}', '{"flags": {"f": {"type": "string", "variants": {"a": "tab\there"}, "defaultVariant": "a"}}}',
      '\ufeff{"flags": {}}', '{"flags": {}}\u00a0', 'NaN', '{"flags": {"f": {"type": "number", "variants": {"a": Infinity}, "defaultVariant": "a"}}}']) {
      refusedAt(text, '');
    }
    assert.equal(FlagSet.parse('  {"flags" :{ } }\r\n\t').size, 0);
  });

  it('reads percentages exactly, as decimals', () => {
    const doc = (p) => `{"flags": {"f": {"type": "boolean", "defaultVariant": "off", "rules": [{"rollout": [{"variant": "on", "percentage": ${p}}]}]}}}`;
    for (const ok of ['0', '-0', '100', '1e2', '0.01', '99.99', '20.000', '2000e-2', '0.1e1', '1E+1', '0e999999999']) {
      FlagSet.parse(doc(ok));
    }
    for (const bad of ['100.01', '0.001', '-1', '1e3', '1e999999999', '1e-999999999', '"20"', 'null', '10.005', '0.005']) {
      refusedAt(doc(bad), 'flags["f"].rules[0].rollout[0].percentage');
    }
    refusedAt('{"flags": {"f": {"type": "boolean", "defaultVariant": "off", "rules": [{"rollout": [{"variant": "on", "percentage": 50.01}, {"variant": "off", "percentage": 49.99}, {"variant": "on", "percentage": 0.01}]}]}}}', 'flags["f"].rules[0].rollout');
  });

  it('never throws anything but a FlagDocumentError, and never hangs, on random and mutated documents', { timeout: 120_000 }, () => {
    const next = random(2025);
    const pieces = ['{', '}', '[', ']', '"', ':', ',', ' ', '\\', 'u', '0', '1', '-', '.', 'e', 'true', 'null', '"flags"', '"type"', '"rules"', '"variant"', '"rollout"', '"percentage"', '"variants"', '\u0000', '\ud83d', 'é'];
    let parsed = 0;
    let refused = 0;
    const started = performance.now();
    // Differential on the JSON layer: what this scanner calls valid JSON, JSON.parse does too, and the other way
    // round except for the scanner's deliberate refusals (nesting past 40, lone surrogates).
    const jsonParses = (text) => {
      try {
        JSON.parse(text);
        return true;
      } catch {
        return false;
      }
    };
    const tryParse = (text) => {
      try {
        FlagSet.parse(text);
        assert.ok(jsonParses(text), `accepted what JSON.parse refuses: ${JSON.stringify(text.slice(0, 300))}`);
        parsed++;
      } catch (e) {
        if (!(e instanceof FlagDocumentError)) {
          assert.fail(`${e?.name}: ${e?.message} for ${JSON.stringify(text.slice(0, 300))}`);
        }
        assert.equal(typeof e.path, 'string');
        const notJson = e.message.startsWith('not valid JSON');
        if (notJson !== !jsonParses(text)) {
          assert.ok(notJson && /surrogate|nested/.test(e.message), `the scanner and JSON.parse disagree (${e.message}): ${JSON.stringify(text.slice(0, 300))}`);
        }
        refused++;
      }
    };
    const documents = vectors.cases.map((c) => JSON.stringify(c.document, null, next() < 0.5 ? 0 : 1)).concat(vectors.invalid.map((i) => i.content));
    for (let i = 0; i < 20000; i++) {
      const base = documents[Math.floor(next() * documents.length)];
      let text = base;
      const edits = 1 + Math.floor(next() * 4);
      for (let k = 0; k < edits; k++) {
        const at = Math.floor(next() * (text.length + 1));
        const op = next();
        if (op < 0.33) {
          text = text.slice(0, at) + text.slice(at + 1 + Math.floor(next() * 8)); // delete
        } else if (op < 0.66) {
          text = text.slice(0, at) + pieces[Math.floor(next() * pieces.length)] + text.slice(at); // insert
        } else {
          const from = Math.floor(next() * text.length);
          text = text.slice(0, at) + text.slice(from, from + Math.floor(next() * 40)) + text.slice(at); // duplicate a span
        }
      }
      tryParse(text);
    }
    for (let i = 0; i < 5000; i++) {
      let text = '';
      const length = Math.floor(next() * 60);
      for (let k = 0; k < length; k++) {
        text += pieces[Math.floor(next() * pieces.length)];
      }
      tryParse(text);
    }
    // Every vector document evaluates without throwing for random contexts, too.
    for (const vector of vectors.cases) {
      const set = FlagSet.parse(JSON.stringify(vector.document));
      for (const flag of set.names) {
        for (let k = 0; k < 50; k++) {
          const ctx = { targetingKey: next() < 0.8 ? `u${Math.floor(next() * 100)}` : undefined, groups: ['beta', 'staff'].filter(() => next() < 0.5), attributes: { region: 'eu', constructor: 'x' }, now: new Date(1.79e12 + next() * 1e10) };
          const r = set.evaluate(flag, ctx);
          assert.ok(r.variant !== null && r.errorCode === null);
        }
      }
    }
    assert.ok(parsed > 20 && refused > 10000, `${parsed} parsed, ${refused} refused`);
    assert.ok(performance.now() - started < 60000, 'the fuzz run finished within a minute');
  });

  it('keeps variant values frozen and `__proto__` a plain key', () => {
    const set = FlagSet.parse('{"flags": {"j": {"type": "json", "variants": {"a": {"__proto__": {"polluted": true}, "list": [1]}}, "defaultVariant": "a"}}}');
    const value = set.getObject('j', null).value;
    assert.ok(Object.isFrozen(value) && Object.isFrozen(value.list));
    assert.deepEqual(Object.keys(value), ['__proto__', 'list']);
    assert.equal({}.polluted, undefined);
    assert.ok(valid.length > 0);
  });
});
