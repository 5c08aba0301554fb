// The sticky bucket of a targeting key (docs/feature-flags.md, "Buckets"): 64-bit FNV-1a over the UTF-8 of
// `seed/key`, finished with SplitMix64's mixer, modulo 10,000. A port of Conclave.Flags.FlagBucket with BigInt, so the
// console's cohort preview shows what the clients will compute.
const MASK = (1n << 64n) - 1n;
const OFFSET = 14695981039346656037n;
const PRIME = 1099511628211n;
const encoder = new TextEncoder();

export const BUCKETS = 10000;

export function bucket(seed, key) {
  let hash = OFFSET;
  for (const b of encoder.encode(`${seed}/${key}`)) hash = ((hash ^ BigInt(b)) * PRIME) & MASK;
  hash ^= hash >> 30n;
  hash = (hash * 0xbf58476d1ce4e5b9n) & MASK;
  hash ^= hash >> 27n;
  hash = (hash * 0x94d049bb133111ebn) & MASK;
  hash ^= hash >> 31n;
  return Number(hash % BigInt(BUCKETS));
}

// The number of buckets a percentage covers (0..100 in 0.01 steps), rounded half away from zero as .NET does.
export function threshold(percentage) {
  const p = Math.min(100, Math.max(0, Number(percentage) || 0));
  return Math.round(p * 100);
}

// Which rollout entry a bucket falls in: entries cover consecutive ranges from 0, in order; null past the sum
// (the rule does not match and the next rule is tried).
export function rolloutVariant(rollout, b) {
  let upper = 0;
  for (const entry of rollout || []) {
    upper += threshold(entry.percentage);
    if (b < upper) return entry.variant;
  }
  return null;
}
