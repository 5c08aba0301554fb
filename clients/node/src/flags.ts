// Feature flags (docs/feature-flags.md): the strict parser of a `flags` document, with the rules and limits of the
// server's FlagDocumentParser.cs, and an evaluator with the semantics of FlagSet.cs. Both must pass the shared vectors
// in tests/flags/vectors.json; the first error of a refused document carries the same path as the server's.

/** The type every variant of a flag has. */
export type FlagType = 'boolean' | 'string' | 'number' | 'json';

/** Why an evaluation gave its value, in OpenFeature's words. */
export type FlagReason = 'STATIC' | 'DEFAULT' | 'TARGETING_MATCH' | 'SPLIT' | 'DISABLED' | 'ERROR';

/** Why an evaluation failed, in OpenFeature's words. */
export type FlagErrorCode = 'FLAG_NOT_FOUND' | 'TYPE_MISMATCH' | 'PARSE_ERROR' | 'GENERAL';

/** A JSON value as a `json` flag's variant holds it (deeply frozen: variants are shared by every evaluation). */
export type FlagJsonValue = null | boolean | number | string | readonly FlagJsonValue[] | { readonly [key: string]: FlagJsonValue };

/** What a flag is evaluated for. */
export interface FlagContext {
  /** The user or entity; when absent (or empty) the instance id is used. */
  readonly targetingKey?: string;
  /** The evaluating instance (live flags fill it in from the client). */
  readonly instanceId?: string;
  readonly groups?: readonly string[];
  /** String attributes (live flags add the instance labels). */
  readonly attributes?: Readonly<Record<string, string>>;
  /** The time `window` conditions are judged at; the clock when absent. */
  readonly now?: Date;
}

/**
 * An evaluation: OpenFeature's evaluation details. On error `value` is the caller's default (or undefined for
 * {@link FlagSet.evaluate}, which has none) and `variant` is null. Success results are shared and frozen: an evaluation
 * allocates nothing.
 */
export interface FlagEvaluation<T = FlagJsonValue> {
  readonly flag: string;
  readonly value: T;
  readonly variant: string | null;
  readonly reason: FlagReason;
  readonly errorCode: FlagErrorCode | null;
  readonly errorMessage: string | null;
}

/** A flags document that breaks docs/feature-flags.md: `path` says where, the message what. */
export class FlagDocumentError extends Error {
  /** Where in the document, e.g. `flags["Checkout.NewFlow"].rules[2].rollout`; empty for the document. */
  readonly path: string;

  constructor(path: string, message: string) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'FlagDocumentError';
    this.path = path;
  }
}

export const FLAG_LIMITS = Object.freeze({
  maxFlags: 1_000,
  maxRules: 64,
  maxVariants: 64,
  maxRuleStrings: 10_000,
  maxStringLength: 256,
  maxValueDepth: 32,
  maxFlagNameLength: 128,
  maxVariantNameLength: 64,
  maxDescriptionLength: 1_024,
  /** Containers nested in the whole document: the structure is 6 levels deep, values may nest 32 below it (as the server's). */
  maxDocumentDepth: 40,
});

// ---------------------------------------------------------------------------------------------------------------------
// The JSON scanner. JSON.parse keeps the last of duplicate names silently and accepts nothing we could bound, so the
// document is read by this scanner: strict RFC 8259 (no comments, no trailing commas), objects kept as ordered entry
// lists so the validator sees duplicates where the server does, and nesting bounded before any recursion, so that no
// text can exhaust the stack. Every failure is a FlagDocumentError at path "" (the server's "not valid JSON").

type JsonNode =
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, JsonNode])[] }
  | { readonly kind: 'array'; readonly items: readonly JsonNode[] }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'number'; readonly value: number; readonly text: string }
  | { readonly kind: 'boolean'; readonly value: boolean }
  | { readonly kind: 'null' };

class Scanner {
  private position = 0;

  constructor(private readonly text: string) {}

  document(): JsonNode {
    this.whitespace();
    const root = this.value(0);
    this.whitespace();
    if (this.position < this.text.length) {
      this.fail('text after the document');
    }
    return root;
  }

