import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConclaveCacheError } from './errors.js';
import type { Release } from './types.js';

/** Environment variable read for the cache key when the options do not give one (the same one the .NET provider reads). */
export const CACHE_KEY_ENVIRONMENT_VARIABLE = 'CONCLAVE_CACHE_KEY';

const MAGIC = Buffer.from('CLKG', 'ascii');
const FORMAT_VERSION = 1;
const HEADER_SIZE = 5;
const NONCE_SIZE = 12;
const TAG_SIZE = 16;
/** A cache file larger than this is not read: the cache holds a few namespaces' documents, not gigabytes. */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

/** What a cache file holds: the releases applied when it was written. */
export interface CacheContents {
  readonly savedAt: Date;
  readonly releases: readonly Release[];
}

/**
 * The last-known-good releases on disk, so an app starts when no member is reachable. The file format is the .NET
 * provider's (Conclave.Extensions.Configuration, LastKnownGoodCache) so either client reads the other's file:
 * `"CLKG"`, version byte 1, 12-byte nonce, 16-byte GCM tag, AES-256-GCM ciphertext of UTF-8 JSON
 * `{version, savedAt, releases: [...]}`. The associated data is the 5-byte header plus `app\nenv\nns1,ns2`, so a file
 * only opens for the app, environment and namespace list that wrote it, under the key that wrote it. Written to a
 * temporary file (mode 0600) in the same directory, flushed to disk, then renamed over the old one.
 */
export class LastKnownGoodCache {
  readonly path: string;
  private readonly key: Buffer;
  private readonly identity: Buffer;

  constructor(path: string, key: Buffer, identity: string) {
    if (key.length !== 32) {
      throw new Error('The cache key must be 32 bytes (AES-256).');
    }
    this.path = path;
    this.key = key;
    this.identity = Buffer.from(identity, 'utf8');
  }

  /** The identity a cache file is bound to: app, environment and the namespace list, as the .NET provider forms it. */
  static identity(app: string, env: string, namespaces: readonly string[]): string {
    return `${app}\n${env}\n${namespaces.join(',')}`;
  }

  /** The file name for an identity: readable prefix plus a hash, the same name the .NET provider uses. */
  static fileName(identity: string, app: string, env: string): string {
    const hash = createHash('sha256').update(identity, 'utf8').digest().subarray(0, 8).toString('hex');
    const safe = `${app}-${env}`.split('').map((c) => (/[A-Za-z0-9\-_.]/.test(c) ? c : '_')).join('');
    return `${safe}-${hash}.lkg`;
  }

  /** `conclave/cache` under the user's local data folder (the .NET provider's default), or under the temp folder. */
  static defaultDirectory(): string {
    const local = process.platform === 'win32'
      ? process.env.LOCALAPPDATA
      : process.env.XDG_DATA_HOME || (homedir() ? join(homedir(), '.local', 'share') : undefined);
    return join(local || tmpdir(), 'conclave', 'cache');
  }

  /** Parses a key: base64 of exactly 32 bytes; throws a clear error otherwise. */
  static parseKey(text: string): Buffer {
    const trimmed = text.trim();
    const bytes = Buffer.from(trimmed, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || bytes.length !== 32) {
      throw new Error(
        `The Conclave cache key (option cacheKey or ${CACHE_KEY_ENVIRONMENT_VARIABLE}) must be 32 random bytes in base64, e.g. the output of \`openssl rand -base64 32\`.`,
      );
    }
    return bytes;
  }

  async save(releases: readonly Release[], now: Date = new Date()): Promise<void> {
    const document = {
      version: FORMAT_VERSION,
      savedAt: now.toISOString(),
      releases: releases.map((r) => ({
        app: r.app,
        environment: r.env,
        namespace: r.namespace,
        releaseId: r.releaseId,
        format: r.format,
        content: r.content,
        configurations: r.configurations,
        contentHash: r.contentHash,
        isGray: r.gray,
        title: r.title,
        author: r.author,
        createdAt: r.createdAt.toISOString(),
      })),
    };
    const plaintext = Buffer.from(JSON.stringify(document), 'utf8');
    const header = Buffer.concat([MAGIC, Buffer.from([FORMAT_VERSION])]);
    const nonce = randomBytes(NONCE_SIZE);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce, { authTagLength: TAG_SIZE });
    cipher.setAAD(this.associatedData(header));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    plaintext.fill(0);
    const file = Buffer.concat([header, nonce, cipher.getAuthTag(), ciphertext]);

