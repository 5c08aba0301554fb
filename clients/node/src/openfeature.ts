// The OpenFeature provider (@openfeature/server-sdk), imported as `@conclave/client/openfeature`: a separate entry
// point, so that the SDK stays an optional peer dependency of the client.
import { ErrorCode, OpenFeatureEventEmitter, ProviderEvents } from '@openfeature/server-sdk';
import type { EvaluationContext, JsonValue, Provider, ResolutionDetails } from '@openfeature/server-sdk';
import { ConclaveClient } from './client.js';
import { ConclaveError } from './errors.js';
import type { FlagContext, FlagEvaluation } from './flags.js';
import { ConclaveFlags } from './live-flags.js';
import type { FlagsChangeEvent } from './live-flags.js';

export interface ConclaveProviderOptions {
  /**
   * How long `initialize` waits for every namespace's flags document before it fails (the provider is then in error,
   * and becomes usable when the documents arrive). Default 10000 ms.
   */
  readonly readyTimeoutMs?: number;
}

/**
 * An OpenFeature server provider over Conclave's live flags. Give it a client and the `flags` namespaces (it opens and
 * closes the subscription itself), or live flags you manage ({@link ConclaveClient.flags}).
 *
 * The OpenFeature context maps to Conclave's: `targetingKey` to the targeting key, a `groups` attribute (strings) to
 * groups, every other string attribute to an attribute; the instance id and labels come from the client. A release
 * that changes flags emits `PROVIDER_CONFIGURATION_CHANGED` with `flagsChanged`.
 */
export class ConclaveProvider implements Provider {
  readonly metadata = { name: 'Conclave' } as const;
  readonly runsOn = 'server' as const;
  readonly events = new OpenFeatureEventEmitter();
  private readonly client: ConclaveClient | undefined;
  private readonly namespaces: readonly string[] | undefined;
  private readonly options: ConclaveProviderOptions;
  private flags: ConclaveFlags | undefined;
  private readonly onChange = (event: FlagsChangeEvent) => {
    if (event.flagsChanged.length > 0) {
      this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: [...event.flagsChanged] });
    }
  };

  constructor(flags: ConclaveFlags, options?: ConclaveProviderOptions);
  constructor(client: ConclaveClient, namespaces: readonly string[], options?: ConclaveProviderOptions);
  constructor(source: ConclaveClient | ConclaveFlags, namespacesOrOptions?: readonly string[] | ConclaveProviderOptions, options?: ConclaveProviderOptions) {
    if (source instanceof ConclaveFlags) {
      this.flags = source;
      this.options = (namespacesOrOptions as ConclaveProviderOptions | undefined) ?? {};
    } else if (source instanceof ConclaveClient && Array.isArray(namespacesOrOptions)) {
      this.client = source;
      this.namespaces = [...namespacesOrOptions];
      this.options = options ?? {};
    } else {
      throw new Error('ConclaveProvider: give live flags (client.flags([...])) or a ConclaveClient and the flags namespaces');
    }
  }

  /** Opens the subscription (when given a client) and waits until every namespace has its flags. */
  async initialize(): Promise<void> {
    if (this.flags === undefined) {
      this.flags = this.client!.flags(this.namespaces!);
    }
    this.flags.off('change', this.onChange);
    this.flags.on('change', this.onChange);
    const timeoutMs = this.options.readyTimeoutMs ?? 10000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const why = this.flags?.subscription.lastError?.message;
        reject(new ConclaveError(`the flags of ${this.flags!.namespaces.join(', ')} did not arrive within ${timeoutMs} ms${why ? ` (${why})` : ''}`));
      }, timeoutMs);
    });
    try {
      await Promise.race([this.flags.ready, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops listening; closes the subscription when this provider opened it. */
  async onClose(): Promise<void> {
    this.flags?.off('change', this.onChange);
    if (this.client !== undefined) {
      this.flags?.close();
      this.flags = undefined;
    }
  }

  resolveBooleanEvaluation(flagKey: string, defaultValue: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>> {
    return Promise.resolve(this.resolve(defaultValue, (flags) => flags.getBoolean(flagKey, defaultValue, toFlagContext(context))));
  }

  resolveStringEvaluation(flagKey: string, defaultValue: string, context: EvaluationContext): Promise<ResolutionDetails<string>> {
    return Promise.resolve(this.resolve(defaultValue, (flags) => flags.getString(flagKey, defaultValue, toFlagContext(context))));
  }

  resolveNumberEvaluation(flagKey: string, defaultValue: number, context: EvaluationContext): Promise<ResolutionDetails<number>> {
    return Promise.resolve(this.resolve(defaultValue, (flags) => flags.getNumber(flagKey, defaultValue, toFlagContext(context))));
  }

  /** A `json` flag's value, of any JSON shape. */
  resolveObjectEvaluation<T extends JsonValue>(flagKey: string, defaultValue: T, context: EvaluationContext): Promise<ResolutionDetails<T>> {
    return Promise.resolve(
      this.resolve(defaultValue, (flags) => flags.getObject(flagKey, defaultValue as never, toFlagContext(context)) as unknown as FlagEvaluation<T>),
    );
  }

  private resolve<T>(defaultValue: T, evaluate: (flags: ConclaveFlags) => FlagEvaluation<T>): ResolutionDetails<T> {
    if (this.flags === undefined) {
      return { value: defaultValue, reason: 'ERROR', errorCode: ErrorCode.PROVIDER_NOT_READY, errorMessage: 'the provider is not initialized' };
    }
    const r = evaluate(this.flags);
    if (r.errorCode !== null) {
      return { value: r.value, reason: r.reason, errorCode: r.errorCode as ErrorCode, errorMessage: r.errorMessage ?? undefined };
    }
    return { value: r.value, variant: r.variant ?? undefined, reason: r.reason };
  }
}

/** OpenFeature's context as Conclave's: targetingKey, `groups` (strings), and the other string attributes. */
export function toFlagContext(context: EvaluationContext | undefined): FlagContext {
  if (context === undefined) {
    return {};
  }
  let groups: string[] | undefined;
  const attributes: Record<string, string> = {};
  for (const name of Object.keys(context)) {
    const value = context[name];
    if (name === 'targetingKey') {
      continue;
    }
    if (name === 'groups') {
      groups = Array.isArray(value) ? value.filter((g): g is string => typeof g === 'string') : undefined;
    } else if (typeof value === 'string') {
      attributes[name] = value;
    }
  }
  return {
    ...(typeof context.targetingKey === 'string' ? { targetingKey: context.targetingKey } : {}),
    ...(groups !== undefined ? { groups } : {}),
    attributes,
  };
}
