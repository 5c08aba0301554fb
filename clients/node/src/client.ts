import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CACHE_KEY_ENVIRONMENT_VARIABLE, LastKnownGoodCache } from './cache.js';
import { ConclaveCacheError, ConclaveError, ConclaveUnavailableError } from './errors.js';
import { backoff, Endpoint, Endpoints, isTransient, toError } from './transport.js';
import { diff, itemsOf } from './items.js';
import { ConclaveFlags } from './live-flags.js';
import type { FlagEvaluationCount, FlagUsage } from './flag-usage.js';
import type {
  ChangeEvent,
  ConclaveClientOptions,
  DeliveryStatus,
  Release,
  Snapshot,
  Source,
  SubscribeOptions,
} from './types.js';

/** Environment variable read for the access key when the options do not give one. */
export const ACCESS_KEY_ENVIRONMENT_VARIABLE = 'CONCLAVE_ACCESS_KEY';
/** Environment variable read for the instance id when the options do not give one. */
export const INSTANCE_ID_ENVIRONMENT_VARIABLE = 'CONCLAVE_INSTANCE_ID';

interface WireRelease {
  app: string;
  env: string;
  namespace: string;
  release_id: number;
  format: string;
  content: string;
  configurations: Record<string, string>;
  content_hash: string;
  gray: boolean;
  title: string;
  author: string;
  created_unix_ms: number;
}

function fromWire(r: WireRelease): Release {
  return {
    app: r.app,
    env: r.env,
    namespace: r.namespace,
    releaseId: Number(r.release_id),
    format: r.format,
    content: r.content,
    configurations: { ...r.configurations },
    contentHash: r.content_hash,
    gray: r.gray,
    title: r.title,
    author: r.author,
    createdAt: new Date(Number(r.created_unix_ms)),
  };
}

function snapshotOf(release: Release, source: Source): Snapshot {
  return { namespace: release.namespace, releaseId: release.releaseId, items: itemsOf(release), release, source };
}

const STATUS_WIRE: Record<DeliveryStatus, string> = { applied: 'APPLIED', rejected: 'REJECTED', unhealthy: 'UNHEALTHY' };

/**
 * A client of the Conclave configuration center for one app and environment: {@link fetch} reads a namespace's
 * effective release, {@link subscribe} follows namespaces live (resuming after disconnects, failing over across
 * members, starting from the encrypted last-known-good cache when no member answers), {@link report} records delivery.
 */
export class ConclaveClient {
  readonly app: string;
  readonly env: string;
  readonly instanceId: string;
  /** The instance's labels as given (`labels`); live flags add them to the evaluation context as attributes. */
  readonly instanceLabels: Readonly<Record<string, string>>;
  private readonly options: ConclaveClientOptions;
  private readonly endpoints: Endpoints;
  private readonly accessKey: string | undefined;
  private readonly labels: string[];
  private readonly cacheKey: Buffer | undefined;
  private readonly cacheDir: string;
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;

  constructor(options: ConclaveClientOptions) {
    if (!options || typeof options !== 'object') {
      throw new Error('ConclaveClient: options are required ({ endpoints, app, env, ... })');
    }
    if (!options.app?.trim()) {
      throw new Error('ConclaveClient: app is required (the app id in the configuration center)');
    }
    if (!options.env?.trim()) {
      throw new Error('ConclaveClient: env is required (e.g. PRO)');
    }
    this.options = options;
    this.app = options.app;
    this.env = options.env;
    const key = (options.accessKey ?? process.env[ACCESS_KEY_ENVIRONMENT_VARIABLE])?.trim();
    if (key && !/^[!-~]+$/.test(key)) {
      throw new Error('ConclaveClient: accessKey must be the {id}.{secret} text `conclave config credentials create` printed (printable ASCII)');
    }
    this.accessKey = key || undefined;
    this.instanceId = options.instanceId || process.env[INSTANCE_ID_ENVIRONMENT_VARIABLE] || process.env.HOSTNAME || hostname();
    this.endpoints = new Endpoints(options.endpoints, options.tls, this.instanceId);
    this.instanceLabels = Object.freeze({ ...options.labels });
    this.labels = Object.entries(options.labels ?? {}).map(([k, v]) => `${k}=${v}`);
    const cacheKeyText = options.cacheKey ?? process.env[CACHE_KEY_ENVIRONMENT_VARIABLE];
    this.cacheKey = cacheKeyText?.trim() ? LastKnownGoodCache.parseKey(cacheKeyText) : undefined;
    this.cacheDir = options.cacheDir ?? LastKnownGoodCache.defaultDirectory();
  }

