/** A release of one namespace as the configuration center delivers it to this instance. */
export interface Release {
  readonly app: string;
  readonly env: string;
  readonly namespace: string;
  /** Release id, growing by one per namespace (a rollback is a new release). */
  readonly releaseId: number;
  /** `properties`, `json`, `yaml` or `text`. */
  readonly format: string;
  /** The released document (for properties, the items as text). */
  readonly content: string;
  /** For properties: the key/value items as released; empty for the other formats. */
  readonly configurations: Readonly<Record<string, string>>;
  /** SHA-256 (hex) of `content`. */
  readonly contentHash: string;
  /** Whether this is a gray release chosen for this instance by the gray rule. */
  readonly gray: boolean;
  readonly title: string;
  readonly author: string;
  readonly createdAt: Date;
}

/** Where a snapshot's values came from. */
export type Source = 'server' | 'cache';

/** The configuration of one namespace at one release. */
export interface Snapshot {
  readonly namespace: string;
  /** The release id (the namespace's version). */
  readonly releaseId: number;
  /**
   * The namespace's keys: properties as released (`db.url`); json flattened with `.` between object members and array
   * indexes (`db.hosts.0`), a JSON null as `null`; yaml and text: one key, the namespace name, holding the document.
   */
  readonly items: Readonly<Record<string, string | null>>;
  /** The release itself (document, hash, gray flag, title, author, time). */
  readonly release: Release;
  /** `cache` when no member could be reached and the encrypted last-known-good cache supplied it. */
  readonly source: Source;
}

/** One key's change between two releases of a namespace. */
export type KeyChange =
  | { readonly type: 'added'; readonly key: string; readonly newValue: string | null }
  | { readonly type: 'changed'; readonly key: string; readonly oldValue: string | null; readonly newValue: string | null }
  | { readonly type: 'removed'; readonly key: string; readonly oldValue: string | null };

/** A namespace's new release applied by a subscription. */
export interface ChangeEvent {
  readonly namespace: string;
  /** The release id before, or null when this is the namespace's first value in this subscription. */
  readonly previousReleaseId: number | null;
  readonly snapshot: Snapshot;
  /** Added, changed and removed keys, sorted by key. */
  readonly changes: readonly KeyChange[];
  /** Convenience views of `changes`. */
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
}

/** TLS towards the members (PEM text or Buffers). Endpoints written `https://` use TLS with the system roots when this is absent. */
export interface TlsOptions {
  /** CA certificate(s) that signed the members' certificates. */
  readonly ca?: string | Buffer;
  /** Client certificate, for members that require one. */
  readonly cert?: string | Buffer;
  /** The client certificate's private key. */
  readonly key?: string | Buffer;
}

/** Delivery status sent with a report (`conclave.config.v1.DeliveryStatus`). */
export type DeliveryStatus = 'applied' | 'rejected' | 'unhealthy';

export interface ConclaveClientOptions {
  /** Member client URLs, e.g. `http://10.0.0.1:2379`; tried in order, the next one when a member fails. */
  readonly endpoints: readonly string[];
  /** App id, e.g. `shop`. */
  readonly app: string;
  /** Environment, e.g. `PRO`. */
  readonly env: string;
  /**
   * App credential `{id}.{secret}` (`conclave config credentials create`), sent as `conclave-access-key`. Default: the
   * `CONCLAVE_ACCESS_KEY` environment variable.
   */
  readonly accessKey?: string;
  /** TLS settings; implied for `https://` endpoints. */
  readonly tls?: TlsOptions;
  /** Stable id of this instance (gray rules hash it). Default: `CONCLAVE_INSTANCE_ID`, `HOSTNAME`, then the host name. */
  readonly instanceId?: string;
  /** Labels matched by label gray rules, e.g. `{ zone: 'eu1' }`. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Directory of the last-known-good cache files. Default: `conclave/cache` under the user's local data folder. */
  readonly cacheDir?: string;
  /**
   * AES-256-GCM key of the cache: 32 random bytes in base64 (`openssl rand -base64 32`). Default: the
   * `CONCLAVE_CACHE_KEY` environment variable. Without a key the cache is off: nothing is written in plain text.
   */
  readonly cacheKey?: string;
  /** Deadline of one call to one member, in ms. Default 5000. */
  readonly callTimeoutMs?: number;
  /** First delay before reconnecting a subscription, doubling per failure with jitter. Default 200 ms. */
  readonly retryBaseDelayMs?: number;
  /** Longest delay between reconnect attempts. Default 30000 ms. */
  readonly retryMaxDelayMs?: number;
  /** Whether subscriptions report applied and rejected releases to the center's delivery tracking. Default true. */
  readonly reportDelivery?: boolean;
  /** Each report waits a random part of this many ms, so a fleet does not report all at once. Default 1000. */
  readonly reportSpreadMs?: number;
  /**
   * Live flags ({@link ConclaveClient.flags}, the OpenFeature provider) count their evaluations per flag and variant;
   * a delivery report of a flags namespace carries the counts of the flags it owns (evaluation insight,
   * docs/feature-flags.md). While flags are evaluated, the namespace's last outcome is reported again every this many
   * ms with the counts since. 0: counts go only with the reports of new releases. Default 300000 (5 minutes).
   * Nothing is sent when `reportDelivery` is false.
   */
  readonly flagUsageReportIntervalMs?: number;
}

export interface SubscribeOptions {
  /**
   * Checks a release before it is applied: return a reason (string) to reject it. A rejected release is not applied,
   * is reported `rejected` with the reason, and the previous values stay.
   */
  readonly validate?: (release: Release, items: Readonly<Record<string, string | null>>) => string | undefined | void;
}