  private value(depth: number): JsonNode {
    const c = this.text.charCodeAt(this.position);
    switch (c) {
      case 0x7b /* { */:
        return this.object(depth + 1);
      case 0x5b /* [ */:
        return this.array(depth + 1);
      case 0x22 /* " */:
        return { kind: 'string', value: this.string() };
      case 0x74 /* t */:
        this.literal('true');
        return { kind: 'boolean', value: true };
      case 0x66 /* f */:
        this.literal('false');
        return { kind: 'boolean', value: false };
      case 0x6e /* n */:
        this.literal('null');
        return { kind: 'null' };
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
          return this.number();
        }
        return this.fail(Number.isNaN(c) ? 'the document ends where a value should be' : 'a value was expected');
    }
  }

  private object(depth: number): JsonNode {
    this.checkDepth(depth);
    this.position++;
    const entries: [string, JsonNode][] = [];
    this.whitespace();
    if (this.text.charCodeAt(this.position) === 0x7d) {
      this.position++;
      return { kind: 'object', entries };
    }
    for (;;) {
      this.whitespace();
      if (this.text.charCodeAt(this.position) !== 0x22) {
        this.fail('a property name (a string) was expected');
      }
      const name = this.string();
      this.whitespace();
      this.expect(0x3a, "':'");
      this.whitespace();
      entries.push([name, this.value(depth)]);
      this.whitespace();
      const c = this.text.charCodeAt(this.position++);
      if (c === 0x7d) {
        return { kind: 'object', entries };
      }
      if (c !== 0x2c) {
        this.position--;
        this.fail("',' or '}' was expected");
      }
    }
  }

  private array(depth: number): JsonNode {
    this.checkDepth(depth);
    this.position++;
    const items: JsonNode[] = [];
    this.whitespace();
    if (this.text.charCodeAt(this.position) === 0x5d) {
      this.position++;
      return { kind: 'array', items };
    }
    for (;;) {
      this.whitespace();
      items.push(this.value(depth));
      this.whitespace();
      const c = this.text.charCodeAt(this.position++);
      if (c === 0x5d) {
        return { kind: 'array', items };
      }
      if (c !== 0x2c) {
        this.position--;
        this.fail("',' or ']' was expected");
      }
    }
  }

  private checkDepth(depth: number): void {
    if (depth > FLAG_LIMITS.maxDocumentDepth) {
      this.fail(`nested deeper than ${FLAG_LIMITS.maxDocumentDepth} levels`);
    }
  }

  private string(): string {
    const text = this.text;
    let position = this.position + 1;
    let out = '';
    let start = position;
    for (;;) {
      if (position >= text.length) {
        this.position = position;
        this.fail('a string is not closed');
      }
      const c = text.charCodeAt(position);
      if (c === 0x22) {
        out += text.slice(start, position);
        this.position = position + 1;
        return out;
      }
      if (c < 0x20) {
        this.position = position;
        this.fail('a control character in a string');
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        // Text that is not UTF-16 cannot be UTF-8 on the wire: the server would see U+FFFD, so refuse rather than differ.
        const next = text.charCodeAt(position + 1);
        if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) {
          this.position = position;
          this.fail('a lone surrogate in a string');
        }
        position += 2;
        continue;
      }
      if (c !== 0x5c) {
        position++;
        continue;
      }
      out += text.slice(start, position);
      const escape = text.charCodeAt(position + 1);
      switch (escape) {
        case 0x22: out += '"'; break;
        case 0x5c: out += '\\'; break;
        case 0x2f: out += '/'; break;
        case 0x62: out += '\b'; break;
        case 0x66: out += '\f'; break;
        case 0x6e: out += '\n'; break;
        case 0x72: out += '\r'; break;
        case 0x74: out += '\t'; break;
        case 0x75: {
          const unit = this.hex(position + 2);
          if (unit >= 0xd800 && unit <= 0xdbff) {
            // A high surrogate must be followed by an escaped low one.
            const low = text.charCodeAt(position + 6) === 0x5c && text.charCodeAt(position + 7) === 0x75 ? this.hex(position + 8) : -1;
            if (!(low >= 0xdc00 && low <= 0xdfff)) {
              this.position = position;
              this.fail('a lone surrogate escape in a string');
            }
            out += String.fromCharCode(unit, low);
            position += 6;
          } else if (unit >= 0xdc00 && unit <= 0xdfff) {
            this.position = position;
            this.fail('a lone surrogate escape in a string');
          } else {
            out += String.fromCharCode(unit);
          }
          position += 4;
          break;
        }
        default:
          this.position = position;
          this.fail('an invalid escape in a string');
      }
      position += 2;
      start = position;
    }
  }

  private hex(at: number): number {
    let value = 0;
    for (let i = 0; i < 4; i++) {
      const c = this.text.charCodeAt(at + i);
      const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (digit < 0) {
        this.position = at;
        this.fail('\\u needs four hex digits');
      }
      value = value * 16 + digit;
    }
    return value;
  }

  private number(): JsonNode {
    const text = this.text;
    const start = this.position;
    let position = start;
    const digits = () => {
      const from = position;
      while (position < text.length && text.charCodeAt(position) >= 0x30 && text.charCodeAt(position) <= 0x39) {
        position++;
      }
      return position - from;
    };
    if (text.charCodeAt(position) === 0x2d) {
      position++;
    }
    if (text.charCodeAt(position) === 0x30) {
      position++;
    } else if (digits() === 0) {
      this.position = position;
      this.fail('a number needs digits');
    }
    if (text.charCodeAt(position) === 0x2e) {
      position++;
      if (digits() === 0) {
        this.position = position;
        this.fail('a number needs digits after the point');
      }
    }
    if ((text.charCodeAt(position) | 0x20) === 0x65) {
      position++;
      if (text.charCodeAt(position) === 0x2b || text.charCodeAt(position) === 0x2d) {
        position++;
      }
      if (digits() === 0) {
        this.position = position;
        this.fail('a number needs digits in the exponent');
      }
    }
    this.position = position;
    const literal = text.slice(start, position);
    return { kind: 'number', value: Number(literal), text: literal };
  }

  private literal(word: string): void {
    if (!this.text.startsWith(word, this.position)) {
      this.fail('a value was expected');
    }
    this.position += word.length;
  }

  private expect(code: number, what: string): void {
    if (this.text.charCodeAt(this.position) !== code) {
      this.fail(`${what} was expected`);
    }
    this.position++;
  }

  private whitespace(): void {
    const text = this.text;
    let position = this.position;
    for (;;) {
      const c = text.charCodeAt(position);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        position++;
      } else {
        break;
      }
    }
    this.position = position;
  }

  private fail(message: string): never {
    throw new FlagDocumentError('', `not valid JSON: ${message} at character ${this.position}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Buckets (docs/feature-flags.md, "Buckets"): 64-bit FNV-1a over the UTF-8 of `seed/key`, SplitMix64's finisher,
// modulo 10,000. The 64-bit arithmetic is done on two unsigned 32-bit halves (BigInt would allocate per step, and an
// evaluation should allocate nothing); tests check it against a BigInt transcription of the spec.

const FNV_OFFSET_HI = 0xcbf29ce4;
const FNV_OFFSET_LO = 0x84222325;

/** The FNV state as two halves; module-level scratch so the hash allocates nothing (JS runs one evaluation at a time). */
let stateHi = 0;
let stateLo = 0;

/** state = (state ^ byte) * 1099511628211 (2^40 + 0x1b3), mod 2^64. */
function fnvStep(byte: number): void {
  const lo = (stateLo ^ byte) >>> 0;
  const hi = stateHi;
  const low = lo * 0x1b3; // < 2^41: exact in a double
  const carry = Math.floor(low / 0x1_0000_0000);
  stateLo = low >>> 0;
  stateHi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
}

/** Feeds the UTF-8 bytes of `text` (a lone surrogate as U+FFFD, as .NET's encoder does) into the state. */
function fnvText(text: string): void {
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      fnvStep(c);
      continue;
    }
    if (c < 0x800) {
      fnvStep(0xc0 | (c >> 6));
      fnvStep(0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = text.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const point = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        fnvStep(0xf0 | (point >> 18));
        fnvStep(0x80 | ((point >> 12) & 0x3f));
        fnvStep(0x80 | ((point >> 6) & 0x3f));
        fnvStep(0x80 | (point & 0x3f));
        continue;
      }
      c = 0xfffd;
    }
    fnvStep(0xe0 | (c >> 12));
    fnvStep(0x80 | ((c >> 6) & 0x3f));
    fnvStep(0x80 | (c & 0x3f));
  }
}

/**
 * state = state * (mHi:mLo) mod 2^64, on 16-bit limbs: every partial product is below 2^32 and is added to a value
 * below 2^16, so `>>> 16` never loses a carry.
 */
function multiply(mHi: number, mLo: number): void {
  const a48 = stateHi >>> 16, a32 = stateHi & 0xffff, a16 = stateLo >>> 16, a00 = stateLo & 0xffff;
  const b48 = mHi >>> 16, b32 = mHi & 0xffff, b16 = mLo >>> 16, b00 = mLo & 0xffff;
  let c00 = a00 * b00;
  let c16 = c00 >>> 16;
  c00 &= 0xffff;
  c16 += a16 * b00;
  let c32 = c16 >>> 16;
  c16 &= 0xffff;
  c16 += a00 * b16;
  c32 += c16 >>> 16;
  c16 &= 0xffff;
  c32 += a32 * b00;
  let c48 = c32 >>> 16;
  c32 &= 0xffff;
  c32 += a16 * b16;
  c48 += c32 >>> 16;
  c32 &= 0xffff;
  c32 += a00 * b32;
  c48 += c32 >>> 16;
  c32 &= 0xffff;
  c48 += Math.imul(a48, b00) + Math.imul(a32, b16) + Math.imul(a16, b32) + Math.imul(a00, b48);
  c48 &= 0xffff;
  stateLo = ((c16 << 16) | c00) >>> 0;
  stateHi = ((c48 << 16) | c32) >>> 0;
}

/** state ^= state >> n, for 0 < n < 32. */
function xorShift(n: number): void {
  stateLo = (stateLo ^ ((stateLo >>> n) | (stateHi << (32 - n)))) >>> 0;
  stateHi = (stateHi ^ (stateHi >>> n)) >>> 0;
}

/** The FNV state after `seed/`: computed once per flag, so an evaluation hashes only the key. */
function seedState(seed: string): readonly [number, number] {
  stateHi = FNV_OFFSET_HI;
  stateLo = FNV_OFFSET_LO;
  fnvText(seed);
  fnvStep(0x2f);
  return [stateHi, stateLo];
}

function bucketFrom(seeded: readonly [number, number], key: string): number {
  stateHi = seeded[0];
  stateLo = seeded[1];
  fnvText(key);
  // FNV's low bits are weak for short similar inputs: SplitMix64's finisher.
  xorShift(30);
  multiply(0xbf58476d, 0x1ce4e5b9);
  xorShift(27);
  multiply(0x94d049bb, 0x133111eb);
  xorShift(31);
  // (hi * 2^32 + lo) mod 10,000, with 2^32 mod 10,000 = 7,296.
  return ((stateHi % 10_000) * 7_296 + stateLo) % 10_000;
}

/** The sticky bucket (0..9,999) of `key` under `seed` (a flag's seed; gray releases use `app/namespace`). */
export function flagBucket(seed: string, key: string): number {
  return bucketFrom(seedState(seed), key);
}

// ---------------------------------------------------------------------------------------------------------------------
// The model: what validation produced, shaped for evaluation (precomputed results, sets, seed state).

/** A set of strings tuned for rule sizes: a linear scan for a handful, a hash set beyond. */
class StringSet {
  readonly items: readonly string[];
  private readonly large: Set<string> | undefined;

  constructor(items: readonly string[]) {
    this.items = Object.freeze([...new Set(items)]);
    this.large = this.items.length > 8 ? new Set(this.items) : undefined;
  }

  has(value: string): boolean {
    if (this.large !== undefined) {
      return this.large.has(value);
    }
    const items = this.items;
    for (let i = 0; i < items.length; i++) {
      if (items[i] === value) {
        return true;
      }
    }
    return false;
  }
}

interface RolloutEntry {
  readonly variant: string;
  readonly percentage: number;
  /** The end (exclusive) of this entry's bucket range. */
  readonly upperBucket: number;
  readonly result: FlagEvaluation;
}

interface Prerequisite {
  readonly flag: string;
  readonly variants: readonly string[];
}

interface Rule {
  readonly name: string | undefined;
  readonly users: StringSet | undefined;
  readonly instances: StringSet | undefined;
  readonly groups: StringSet | undefined;
  readonly attributes: readonly (readonly [string, StringSet])[];
  /** Window bounds in ms since the epoch (fractions kept), or undefined. */
  readonly start: number | undefined;
  readonly end: number | undefined;
  readonly prerequisites: readonly Prerequisite[];
  readonly variant: string | undefined;
  readonly variantResult: FlagEvaluation | undefined;
  readonly rollout: readonly RolloutEntry[];
}

/** A validated flag. */
export interface FlagDefinition {
  readonly name: string;
  readonly type: FlagType;
  readonly description: string | undefined;
  readonly enabled: boolean;
  /** Variant name to value (each of the flag's type). */
  readonly variants: Readonly<Record<string, FlagJsonValue>>;
  readonly defaultVariant: string;
  readonly offVariant: string;
  readonly seed: string;
  /** The flag's definition as canonical JSON text: equal text, equal behaviour (used to tell which flags changed). */
  readonly fingerprint: string;
}

interface Flag extends FlagDefinition {
  /**
   * One evaluation counter per variant (evaluation insight, docs/feature-flags.md): every result object of the
   * variant holds the same cell under {@link EVALUATIONS}, so counting is one increment, without a lookup.
   */
  readonly cells: ReadonlyMap<string, Float64Array>;
  readonly rules: readonly Rule[];
  readonly seedState: readonly [number, number];
  /** Variants that are whole numbers written as integers (for getInteger). */
  readonly integerVariants: ReadonlySet<string>;
  readonly staticResult: FlagEvaluation;
  readonly defaultResult: FlagEvaluation;
  readonly disabledResult: FlagEvaluation;
}

/**
 * @internal The key (not enumerable) under which a successful result holds its flag variant's evaluation counter, a
 * one-element Float64Array owned by the flag's definition. Error results have none: they are not counted.
 */
export const EVALUATIONS: unique symbol = Symbol('conclave.flagEvaluations');

function result(flag: string, variant: string, value: FlagJsonValue, reason: FlagReason, cells: Map<string, Float64Array>): FlagEvaluation {
  let cell = cells.get(variant);
  if (cell === undefined) {
    cell = new Float64Array(1);
    cells.set(variant, cell);
  }
  const evaluation = { flag, value, variant, reason, errorCode: null, errorMessage: null };
  Object.defineProperty(evaluation, EVALUATIONS, { value: cell });
  return Object.freeze(evaluation);
}

/** Counts a successful evaluation (one increment of its variant's cell); an error result is not counted. */
function counted<T>(evaluation: FlagEvaluation<T>): FlagEvaluation<T> {
  const cell = (evaluation as unknown as { [EVALUATIONS]?: Float64Array })[EVALUATIONS];
  if (cell !== undefined) {
    cell[0]!++;
  }
  return evaluation;
}

/**
 * @internal The evaluation counters of a definition from a parsed {@link FlagSet}, by variant: evaluations since the
 * counter was last reset (the caller resets it when it harvests). Empty for a definition of another origin.
 */
export function evaluationCells(definition: FlagDefinition): ReadonlyMap<string, Float64Array> {
  return (definition as Partial<Flag>).cells ?? NO_CELLS;
}

const NO_CELLS: ReadonlyMap<string, Float64Array> = new Map();

function failure<T>(flag: string, value: T, errorCode: FlagErrorCode, errorMessage: string): FlagEvaluation<T> {
  return { flag, value, variant: null, reason: 'ERROR', errorCode, errorMessage };
}

// ---------------------------------------------------------------------------------------------------------------------
// The validator: FlagDocumentParser.cs, check for check and in the same order, so the first error has the same path.

const FLAG_FIELDS = ['type', 'description', 'enabled', 'variants', 'defaultVariant', 'offVariant', 'rules', 'seed'];
const RULE_FIELDS = ['name', 'users', 'instances', 'groups', 'attributes', 'window', 'prerequisites', 'variant', 'rollout'];

function describe(node: JsonNode): string {
  switch (node.kind) {
    case 'object': return 'an object';
    case 'array': return 'an array';
    case 'string': return 'a string';
    case 'number': return 'a number';
    case 'boolean': return 'a boolean';
    default: return 'null';
  }
}

type ObjectNode = Extract<JsonNode, { kind: 'object' }>;

function requireObject(node: JsonNode, path: string): ObjectNode {
  if (node.kind !== 'object') {
    throw new FlagDocumentError(path, `must be an object, not ${describe(node)}`);
  }
  return node;
}

function checkFields(node: ObjectNode, path: string, known: readonly string[]): void {
  const seen = new Set<string>();
  for (const [name] of node.entries) {
    if (seen.has(name)) {
      throw new FlagDocumentError(path, `"${name}" appears twice`);
    }
    seen.add(name);
    if (!known.includes(name)) {
      throw new FlagDocumentError(path, `unknown field "${name}" (known: ${known.join(', ')})`);
    }
  }
}

/** The field's node; callers ran checkFields first, so a name occurs at most once. */
function field(node: ObjectNode, name: string): JsonNode | undefined {
  for (const entry of node.entries) {
    if (entry[0] === name) {
      return entry[1];
    }
  }
  return undefined;
}

function requiredString(node: ObjectNode, name: string, path: string): string {
  const value = field(node, name);
  if (value === undefined) {
    throw new FlagDocumentError(path, `"${name}" is required`);
  }
  if (value.kind !== 'string' || value.value.length === 0 || value.value.length > FLAG_LIMITS.maxStringLength) {
    throw new FlagDocumentError(`${path}.${name}`, `must be a string of 1 to ${FLAG_LIMITS.maxStringLength} characters`);
  }
  return value.value;
}

function optionalString(node: ObjectNode, name: string, path: string, max: number): string | undefined {
  const value = field(node, name);
  if (value === undefined) {
    return undefined;
  }
  if (value.kind !== 'string' || value.value.length > max) {
    throw new FlagDocumentError(`${path}.${name}`, `must be a string of at most ${max} characters`);
  }
  return value.value;
}

function isAsciiLetterOrDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function checkName(name: string, max: number, path: string, what: string): void {
  if (name.length === 0 || name.length > max || !isAsciiLetterOrDigit(name.charCodeAt(0))) {
    throw new FlagDocumentError(path, `a ${what} name has 1 to ${max} characters and starts with a letter or digit`);
  }
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!isAsciiLetterOrDigit(c) && c !== 0x2e && c !== 0x5f && c !== 0x2d) {
      throw new FlagDocumentError(path, `a ${what} name may hold only A-Z, a-z, 0-9, '.', '_' and '-', not '${name[i]}'`);
    }
  }
}

function requireVariant(variants: ReadonlyMap<string, unknown>, variant: string, path: string): void {
  if (!variants.has(variant)) {
    throw new FlagDocumentError(path, `no variant "${variant}" (the flag has ${[...variants.keys()].map((k) => `"${k}"`).join(', ')})`);
  }
}

/** A JSON value as a frozen JS value; objects are built with defineProperty-like semantics, so `__proto__` is a plain key. */
function toValue(node: JsonNode): FlagJsonValue {
  switch (node.kind) {
    case 'object':
      return Object.freeze(Object.fromEntries(node.entries.map(([k, v]) => [k, toValue(v)])));
    case 'array':
      return Object.freeze(node.items.map(toValue));
    case 'null':
      return null;
    default:
      return node.value;
  }
}

/** Canonical JSON text of a node (document order, no whitespace): the flag's fingerprint. */
function canonical(node: JsonNode): string {
  switch (node.kind) {
    case 'object':
      return `{${node.entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
    case 'array':
      return `[${node.items.map(canonical).join(',')}]`;
    case 'string':
      return JSON.stringify(node.value);
    case 'number':
      return node.text;
    case 'boolean':
      return String(node.value);
    default:
      return 'null';
  }
}

function checkValue(type: FlagType, node: JsonNode, path: string): void {
  const ok =
    type === 'boolean' ? node.kind === 'boolean'
      : type === 'string' ? node.kind === 'string'
        : type === 'number' ? node.kind === 'number' && Number.isFinite(node.value)
          : true;
  if (!ok) {
    throw new FlagDocumentError(path, `a ${type} flag's variant must be a ${type}, not ${describe(node)}`);
  }
  checkNoDuplicates(node, path, 0);
}

function checkNoDuplicates(node: JsonNode, path: string, depth: number): void {
  if (depth > FLAG_LIMITS.maxValueDepth) {
    throw new FlagDocumentError(path, `nested deeper than ${FLAG_LIMITS.maxValueDepth} levels`);
  }
  if (node.kind === 'object') {
    const seen = new Set<string>();
    for (const [name, value] of node.entries) {
      if (seen.has(name)) {
        throw new FlagDocumentError(path, `the name "${name}" appears twice in one object`);
      }
      seen.add(name);
      checkNoDuplicates(value, path, depth + 1);
    }
  } else if (node.kind === 'array') {
    for (const item of node.items) {
      checkNoDuplicates(item, path, depth + 1);
    }
  }
}

class StringBudget {
  count = 0;
}

function readSet(node: JsonNode, path: string, budget: StringBudget): StringSet {
  if (node.kind !== 'array') {
    throw new FlagDocumentError(path, 'must be an array of strings');
  }
  budget.count += node.items.length;
  if (budget.count > FLAG_LIMITS.maxRuleStrings) {
    throw new FlagDocumentError(path, `a rule's lists hold more than ${FLAG_LIMITS.maxRuleStrings} strings`);
  }
  const items: string[] = [];
  for (const item of node.items) {
    if (item.kind !== 'string') {
      throw new FlagDocumentError(path, `must be an array of strings, not hold ${describe(item)}`);
    }
    if (item.value.length > FLAG_LIMITS.maxStringLength) {
      throw new FlagDocumentError(path, `a string is longer than ${FLAG_LIMITS.maxStringLength} characters`);
    }
    items.push(item.value);
  }
  return new StringSet(items);
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * An RFC 3339 timestamp with an offset, as ms since the epoch (with the fraction), or undefined. A time without an
 * offset is refused: it would mean different instants on machines in different zones.
 */
export function parseTimestamp(text: string): number | undefined {
  const m = RFC3339.exec(text);
  if (m === null) {
    return undefined;
  }
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const offsetHours = Number(m[10]);
    const offsetMins = Number(m[11]);
    if (offsetHours > 23 || offsetMins > 59) {
      return undefined;
    }
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC maps years 0..99 to 1900..1999; set the year exactly.
  const exact = new Date(utc);
  exact.setUTCFullYear(year);
  return exact.getTime() + (m[7] ? Number(`0${m[7]}`) * 1000 : 0) - offsetMinutes * 60_000;
}

function optionalTime(node: ObjectNode, name: string, path: string): number | undefined {
  const value = field(node, name);
  if (value === undefined) {
    return undefined;
  }
  const time = value.kind === 'string' ? parseTimestamp(value.value) : undefined;
  if (time === undefined) {
    throw new FlagDocumentError(`${path}.${name}`, 'must be an RFC 3339 timestamp with an offset, such as 2027-01-10T08:00:00Z');
  }
  return time;
}

/**
 * A percentage's number literal in hundredths, exactly (the server reads it as a decimal): undefined unless it lies in
 * 0..100 with at most two decimals. Works on the digits, so `1e999999` or a thousand-digit literal costs nothing.
 */
function hundredths(literal: string): number | undefined {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (m === null) {
    return undefined;
  }
  let digits = (m[2]! + (m[3] ?? '')).replace(/^0+/, '');
  const exponentText = m[4] ?? '0';
  // Beyond a few digits the exponent alone decides (unless the digits are all zeros).
  const exponent = Math.abs(Number(exponentText)) > 1e6 ? Math.sign(Number(exponentText)) * 1e6 : Number(exponentText);
  let scale = (m[3]?.length ?? 0) - exponent;
  const trimmed = digits.replace(/0+$/, '');
  scale -= digits.length - trimmed.length;
  digits = trimmed;
  if (digits === '') {
    return 0;
  }
  if (m[1] === '-' || scale > 2 || digits.length + (2 - scale) > 5) {
    return undefined;
  }
  const value = Number(digits) * 10 ** (2 - scale);
  return value <= 10_000 ? value : undefined;
}

function readRule(node: JsonNode, path: string, variants: ReadonlyMap<string, FlagJsonValue>, flagName: string, cells: Map<string, Float64Array>): Rule {
  const rule = requireObject(node, path);
  checkFields(rule, path, RULE_FIELDS);
  const name = optionalString(rule, 'name', path, FLAG_LIMITS.maxStringLength);
  const budget = new StringBudget();
  const optionalSet = (key: string) => {
    const list = field(rule, key);
    return list === undefined ? undefined : readSet(list, `${path}.${key}`, budget);
  };
  const users = optionalSet('users');
  const instances = optionalSet('instances');
  const groups = optionalSet('groups');

  const attributes: [string, StringSet][] = [];
  const attributesNode = field(rule, 'attributes');
  if (attributesNode !== undefined) {
    const object = requireObject(attributesNode, `${path}.attributes`);
    const seen = new Set<string>();
    for (const [attribute, list] of object.entries) {
      const attributePath = `${path}.attributes["${attribute}"]`;
      if (attribute.length === 0 || attribute.length > FLAG_LIMITS.maxStringLength) {
        throw new FlagDocumentError(attributePath, `an attribute name has 1 to ${FLAG_LIMITS.maxStringLength} characters`);
      }
      if (seen.has(attribute)) {
        throw new FlagDocumentError(attributePath, 'the attribute is listed twice');
      }
      seen.add(attribute);
      attributes.push([attribute, readSet(list, attributePath, budget)]);
    }
  }

  let start: number | undefined;
  let end: number | undefined;
  const windowNode = field(rule, 'window');
  if (windowNode !== undefined) {
    const windowPath = `${path}.window`;
    const window = requireObject(windowNode, windowPath);
    checkFields(window, windowPath, ['start', 'end']);
    start = optionalTime(window, 'start', windowPath);
    end = optionalTime(window, 'end', windowPath);
    if (start === undefined && end === undefined) {
      throw new FlagDocumentError(windowPath, 'give "start", "end" or both');
    }
    if (start !== undefined && end !== undefined && start >= end) {
      throw new FlagDocumentError(windowPath, '"start" must be before "end"');
    }
  }

  const prerequisites: Prerequisite[] = [];
  const prerequisitesNode = field(rule, 'prerequisites');
  if (prerequisitesNode !== undefined) {
    if (prerequisitesNode.kind !== 'array') {
      throw new FlagDocumentError(`${path}.prerequisites`, 'must be an array');
    }
    prerequisitesNode.items.forEach((itemNode, index) => {
      const itemPath = `${path}.prerequisites[${index}]`;
      const item = requireObject(itemNode, itemPath);
      checkFields(item, itemPath, ['flag', 'variants']);
      const flag = requiredString(item, 'flag', itemPath);
      const listed = field(item, 'variants');
      if (listed === undefined) {
        throw new FlagDocumentError(itemPath, '"variants" is required: which variants of the other flag let this rule match');
      }
      const set = readSet(listed, `${itemPath}.variants`, budget);
      if (set.items.length === 0) {
        throw new FlagDocumentError(`${itemPath}.variants`, 'list at least one variant');
      }
      prerequisites.push({ flag, variants: set.items });
      if (prerequisites.length > FLAG_LIMITS.maxRules) {
        throw new FlagDocumentError(`${path}.prerequisites`, `more than ${FLAG_LIMITS.maxRules} prerequisites`);
      }
    });
  }

  const variantNode = field(rule, 'variant');
  const rolloutNode = field(rule, 'rollout');
  if ((variantNode === undefined) === (rolloutNode === undefined)) {
    throw new FlagDocumentError(path, 'a rule has either "variant" or "rollout"');
  }

  let variant: string | undefined;
  let variantResult: FlagEvaluation | undefined;
  const rollout: RolloutEntry[] = [];
  if (variantNode !== undefined) {
    if (variantNode.kind !== 'string') {
      throw new FlagDocumentError(`${path}.variant`, 'must be a string');
    }
    variant = variantNode.value;
    requireVariant(variants, variant, `${path}.variant`);
    variantResult = result(flagName, variant, variants.get(variant)!, 'TARGETING_MATCH', cells);
  } else {
    const rolloutPath = `${path}.rollout`;
    if (rolloutNode!.kind !== 'array' || rolloutNode!.items.length === 0) {
      throw new FlagDocumentError(rolloutPath, 'must be a non-empty array of {"variant", "percentage"}');
    }
    if (rolloutNode!.items.length > FLAG_LIMITS.maxVariants) {
      throw new FlagDocumentError(rolloutPath, `more than ${FLAG_LIMITS.maxVariants} entries`);
    }
    let upper = 0;
    rolloutNode!.items.forEach((entryNode, index) => {
      const entryPath = `${rolloutPath}[${index}]`;
      const entry = requireObject(entryNode, entryPath);
      checkFields(entry, entryPath, ['variant', 'percentage']);
      const entryVariant = requiredString(entry, 'variant', entryPath);
      requireVariant(variants, entryVariant, `${entryPath}.variant`);
      const percentage = field(entry, 'percentage');
      const share = percentage?.kind === 'number' ? hundredths(percentage.text) : undefined;
      if (share === undefined) {
        throw new FlagDocumentError(`${entryPath}.percentage`, 'must be a number from 0 to 100 with at most two decimals');
      }
      upper += share;
      if (upper > 10_000) {
        throw new FlagDocumentError(rolloutPath, `the percentages add up to ${upper / 100}, over 100`);
      }
      rollout.push({
        variant: entryVariant,
        percentage: share / 100,
        upperBucket: upper,
        result: result(flagName, entryVariant, variants.get(entryVariant)!, 'SPLIT', cells),
      });
    });
  }

  return { name, users, instances, groups, attributes, start, end, prerequisites, variant, variantResult, rollout };
}

function readFlag(name: string, node: JsonNode): Flag {
  const path = `flags["${name}"]`;
  const flag = requireObject(node, path);
  checkFields(flag, path, FLAG_FIELDS);

  const typeText = requiredString(flag, 'type', path);
  if (typeText !== 'boolean' && typeText !== 'string' && typeText !== 'number' && typeText !== 'json') {
    throw new FlagDocumentError(`${path}.type`, `'${typeText}' is not a flag type (boolean, string, number, json)`);
  }
  const type: FlagType = typeText;

  const description = optionalString(flag, 'description', path, FLAG_LIMITS.maxDescriptionLength);
  let enabled = true;
  const enabledNode = field(flag, 'enabled');
  if (enabledNode !== undefined) {
    if (enabledNode.kind !== 'boolean') {
      throw new FlagDocumentError(`${path}.enabled`, 'must be true or false');
    }
    enabled = enabledNode.value;
  }

  const variants = new Map<string, FlagJsonValue>();
  const integerVariants = new Set<string>();
  const variantsNode = field(flag, 'variants');
  if (variantsNode !== undefined) {
    const object = requireObject(variantsNode, `${path}.variants`);
    for (const [variant, valueNode] of object.entries) {
      const variantPath = `${path}.variants["${variant}"]`;
      checkName(variant, FLAG_LIMITS.maxVariantNameLength, variantPath, 'variant');
      if (variants.has(variant)) {
        throw new FlagDocumentError(variantPath, 'the variant is defined twice');
      }
      variants.set(variant, null);
      if (variants.size > FLAG_LIMITS.maxVariants) {
        throw new FlagDocumentError(`${path}.variants`, `more than ${FLAG_LIMITS.maxVariants} variants`);
      }
      checkValue(type, valueNode, variantPath);
      variants.set(variant, toValue(valueNode));
      // .NET's GetInt64 takes an integer literal only ("3", not "3.0" or "3e0"); the safe range keeps it exact here.
      if (valueNode.kind === 'number' && /^-?\d+$/.test(valueNode.text) && Number.isSafeInteger(valueNode.value)) {
        integerVariants.add(variant);
      }
    }
    if (variants.size === 0) {
      throw new FlagDocumentError(`${path}.variants`, 'a flag needs at least one variant');
    }
  } else if (type === 'boolean') {
    variants.set('on', true);
    variants.set('off', false);
  } else {
    throw new FlagDocumentError(path, `a ${typeText} flag needs "variants"`);
  }

  const defaultVariant = requiredString(flag, 'defaultVariant', path);
  requireVariant(variants, defaultVariant, `${path}.defaultVariant`);
  const offVariant =
    optionalString(flag, 'offVariant', path, FLAG_LIMITS.maxVariantNameLength) ??
    (type === 'boolean' && variants.get('off') === false ? 'off' : defaultVariant);
  requireVariant(variants, offVariant, `${path}.offVariant`);

  const seed = optionalString(flag, 'seed', path, FLAG_LIMITS.maxFlagNameLength) ?? name;
  const cells = new Map<string, Float64Array>();
  const rules: Rule[] = [];
  const rulesNode = field(flag, 'rules');
  if (rulesNode !== undefined) {
    if (rulesNode.kind !== 'array') {
      throw new FlagDocumentError(`${path}.rules`, 'must be an array');
    }
    if (rulesNode.items.length > FLAG_LIMITS.maxRules) {
      throw new FlagDocumentError(`${path}.rules`, `more than ${FLAG_LIMITS.maxRules} rules`);
    }
    rulesNode.items.forEach((ruleNode, index) => rules.push(readRule(ruleNode, `${path}.rules[${index}]`, variants, name, cells)));
  }

  return {
    name,
    type,
    description,
    enabled,
    variants: Object.freeze(Object.fromEntries(variants)),
    defaultVariant,
    offVariant,
    seed,
    fingerprint: canonical(node),
    cells,
    rules,
    seedState: seedState(seed),
    integerVariants,
    staticResult: result(name, defaultVariant, variants.get(defaultVariant)!, 'STATIC', cells),
    defaultResult: result(name, defaultVariant, variants.get(defaultVariant)!, 'DEFAULT', cells),
    disabledResult: result(name, offVariant, variants.get(offVariant)!, 'DISABLED', cells),
  };
}

function checkPrerequisites(flags: ReadonlyMap<string, Flag>): void {
  for (const flag of flags.values()) {
    flag.rules.forEach((rule, r) =>
      rule.prerequisites.forEach((prerequisite, p) => {
        const path = `flags["${flag.name}"].rules[${r}].prerequisites[${p}]`;
        const other = flags.get(prerequisite.flag);
        if (other === undefined) {
          throw new FlagDocumentError(`${path}.flag`, `no flag "${prerequisite.flag}" in this document`);
        }
        for (const variant of prerequisite.variants) {
          if (!Object.hasOwn(other.variants, variant)) {
            throw new FlagDocumentError(`${path}.variants`, `no variant "${variant}" (the flag has ${Object.keys(other.variants).map((k) => `"${k}"`).join(', ')})`);
          }
        }
      }),
    );
  }

  // Depth-first search for a cycle: absent (white), false (on the path), true (done). The recursion is bounded by
  // the number of flags (at most 1,000).
  const state = new Map<string, boolean>();
  const visit = (name: string, trail: string[]): void => {
    const done = state.get(name);
    if (done !== undefined) {
      if (!done) {
        const cycle = [...trail.slice(trail.indexOf(name)), name];
        throw new FlagDocumentError(`flags["${trail[trail.length - 1]}"]`, `prerequisites go round in a circle: ${cycle.join(' -> ')}`);
      }
      return;
    }
    state.set(name, false);
    trail.push(name);
    for (const rule of flags.get(name)!.rules) {
      for (const prerequisite of rule.prerequisites) {
        visit(prerequisite.flag, trail);
      }
    }
    trail.pop();
    state.set(name, true);
  };
  for (const name of flags.keys()) {
    visit(name, []);
  }
}

function parseDocument(text: string): Map<string, Flag> {
  if (typeof text !== 'string') {
    throw new FlagDocumentError('', 'a flags document is JSON text');
  }
  const root = requireObject(new Scanner(text).document(), '');
  checkFields(root, '', ['flags']);
  const flagsNode = field(root, 'flags');
  if (flagsNode === undefined) {
    throw new FlagDocumentError('', 'a flags document is an object with a "flags" object');
  }
  const object = requireObject(flagsNode, 'flags');
  const names = new Map<string, string>(); // lower case -> as written: names are ASCII, so this is OrdinalIgnoreCase
  const raw: (readonly [string, JsonNode])[] = [];
  for (const entry of object.entries) {
    const name = entry[0];
    const path = `flags["${name}"]`;
    checkName(name, FLAG_LIMITS.maxFlagNameLength, path, 'flag');
    const other = names.get(name.toLowerCase());
    if (other !== undefined) {
      throw new FlagDocumentError(path, other === name ? 'the flag is defined twice' : `differs from the flag "${other}" only in case (.NET configuration keys ignore case)`);
    }
    names.set(name.toLowerCase(), name);
    if (raw.length === FLAG_LIMITS.maxFlags) {
      throw new FlagDocumentError('flags', `more than ${FLAG_LIMITS.maxFlags} flags`);
    }
    raw.push(entry);
  }
  const flags = new Map<string, Flag>();
  for (const [name, node] of raw) {
    flags.set(name, readFlag(name, node));
  }
  checkPrerequisites(flags);
  return flags;
}

// ---------------------------------------------------------------------------------------------------------------------
// The evaluator.

const NO_GROUPS: readonly string[] = Object.freeze([]);

/**
 * The flags of one `flags` document, parsed and validated ({@link FlagSet.parse}), and their evaluation. Immutable;
 * a successful evaluation allocates nothing (its result object is shared and frozen). Each successful evaluation
 * through `evaluate` and the typed reads adds one to a counter of its flag definition and variant, which live flags
 * (`client.flags`) report to the center (evaluation insight); errors are not counted.
 */
export class FlagSet {
  /** A set without flags. */
  static readonly empty = new FlagSet(new Map());

  private readonly flags: ReadonlyMap<string, Flag>;

  private constructor(flags: ReadonlyMap<string, Flag>) {
    this.flags = flags;
  }

  /**
   * Parses and validates a flags document.
   * @throws FlagDocumentError naming the first error and its path (as the server reports it at publish).
   */
  static parse(text: string): FlagSet {
    return new FlagSet(parseDocument(text));
  }

  /** Merges sets in order: a later set's flag replaces an earlier one of the same name. */
  static merge(sets: readonly FlagSet[]): FlagSet {
    const merged = new Map<string, Flag>();
    for (const set of sets) {
      for (const [name, flag] of set.flags) {
        merged.set(name, flag);
      }
    }
    return merged.size === 0 ? FlagSet.empty : new FlagSet(merged);
  }

  /** The flag names, in document order. */
  get names(): string[] {
    return [...this.flags.keys()];
  }

  get size(): number {
    return this.flags.size;
  }

  /** A flag's validated definition. */
  get(flag: string): FlagDefinition | undefined {
    return this.flags.get(flag);
  }

  /** Chooses the variant of `flag` for `context`; on error `value` is undefined. */
  evaluate(flag: string, context: FlagContext = {}): FlagEvaluation<FlagJsonValue | undefined> {
    const definition = this.flags.get(flag);
    if (definition === undefined) {
      return failure(flag, undefined, 'FLAG_NOT_FOUND', `no flag '${flag}'`);
    }
    return counted(this.decide(definition, context, 0));
  }

  /** A boolean flag's value; the default with TYPE_MISMATCH for another type, FLAG_NOT_FOUND when missing. */
  getBoolean(flag: string, defaultValue: boolean, context: FlagContext = {}): FlagEvaluation<boolean> {
    return counted(this.read(flag, defaultValue, context, 'boolean')) as FlagEvaluation<boolean>;
  }

  getString(flag: string, defaultValue: string, context: FlagContext = {}): FlagEvaluation<string> {
    return counted(this.read(flag, defaultValue, context, 'string')) as FlagEvaluation<string>;
  }

  getNumber(flag: string, defaultValue: number, context: FlagContext = {}): FlagEvaluation<number> {
    return counted(this.read(flag, defaultValue, context, 'number')) as FlagEvaluation<number>;
  }

  /**
   * A number flag read as a whole number: a variant written with a fraction or exponent, or beyond
   * Number.MAX_SAFE_INTEGER, is a TYPE_MISMATCH (as .NET's GetInteger).
   */
  getInteger(flag: string, defaultValue: number, context: FlagContext = {}): FlagEvaluation<number> {
    const evaluation = this.read(flag, defaultValue, context, 'number') as FlagEvaluation<number>;
    if (evaluation.variant !== null && !this.flags.get(flag)!.integerVariants.has(evaluation.variant)) {
      return failure(flag, defaultValue, 'TYPE_MISMATCH', `flag '${flag}' variant '${evaluation.variant}' is not a whole number`);
    }
    return counted(evaluation);
  }

  /** A `json` flag's value, of any shape (frozen). */
  getObject<T extends FlagJsonValue = FlagJsonValue>(flag: string, defaultValue: T, context: FlagContext = {}): FlagEvaluation<T> {
    return counted(this.read(flag, defaultValue, context, 'json')) as FlagEvaluation<T>;
  }

  private read(flag: string, defaultValue: unknown, context: FlagContext, type: FlagType): FlagEvaluation<unknown> {
    const definition = this.flags.get(flag);
    if (definition === undefined) {
      return failure(flag, defaultValue, 'FLAG_NOT_FOUND', `no flag '${flag}'`);
    }
    if (definition.type !== type) {
      return failure(flag, defaultValue, 'TYPE_MISMATCH', `flag '${flag}' is a ${definition.type} flag, not ${type}`);
    }
    return this.decide(definition, context, 0);
  }

  private decide(flag: Flag, context: FlagContext, depth: number): FlagEvaluation {
    if (!flag.enabled) {
      return flag.disabledResult;
    }
    const rules = flag.rules;
    if (rules.length === 0) {
      return flag.staticResult;
    }
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (!this.holds(rule, context, depth)) {
        continue;
      }
      if (rule.variantResult !== undefined) {
        return rule.variantResult;
      }
      const key = effectiveKey(context);
      if (key === undefined) {
        continue;
      }
      const bucket = bucketFrom(flag.seedState, key);
      const rollout = rule.rollout;
      for (let e = 0; e < rollout.length; e++) {
        if (bucket < rollout[e]!.upperBucket) {
          return rollout[e]!.result;
        }
      }
    }
    return flag.defaultResult;
  }

  private holds(rule: Rule, context: FlagContext, depth: number): boolean {
    if (rule.users !== undefined) {
      const key = effectiveKey(context);
      if (key === undefined || !rule.users.has(key)) {
        return false;
      }
    }
    if (rule.instances !== undefined) {
      const instanceId = context.instanceId;
      if (typeof instanceId !== 'string' || instanceId === '' || !rule.instances.has(instanceId)) {
        return false;
      }
    }
    if (rule.groups !== undefined && !anyIn(context.groups ?? NO_GROUPS, rule.groups)) {
      return false;
    }
    const attributes = rule.attributes;
    if (attributes.length > 0) {
      const actual = context.attributes;
      for (let i = 0; i < attributes.length; i++) {
        const [name, values] = attributes[i]!;
        // An own string only: "constructor" must not find Object.prototype's.
        const value = actual !== undefined && Object.hasOwn(actual, name) ? actual[name] : undefined;
        if (typeof value !== 'string' || !values.has(value)) {
          return false;
        }
      }
    }
    if (rule.start !== undefined || rule.end !== undefined) {
      const now = context.now !== undefined ? context.now.getTime() : Date.now();
      if ((rule.start !== undefined && now < rule.start) || (rule.end !== undefined && now >= rule.end)) {
        return false;
      }
    }
    const prerequisites = rule.prerequisites;
    for (let i = 0; i < prerequisites.length; i++) {
      const prerequisite = prerequisites[i]!;
      // A parsed document has no cycles; merged sets may (a later namespace's flag replacing one): depth bounds it.
      const other = this.flags.get(prerequisite.flag);
      if (depth >= this.flags.size || other === undefined) {
        return false;
      }
      const decision = this.decide(other, context, depth + 1);
      if (decision.variant === null || !prerequisite.variants.includes(decision.variant)) {
        return false;
      }
    }
    return true;
  }
}

/** The key percentages hash: the targeting key, else the instance id. */
function effectiveKey(context: FlagContext): string | undefined {
  const key = context.targetingKey;
  if (typeof key === 'string' && key !== '') {
    return key;
  }
  const instanceId = context.instanceId;
  return typeof instanceId === 'string' && instanceId !== '' ? instanceId : undefined;
}

function anyIn(values: readonly string[], set: StringSet): boolean {
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value === 'string' && set.has(value)) {
      return true;
    }
  }
  return false;
}

/** Which flags differ between two sets (added, removed, or with another definition), sorted. */
export function changedFlags(before: FlagSet, after: FlagSet): string[] {
  const changed = new Set<string>();
  for (const name of before.names) {
    if (after.get(name)?.fingerprint !== before.get(name)!.fingerprint) {
      changed.add(name);
    }
  }
  for (const name of after.names) {
    if (before.get(name) === undefined) {
      changed.add(name);
    }
  }
  return [...changed].sort();
}