  /** The endpoints as given. */
  get endpointUrls(): readonly string[] {
    return this.endpoints.all.map((e) => e.url);
  }

  /** Whether the last-known-good cache is on (a cache key was given). */
  get cacheEnabled(): boolean {
    return this.cacheKey !== undefined;
  }

  /**
   * The cache file for a namespace list (the same file the .NET provider uses for the same app, environment and
   * namespaces in the same directory), or undefined when the cache is off.
   */
  cachePath(namespaces: readonly string[]): string | undefined {
    return this.cache(namespaces)?.path;
  }

  /**
   * The effective release of one namespace for this instance. When no member answers, the namespace's last-known-good
   * cache (written by an earlier fetch of it) is used and the snapshot says `source: 'cache'`.
   * @throws ConclaveNotFoundError the app, environment or namespace does not exist, or nothing is released (`noRelease`).
   * @throws ConclaveAccessError the access key is missing, unknown, revoked or another app's.
   * @throws ConclaveUnavailableError no member answered and there is no cache for the namespace.
   * @throws ConclaveCacheError no member answered and the cache file is there but refused (tampered, other key).
   */
  async fetch(namespace: string): Promise<Snapshot> {
    this.checkOpen();
    checkNamespaces([namespace]);
    const cache = this.cache([namespace]);
    let response: { releases: WireRelease[] };
    try {
      response = await this.unary<{ releases: WireRelease[] }>('Fetch', this.fetchRequest([namespace]));
    } catch (e) {
      if (!(e instanceof ConclaveUnavailableError) || cache === undefined) {
        throw e;
      }
      let cached;
      try {
        cached = await cache.load();
      } catch (cacheError) {
        if (cacheError instanceof ConclaveCacheError) {
          throw new ConclaveCacheError(cache.path, `${cacheError.message.replace(/^.*?is refused: /, '')}; and no member answered (${e.message})`);
        }
        throw cacheError;
      }
      const release = cached?.releases.find((r) => r.namespace === namespace);
      if (release === undefined) {
        throw new ConclaveUnavailableError(`${e.message}; and there is no last-known-good cache for ${namespace} at ${cache.path}`, { cause: e });
      }
      return snapshotOf(release, 'cache');
    }
    const release = fromWire(response.releases[0]!);
    if (cache !== undefined) {
      await cache.save([release]).catch(() => undefined);
    }
    return snapshotOf(release, 'server');
  }

  /**
   * Follows namespaces live. The handler gets one {@link ChangeEvent} per namespace release applied: first the current
   * releases, then each new effective release (publish, rollback, gray rule, promote, abandon). The subscription
   * reconnects with jittered back-off, moving to the next endpoint when a member fails, and resumes from the release
   * ids it holds, so a release published while it was disconnected is delivered after the reconnect and none is
   * repeated (the newest effective release is delivered; ones superseded while disconnected are not replayed). When
   * no member answers at start, it starts from the last-known-good cache (event `cache`, `source === 'cache'`).
   */
  subscribe(namespaces: readonly string[], handler?: (event: ChangeEvent) => void, options: SubscribeOptions = {}): Subscription {
    return this.subscribeWithFlagUsage(namespaces, handler, options, undefined);
  }

