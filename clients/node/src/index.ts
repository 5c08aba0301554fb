export { ConclaveClient, Subscription, ACCESS_KEY_ENVIRONMENT_VARIABLE, INSTANCE_ID_ENVIRONMENT_VARIABLE } from './client.js';
export type { CacheStartEvent } from './client.js';
export { LastKnownGoodCache, CACHE_KEY_ENVIRONMENT_VARIABLE } from './cache.js';
export type { CacheContents } from './cache.js';
export { ConclaveError, ConclaveUnavailableError, ConclaveNotFoundError, ConclaveAccessError, ConclaveCacheError } from './errors.js';
export type {
  Release,
  Snapshot,
  Source,
  KeyChange,
  ChangeEvent,
  TlsOptions,
  DeliveryStatus,
  ConclaveClientOptions,
  SubscribeOptions,
} from './types.js';
export { FlagSet, FlagDocumentError, FLAG_LIMITS, flagBucket, changedFlags } from './flags.js';
export type { FlagType, FlagReason, FlagErrorCode, FlagJsonValue, FlagContext, FlagEvaluation, FlagDefinition } from './flags.js';
export { ConclaveFlags } from './live-flags.js';
export type { FlagsChangeEvent } from './live-flags.js';
export type { FlagEvaluationCount } from './flag-usage.js';