    const directory = join(this.path, '..');
    await mkdir(directory, { recursive: true, mode: 0o700 });
    const temporary = join(directory, `.${this.path.split(/[\\/]/).pop()}.${randomBytes(16).toString('hex')}.tmp`);
    try {
      const handle = await open(temporary, 'wx', 0o600);
      try {
        await handle.writeFile(file);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, this.path);
    } catch (e) {
      await rm(temporary, { force: true });
      throw e;
    }
  }

  /**
   * Reads the cache: null when there is no file; throws {@link ConclaveCacheError} (saying why) when a file is there
   * but must not be used.
   */
  async load(): Promise<CacheContents | null> {
    let file: Buffer;
    try {
      const handle = await open(this.path, 'r');
      try {
        const { size } = await handle.stat();
        if (size > MAX_FILE_BYTES) {
          throw new ConclaveCacheError(this.path, `${size} bytes is larger than a cache file can be`);
        }
        file = await handle.readFile();
      } finally {
        await handle.close();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') {
        return null;
      }
      throw e;
    }

    if (file.length < HEADER_SIZE + NONCE_SIZE + TAG_SIZE || !file.subarray(0, 4).equals(MAGIC)) {
      throw new ConclaveCacheError(this.path, 'not a Conclave cache file (bad header or too short)');
    }
    if (file[4] !== FORMAT_VERSION) {
      throw new ConclaveCacheError(this.path, `cache format version ${file[4]} is not supported (this client reads version ${FORMAT_VERSION})`);
    }

    let plaintext: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, file.subarray(HEADER_SIZE, HEADER_SIZE + NONCE_SIZE), { authTagLength: TAG_SIZE });
      decipher.setAAD(this.associatedData(file.subarray(0, HEADER_SIZE)));
      decipher.setAuthTag(file.subarray(HEADER_SIZE + NONCE_SIZE, HEADER_SIZE + NONCE_SIZE + TAG_SIZE));
      plaintext = Buffer.concat([decipher.update(file.subarray(HEADER_SIZE + NONCE_SIZE + TAG_SIZE)), decipher.final()]);
    } catch {
      throw new ConclaveCacheError(
        this.path,
        'authentication failed: the file was changed, or written with another key or for another app/environment/namespaces',
      );
    }

    try {
      return parseDocument(JSON.parse(plaintext.toString('utf8')));
    } catch (e) {
      throw new ConclaveCacheError(this.path, `the cache document does not parse: ${(e as Error).message}`);
    } finally {
      plaintext.fill(0);
    }
  }

  private associatedData(header: Buffer): Buffer {
    return Buffer.concat([header, this.identity]);
  }
}

/** The JSON the .NET provider writes uses web defaults (camelCase, read case-insensitively); so does this reader. */
function parseDocument(value: unknown): CacheContents {
  const doc = object(value, 'document');
  const version = field(doc, 'version');
  if (version !== FORMAT_VERSION) {
    throw new Error(`cache document version ${String(version)} is not supported`);
  }
  const releases = field(doc, 'releases');
  if (!Array.isArray(releases)) {
    throw new Error('releases is not an array');
  }
  return {
    savedAt: date(field(doc, 'savedAt'), 'savedAt'),
    releases: releases.map((item, i) => {
      const r = object(item, `releases[${i}]`);
      const configurations = field(r, 'configurations') ?? {};
      const items: Record<string, string> = {};
      for (const [k, v] of Object.entries(object(configurations, 'configurations'))) {
        items[k] = String(v);
      }
      return {
        app: text(field(r, 'app')),
        env: text(field(r, 'environment')),
        namespace: text(field(r, 'namespace')),
        releaseId: Number(field(r, 'releaseId')),
        format: text(field(r, 'format')),
        content: text(field(r, 'content')),
        configurations: items,
        contentHash: text(field(r, 'contentHash')),
        gray: field(r, 'isGray') === true,
        title: text(field(r, 'title')),
        author: text(field(r, 'author')),
        createdAt: date(field(r, 'createdAt'), 'createdAt'),
      } satisfies Release;
    }),
  };
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${what} is not an object`);
  }
  return value as Record<string, unknown>;
}

function field(obj: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(obj, name)) {
    return obj[name];
  }
  const lower = name.toLowerCase();
  const key = Object.keys(obj).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : obj[key];
}

function text(value: unknown): string {
  return value === undefined || value === null ? '' : String(value);
}

function date(value: unknown, what: string): Date {
  const d = new Date(String(value));
  if (Number.isNaN(d.getTime())) {
    throw new Error(`${what} is not a date`);
  }
  return d;
}