  /** @internal {@link subscribe}, whose delivery reports of flags namespaces carry `usage`'s evaluation counts. */
  subscribeWithFlagUsage(
    namespaces: readonly string[],
    handler: ((event: ChangeEvent) => void) | undefined,
    options: SubscribeOptions,
    usage: FlagUsage | undefined,
  ): Subscription {
    this.checkOpen();
    checkNamespaces(namespaces);
    const subscription = new Subscription(this, [...namespaces], options, this.cache(namespaces), () => this.subscriptions.delete(subscription), usage);
    if (handler) {
      subscription.on('change', handler);
    }
    this.subscriptions.add(subscription);
    subscription.start();
    return subscription;
  }

  /**
   * Live feature flags (docs/feature-flags.md) from `flags` namespaces, merged in order (a later namespace's flag
   * replaces an earlier one of the same name), evaluated in-process with this instance's id and labels in the context.
   * See {@link ConclaveFlags}.
   */
  flags(namespaces: readonly string[]): ConclaveFlags {
    this.checkOpen();
    checkNamespaces(namespaces);
    return new ConclaveFlags(this, namespaces);
  }

  /**
   * Tells the configuration center that this instance applied (or rejected, or became unhealthy with) a release of a
   * namespace; shown by the namespace's instance view and convergence query. Safe to repeat. Subscriptions report
   * applied and rejected releases by themselves (option `reportDelivery`).
   */
  async report(namespace: string, releaseId: number, status: DeliveryStatus, reason?: string): Promise<void> {
    await this.sendReport(namespace, releaseId, status, reason, []);
  }

  /** @internal {@link report} with the evaluation counts of a flags namespace's flags. */
  async sendReport(namespace: string, releaseId: number, status: DeliveryStatus, reason: string | undefined, flagEvaluations: readonly FlagEvaluationCount[]): Promise<void> {
    this.checkOpen();
    checkNamespaces([namespace]);
    if (!(status in STATUS_WIRE)) {
      throw new Error(`report: status must be applied, rejected or unhealthy, not ${String(status)}`);
    }
    await this.unary('Report', {
      app: this.app,
      env: this.env,
      namespace,
      instance: this.identity(),
      release_id: releaseId,
      status: STATUS_WIRE[status],
      reason: reason ?? '',
      flag_evaluations: flagEvaluations,
    });
  }

  /** Ends every subscription and closes the channels. */
  close(): void {
    if (this.closed) {
      return;
    }
    this.closed = true;
    for (const s of [...this.subscriptions]) {
      s.close();
    }
    this.endpoints.close();
  }

  /** @internal */
  get settings(): Required<
    Pick<ConclaveClientOptions, 'callTimeoutMs' | 'retryBaseDelayMs' | 'retryMaxDelayMs' | 'reportDelivery' | 'reportSpreadMs' | 'flagUsageReportIntervalMs'>
  > {
    return {
      callTimeoutMs: this.options.callTimeoutMs ?? 5000,
      retryBaseDelayMs: this.options.retryBaseDelayMs ?? 200,
      retryMaxDelayMs: this.options.retryMaxDelayMs ?? 30000,
      reportDelivery: this.options.reportDelivery ?? true,
      reportSpreadMs: this.options.reportSpreadMs ?? 1000,
      flagUsageReportIntervalMs: this.options.flagUsageReportIntervalMs ?? 300000,
    };
  }

  /** @internal */
  get endpointSet(): Endpoints {
    return this.endpoints;
  }

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal */
  identity(): { instance_id: string; labels: string[] } {
    return { instance_id: this.instanceId, labels: this.labels };
  }

  /** @internal */
  fetchRequest(namespaces: readonly string[]): object {
    return { app: this.app, env: this.env, namespaces, instance: this.identity() };
  }

