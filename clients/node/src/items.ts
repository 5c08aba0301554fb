import type { KeyChange, Release } from './types.js';

/**
 * The keys of a release. properties: the items as released. json: flattened, object members and array indexes joined
 * with `.` (`db.hosts.0`), an empty object or array a key holding `''`, a JSON null a key holding `null`. yaml and
 * text: one key, the namespace name, holding the document (this package parses no YAML).
 * @throws Error a json document that does not parse or is not an object.
 */
export function itemsOf(release: Release): Record<string, string | null> {
  switch (release.format.toLowerCase()) {
    case 'properties':
      return { ...release.configurations };
    case 'json': {
      const items: Record<string, string | null> = {};
      if (!release.content.trim()) {
        return items;
      }
      let root: unknown;
      try {
        root = JSON.parse(release.content);
      } catch (e) {
        throw new Error(`${release.namespace}#${release.releaseId}: the json document does not parse: ${(e as Error).message}`);
      }
      if (root === null || typeof root !== 'object' || Array.isArray(root)) {
        throw new Error(`${release.namespace}#${release.releaseId}: a json namespace must hold an object`);
      }
      flatten(root, '', items);
      return items;
    }
    default:
      return { [release.namespace]: release.content };
  }
}

function flatten(value: unknown, prefix: string, items: Record<string, string | null>): void {
  if (value === null) {
    items[prefix] = null;
  } else if (typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value as object);
    if (entries.length === 0 && prefix) {
      items[prefix] = '';
    }
    for (const [k, v] of entries) {
      flatten(v, prefix ? `${prefix}.${k}` : k, items);
    }
  } else {
    items[prefix] = String(value);
  }
}

/** Added, changed and removed keys from `before` to `after`, sorted by key. */
export function diff(before: Readonly<Record<string, string | null>>, after: Readonly<Record<string, string | null>>): KeyChange[] {
  const changes: KeyChange[] = [];
  for (const [key, newValue] of Object.entries(after)) {
    if (!Object.hasOwn(before, key)) {
      changes.push({ type: 'added', key, newValue });
    } else if (before[key] !== newValue) {
      changes.push({ type: 'changed', key, oldValue: before[key] ?? null, newValue });
    }
  }
  for (const [key, oldValue] of Object.entries(before)) {
    if (!Object.hasOwn(after, key)) {
      changes.push({ type: 'removed', key, oldValue });
    }
  }
  return changes.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
