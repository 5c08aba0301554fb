import { EventEmitter } from 'node:events';
import type { ConclaveClient, Subscription } from './client.js';
import { ConclaveError } from './errors.js';
import { FlagUsage } from './flag-usage.js';
import { changedFlags, FlagSet } from './flags.js';
import type { FlagContext, FlagEvaluation, FlagJsonValue } from './flags.js';
import type { ChangeEvent, Release } from './types.js';

/** A `change` of {@link ConclaveFlags}: a release of one of its namespaces changed these flags. */
export interface FlagsChangeEvent {
  /** The flags added, removed or redefined in the merged set, sorted. Empty only for the first value of a namespace. */
  readonly flagsChanged: readonly string[];
  readonly namespace: string;
  readonly releaseId: number;
}

/**
 * Live flags ({@link ConclaveClient.flags}): follows `flags` namespaces through a {@link Subscription} and evaluates
 * over the newest valid documents, merged in namespace order (a later namespace's flag replaces an earlier one of the
 * same name). A release whose document this client refuses (another format, or a document that does not parse) is
 * rejected through the subscription's validator: the previous flags stay, the center's delivery view shows the
 * rejection with its reason, and the `rejected` event says why.
 *
 * Evaluations fill the context's `instanceId` with the client's instance id and add the client's labels as
 * attributes (the context's own attributes win).
 *
 * Successful evaluations (typed reads, `evaluate`, reads of {@link set}, the OpenFeature provider's resolutions) are
 * counted per flag and variant and sent with the subscription's delivery reports of the namespace owning each flag
 * (evaluation insight, docs/feature-flags.md; option `flagUsageReportIntervalMs`).
 *
 * Events: `change` ({@link FlagsChangeEvent}), `rejected` ({ release, reason }), `failure` (Error), `connected`,
 * `disconnected` (as the subscription's).
 */
export class ConclaveFlags extends EventEmitter {
  readonly namespaces: readonly string[];
  readonly subscription: Subscription;
  /**
   * Resolves once every namespace has a valid flags document (a namespace with nothing released keeps it waiting);
   * rejects if closed before.
   */
  readonly ready: Promise<void>;
  private readonly instanceId: string;
  private readonly labels: Readonly<Record<string, string>>;
  private readonly hasLabels: boolean;
  private readonly baseContext: FlagContext;
  /** Documents parsed by the validator, so the change that follows does not parse again. */
  private readonly parsed = new WeakMap<Release, FlagSet>();
  private readonly sets = new Map<string, FlagSet>();
  private merged = FlagSet.empty;
  private readonly usage = new FlagUsage();
  private resolveReady!: () => void;
  private rejectReady!: (error: Error) => void;

  /** @internal Use {@link ConclaveClient.flags}. */
  constructor(client: ConclaveClient, namespaces: readonly string[]) {
    super();
    this.namespaces = [...namespaces];
    this.instanceId = client.instanceId;
    this.labels = Object.freeze({ ...client.instanceLabels });
    this.hasLabels = Object.keys(this.labels).length > 0;
    this.baseContext = Object.freeze({ instanceId: this.instanceId, attributes: this.labels });
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    this.subscription = client.subscribeWithFlagUsage(namespaces, (event) => this.apply(event), { validate: (release) => this.check(release) }, this.usage);
    this.subscription.on('rejected', (rejection) => this.forward('rejected', rejection));
    this.subscription.on('failure', (error) => this.forward('failure', error));
    this.subscription.on('connected', (url) => this.forward('connected', url));
    this.subscription.on('disconnected', (reason) => this.forward('disconnected', reason));
  }

  /** The merged flags now (immutable: hold on to it to evaluate several flags over one consistent set). */
  get set(): FlagSet {
    return this.merged;
  }

  /** Chooses a flag's variant for `context`; on error `value` is undefined. */
  evaluate(flag: string, context?: FlagContext): FlagEvaluation<FlagJsonValue | undefined> {
    return this.merged.evaluate(flag, this.context(context));
  }

  getBoolean(flag: string, defaultValue: boolean, context?: FlagContext): FlagEvaluation<boolean> {
    return this.merged.getBoolean(flag, defaultValue, this.context(context));
  }

  getString(flag: string, defaultValue: string, context?: FlagContext): FlagEvaluation<string> {
    return this.merged.getString(flag, defaultValue, this.context(context));
  }

  getNumber(flag: string, defaultValue: number, context?: FlagContext): FlagEvaluation<number> {
    return this.merged.getNumber(flag, defaultValue, this.context(context));
  }

  getInteger(flag: string, defaultValue: number, context?: FlagContext): FlagEvaluation<number> {
    return this.merged.getInteger(flag, defaultValue, this.context(context));
  }

  getObject<T extends FlagJsonValue = FlagJsonValue>(flag: string, defaultValue: T, context?: FlagContext): FlagEvaluation<T> {
    return this.merged.getObject(flag, defaultValue, this.context(context));
  }

  /** Ends the subscription. */
  close(): void {
    this.rejectReady(new ConclaveError('the flags were closed before every namespace had a flags document'));
    this.subscription.close();
  }

  /** The caller's context with this instance: its id (unless given) and its labels as attributes (unless given). */
  private context(context: FlagContext | undefined): FlagContext {
    if (context === undefined) {
      return this.baseContext;
    }
    const attributes = !this.hasLabels || context.attributes === undefined ? (context.attributes ?? this.labels) : { ...this.labels, ...context.attributes };
    return { ...context, instanceId: context.instanceId || this.instanceId, attributes };
  }

  /** The subscription's validator: a release is applied only if it is a flags document this client accepts. */
  private check(release: Release): string | undefined {
    if (release.format.toLowerCase() !== 'flags') {
      return `${release.namespace} is a ${release.format} namespace, not flags`;
    }
    try {
      this.parsed.set(release, FlagSet.parse(release.content));
      return undefined;
    } catch (e) {
      return `the flags document is refused: ${(e as Error).message}`;
    }
  }

  private apply(event: ChangeEvent): void {
    const release = event.snapshot.release;
    let set = this.parsed.get(release);
    if (set === undefined) {
      // A release from the last-known-good cache is applied without the validator: check it here.
      const reason = this.check(release);
      set = this.parsed.get(release);
      if (set === undefined) {
        this.forward('failure', new ConclaveError(`${release.namespace}#${release.releaseId}: ${reason}; the previous flags stay`));
        return;
      }
    }
    const first = !this.sets.has(event.namespace);
    this.sets.set(event.namespace, set);
    const before = this.merged;
    this.merged = FlagSet.merge(this.namespaces.flatMap((n) => this.sets.get(n) ?? []));
    this.usage.update(this.namespaces, this.sets, this.merged);
    const flagsChanged = changedFlags(before, this.merged);
    if (this.sets.size === this.namespaces.length) {
      this.resolveReady();
    }
    if (flagsChanged.length > 0 || first) {
      this.forward('change', { flagsChanged, namespace: event.namespace, releaseId: event.snapshot.releaseId } satisfies FlagsChangeEvent);
    }
  }

  /** Emits only to listeners there are (an `error`-like event without one must not throw). */
  private forward(name: string, value: unknown): void {
    if (this.listenerCount(name) > 0) {
      this.emit(name, value);
    }
  }
}