  /** @internal */
  metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.accessKey) {
      metadata.set('conclave-access-key', this.accessKey);
    }
    return metadata;
  }

  /** @internal One unary call to one endpoint with the call deadline. */
  callOn<T>(endpoint: Endpoint, method: string, request: object): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const deadline = new Date(Date.now() + this.settings.callTimeoutMs);
      endpoint.service[method]!(request, this.metadata(), { deadline }, (error: grpc.ServiceError | null, response: T) =>
        error ? reject(error) : resolve(response),
      );
    });
  }

  /**
   * @internal A unary call with failover: two rounds over the endpoints with a short back-off; a refusal (not found,
   * access) is thrown at once, a failure of the member moves on to the next one.
   */
  async unary<T>(method: string, request: object): Promise<T> {
    const attempts = Math.max(2, 2 * this.endpoints.all.length);
    const failures: string[] = [];
    for (let attempt = 1; attempt <= attempts; attempt++) {
      this.checkOpen();
      const endpoint = this.endpoints.current;
      try {
        return await this.callOn<T>(endpoint, method, request);
      } catch (e) {
        const error = e as grpc.ServiceError;
        if (typeof error.code !== 'number' || !isTransient(error)) {
          throw typeof error.code === 'number' ? toError(error, endpoint) : e;
        }
        failures.push(`${endpoint.url}: ${error.details || error.message}`);
        this.endpoints.failed(endpoint);
        if (attempt < attempts) {
          await delay(backoff(attempt, 25, 500));
        }
      }
    }
    throw new ConclaveUnavailableError(`no Conclave member answered ${method} (${[...new Set(failures)].join('; ')})`);
  }

  private cache(namespaces: readonly string[]): LastKnownGoodCache | undefined {
    if (this.cacheKey === undefined) {
      return undefined;
    }
    const identity = LastKnownGoodCache.identity(this.app, this.env, namespaces);
    return new LastKnownGoodCache(join(this.cacheDir, LastKnownGoodCache.fileName(identity, this.app, this.env)), this.cacheKey, identity);
  }

  private checkOpen(): void {
    if (this.closed) {
      throw new ConclaveError('the ConclaveClient is closed');
    }
  }
}

function checkNamespaces(namespaces: readonly string[]): void {
  if (!Array.isArray(namespaces) || namespaces.length === 0 || namespaces.some((n) => typeof n !== 'string' || !n.trim())) {
    throw new Error('namespaces must name at least one namespace, e.g. ["application"]');
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A delivery outcome waiting to be reported, or last reported, for one namespace. */
interface Outcome {
  readonly release: Release;
  readonly status: DeliveryStatus;
  readonly reason?: string;
}

/** Information of the `cache` event: the subscription started from the last-known-good cache. */
export interface CacheStartEvent {
  readonly path: string;
  readonly savedAt: Date;
  /** Why no member was used. */
  readonly reason: string;
}

/**
 * A live subscription ({@link ConclaveClient.subscribe}). Events: `change` ({@link ChangeEvent}), `connected`
 * (endpoint URL), `disconnected` (reason), `cache` ({@link CacheStartEvent}: started from the last-known-good cache),
 * `rejected` ({ release, reason }: the validator refused a release), `failure` (Error: a refused subscription, e.g.
 * a missing namespace or access key, or a refused cache file; it keeps retrying).
 */
export class Subscription extends EventEmitter {
  readonly namespaces: readonly string[];
  private readonly client: ConclaveClient;
  private readonly options: SubscribeOptions;
  private readonly cache: LastKnownGoodCache | undefined;
  private readonly onClose: () => void;
  private readonly stop = new AbortController();
  private readonly applied = new Map<string, Snapshot>();
  private readonly seen = new Map<string, number>();
  private readonly reports = new Map<string, Outcome>();
  /** The last outcome sent per namespace: re-sent with the evaluation counts since, while flags are evaluated. */
  private readonly lastSent = new Map<string, Outcome>();
  private readonly usage: FlagUsage | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private usageTimer: NodeJS.Timeout | undefined;
  private call: grpc.ClientReadableStream<WireRelease> | undefined;
  private queue: Promise<void> = Promise.resolve();
  private origin: Source | undefined;
  private triedCache = false;
  private resolveReady!: () => void;
  private rejectReady!: (error: Error) => void;
  private connectedTo: string | undefined;
  /**
   * Resolves once the subscription has values to offer: connected to a member, or started from the cache. Rejects
   * if the subscription is closed before that.
   */
  readonly ready: Promise<void>;
  /** The last failure, cleared on connect. */
  lastError: Error | undefined;

  /** @internal */
  constructor(
    client: ConclaveClient,
    namespaces: string[],
    options: SubscribeOptions,
    cache: LastKnownGoodCache | undefined,
    onClose: () => void,
    usage?: FlagUsage,
  ) {
    super();
    this.usage = usage;
    this.client = client;
    this.namespaces = namespaces;
    this.options = options;
    this.cache = cache;
    this.onClose = onClose;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Rejected only when closed first; nobody has to await it.
    this.ready.catch(() => undefined);
  }

  /** Whether a member's stream is open now. */
  get connected(): boolean {
    return this.connectedTo !== undefined;
  }

  /** The endpoint whose stream is open, if any. */
  get endpoint(): string | undefined {
    return this.connectedTo;
  }

  /** Where the values came from: `cache` until a member confirmed or replaced them; undefined before any value. */
  get source(): Source | undefined {
    return this.origin;
  }

  /** The applied snapshot of a namespace. */
  get(namespace: string): Snapshot | undefined {
    return this.applied.get(namespace);
  }

  /** Every applied snapshot, in the subscription's namespace order. */
  snapshots(): Snapshot[] {
    return this.namespaces.flatMap((n) => this.applied.get(n) ?? []);
  }

  /** Ends the subscription (the stream, retries and unsent reports). */
  close(): void {
    if (this.stop.signal.aborted) {
      return;
    }
    this.stop.abort();
    this.rejectReady(new ConclaveError('the subscription was closed before it connected or started from the cache'));
    this.call?.cancel();
    clearTimeout(this.reportTimer);
    clearInterval(this.usageTimer);
    this.onClose();
  }

  /** @internal */
  start(): void {
    const { reportDelivery, flagUsageReportIntervalMs } = this.client.settings;
    if (this.usage !== undefined && reportDelivery && flagUsageReportIntervalMs > 0) {
      // setInterval takes at most 2^31 - 1 ms (a longer delay would fire every millisecond).
      this.usageTimer = setInterval(() => this.reportUsage(), Math.min(flagUsageReportIntervalMs, 2 ** 31 - 1));
      // The stream keeps the process alive while the subscription is open; this timer alone must not.
      this.usageTimer.unref();
    }
    void this.run().catch((e) => this.fail(e as Error));
  }

  private async run(): Promise<void> {
    const endpoints = this.client.endpointSet;
    const { retryBaseDelayMs, retryMaxDelayMs } = this.client.settings;
    let failures = 0;
    while (!this.stop.signal.aborted) {
      const endpoint = endpoints.current;
      let reason: string;
      try {
        // The server sends nothing until there is something to send; a Fetch first proves the member is there
        // (and that the app, namespaces and access key are accepted).
        await this.client.callOn(endpoint, 'Fetch', this.client.fetchRequest(this.namespaces));
        reason = await this.stream(endpoint);
        failures = 0;
      } catch (e) {
        const error = e as grpc.ServiceError;
        if (this.stop.signal.aborted) {
          return;
        }
        if (error.code === grpc.status.NOT_FOUND && error.metadata?.get('conclave-code')[0]?.toString() === 'NoRelease') {
          // Nothing released yet in a namespace: the member is there, subscribe anyway.
          reason = await this.stream(endpoint);
          failures = 0;
        } else {
          const refusal = typeof error.code === 'number' && !isTransient(error);
          reason = `${endpoint.url}: ${error.details || error.message}`;
          this.lastError = typeof error.code === 'number' ? toError(error, endpoint) : error;
          if (refusal) {
            this.fail(this.lastError);
          }
        }
      }
      if (this.stop.signal.aborted) {
        return;
      }
      if (this.connectedTo !== undefined) {
        this.connectedTo = undefined;
        this.emit('disconnected', reason);
      }
      endpoints.failed(endpoint);
      failures++;
      if (this.origin === undefined && !this.triedCache && failures >= endpoints.all.length) {
        await this.startFromCache(reason);
      }
      await delay(backoff(failures, retryBaseDelayMs, retryMaxDelayMs), this.stop.signal);
    }
  }

  /** Runs one stream to its end; returns why it ended. */
  private stream(endpoint: Endpoint): Promise<string> {
    return new Promise<string>((resolve) => {
      const lastSeen: Record<string, number> = {};
      for (const [ns, id] of this.seen) {
        lastSeen[ns] = id;
      }
      const call = endpoint.service['Subscribe']!(
        { app: this.client.app, env: this.client.env, namespaces: this.namespaces, instance: this.client.identity(), last_seen: lastSeen },
        this.client.metadata(),
      ) as grpc.ClientReadableStream<WireRelease>;
      this.call = call;
      this.connectedTo = endpoint.url;
      this.lastError = undefined;
      const confirmCache = this.origin === 'cache';
      if (confirmCache) {
        // The server sends at once every namespace whose release differs from ours, so the cached values are the
        // service's until it says otherwise.
        this.origin = 'server';
        for (const snapshot of this.applied.values()) {
          this.enqueueReport(snapshot.release, 'applied');
        }
      }
      this.emit('connected', endpoint.url);
      this.resolveReady();
      call.on('data', (wire: WireRelease) => {
        const release = fromWire(wire);
        this.seen.set(release.namespace, release.releaseId);
        this.queue = this.queue.then(() => this.apply(release)).catch((e) => this.fail(e as Error));
      });
      let ended = false;
      const end = (why: string) => {
        if (!ended) {
          ended = true;
          this.call = undefined;
          resolve(why);
        }
      };
      call.on('error', (e: grpc.ServiceError) => {
        if (typeof e.code === 'number' && !isTransient(e)) {
          this.lastError = toError(e, endpoint);
          this.fail(this.lastError);
        } else {
          this.lastError = e;
        }
        end(`${endpoint.url}: ${e.details || e.message}`);
      });
      call.on('end', () => end(`${endpoint.url} ended the stream`));
    });
  }

  private async startFromCache(reason: string): Promise<void> {
    this.triedCache = true;
    if (this.cache === undefined) {
      return;
    }
    let contents;
    try {
      contents = await this.cache.load();
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    if (contents === null || this.origin !== undefined || this.stop.signal.aborted) {
      return;
    }
    const releases = contents.releases.filter((r) => this.namespaces.includes(r.namespace));
    this.origin = 'cache';
    for (const release of releases) {
      this.seen.set(release.namespace, release.releaseId);
      this.applied.set(release.namespace, snapshotOf(release, 'cache'));
    }
    this.emit('cache', { path: this.cache.path, savedAt: contents.savedAt, reason } satisfies CacheStartEvent);
    for (const release of releases) {
      this.emitChange(null, {}, snapshotOf(release, 'cache'));
    }
    this.resolveReady();
  }

  private async apply(release: Release): Promise<void> {
    if (this.stop.signal.aborted) {
      return;
    }
    const current = this.applied.get(release.namespace);
    if (current && current.releaseId === release.releaseId && current.release.contentHash === release.contentHash) {
      return;
    }
    let snapshot: Snapshot | undefined;
    let rejection: string | undefined;
    try {
      snapshot = snapshotOf(release, 'server');
    } catch (e) {
      rejection = (e as Error).message;
    }
    if (snapshot !== undefined && this.options.validate) {
      try {
        rejection = this.options.validate(release, snapshot.items) || undefined;
      } catch (e) {
        rejection = `the validator threw ${(e as Error)?.name ?? 'an error'}: ${(e as Error)?.message ?? String(e)}`;
      }
    }
    if (rejection !== undefined || snapshot === undefined) {
      rejection ??= 'rejected';
      this.enqueueReport(release, 'rejected', rejection);
      this.emit('rejected', { release, reason: rejection });
      return;
    }
    this.applied.set(release.namespace, snapshot);
    this.origin = 'server';
    this.emitChange(current?.releaseId ?? null, current?.items ?? {}, snapshot);
    if (this.cache !== undefined) {
      const releases = this.namespaces.flatMap((n) => this.applied.get(n)?.release ?? []);
      await this.cache.save(releases).catch((e) => this.fail(new ConclaveError(`could not write the cache ${this.cache!.path}: ${(e as Error).message}`)));
    }
    this.enqueueReport(release, 'applied');
  }

  private emitChange(previousReleaseId: number | null, before: Readonly<Record<string, string | null>>, snapshot: Snapshot): void {
    const changes = diff(before, snapshot.items);
    const event: ChangeEvent = {
      namespace: snapshot.namespace,
      previousReleaseId,
      snapshot,
      changes,
      added: changes.filter((c) => c.type === 'added').map((c) => c.key),
      changed: changes.filter((c) => c.type === 'changed').map((c) => c.key),
      removed: changes.filter((c) => c.type === 'removed').map((c) => c.key),
    };
    try {
      this.emit('change', event);
    } catch (e) {
      this.fail(new ConclaveError(`a change handler threw: ${(e as Error)?.message ?? String(e)}`, { cause: e }));
    }
  }

  /**
   * Queues a delivery report as the .NET provider does: only the newest outcome per namespace is kept, and it is sent
   * after a random part of `reportSpreadMs` so a fleet applying the same release does not report at once. Best effort:
   * a failed report is corrected by the next one.
   */
  private enqueueReport(release: Release, status: DeliveryStatus, reason?: string): void {
    const { reportDelivery, reportSpreadMs } = this.client.settings;
    if (!reportDelivery || this.stop.signal.aborted) {
      return;
    }
    this.reports.set(release.namespace, { release, status, reason });
    if (this.reportTimer === undefined) {
      this.reportTimer = setTimeout(() => void this.sendReports(), Math.random() * reportSpreadMs);
    }
  }

  /**
   * While flags are evaluated: the last outcome of each namespace owning flags is queued again (unless a newer one
   * waits), so its report carries the evaluation counts since the previous one (as the .NET provider does every
   * FlagUsageReportInterval).
   */
  private reportUsage(): void {
    const usage = this.usage;
    if (usage === undefined || this.stop.signal.aborted || !usage.hasRecent()) {
      return;
    }
    let queued = false;
    for (const [namespace, outcome] of this.lastSent) {
      if (usage.owns(namespace) && !this.reports.has(namespace)) {
        this.reports.set(namespace, outcome);
        queued = true;
      }
    }
    if (queued && this.reportTimer === undefined) {
      this.reportTimer = setTimeout(() => void this.sendReports(), Math.random() * this.client.settings.reportSpreadMs);
    }
  }

  private async sendReports(): Promise<void> {
    const batch = [...this.reports.values()];
    this.reports.clear();
    for (const outcome of batch) {
      if (this.stop.signal.aborted) {
        break;
      }
      const { release, status, reason } = outcome;
      this.lastSent.set(release.namespace, outcome);
      // A flags namespace's report carries the counts of the flags it owns; a failed report keeps them for the next.
      const counts = this.usage !== undefined && release.format.toLowerCase() === 'flags' ? this.usage.harvest(release.namespace) : null;
      try {
        await this.client.sendReport(release.namespace, release.releaseId, status, reason, counts ?? []);
      } catch {
        // Best effort: the next report, or the record's lease running out, corrects it.
        if (counts !== null) {
          this.usage!.restore(counts);
        }
      }
    }
    this.reportTimer = undefined;
    if (this.reports.size > 0 && !this.stop.signal.aborted) {
      this.reportTimer = setTimeout(() => void this.sendReports(), Math.random() * this.client.settings.reportSpreadMs);
    }
  }

  private fail(error: Error): void {
    this.lastError = error;
    if (this.listenerCount('failure') > 0) {
      this.emit('failure', error);
    }
  }
}
