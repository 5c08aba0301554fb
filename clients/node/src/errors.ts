/** Base class of every error this package throws. */
export class ConclaveError extends Error {
  /** The gRPC status code when the error came from a member (e.g. 5 NOT_FOUND, 7 PERMISSION_DENIED). */
  readonly grpcCode: number | undefined;
  /** The member's `conclave-code` trailer (e.g. `NoRelease`, `NotFound`), when it sent one. */
  readonly conclaveCode: string | undefined;
  /** The endpoint that answered, when one did. */
  readonly endpoint: string | undefined;

  constructor(message: string, options?: { grpcCode?: number; conclaveCode?: string; endpoint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.grpcCode = options?.grpcCode;
    this.conclaveCode = options?.conclaveCode;
    this.endpoint = options?.endpoint;
  }
}

/** No endpoint answered (every member down or unreachable), and no usable last-known-good cache was there. */
export class ConclaveUnavailableError extends ConclaveError {}

/** The app, environment or namespace does not exist, or (`noRelease`) the namespace has nothing released yet. */
export class ConclaveNotFoundError extends ConclaveError {
  get noRelease(): boolean {
    return this.conclaveCode === 'NoRelease';
  }
}

/** The access key is missing, unknown or revoked (UNAUTHENTICATED), or belongs to another app (PERMISSION_DENIED). */
export class ConclaveAccessError extends ConclaveError {}

/**
 * The last-known-good cache file exists but must not be used: not a cache file, an unknown format version, or failed
 * authentication (changed or truncated, another key, or written for another app/environment/namespace list).
 */
export class ConclaveCacheError extends ConclaveError {
  /** The cache file. */
  readonly path: string;

  constructor(path: string, reason: string) {
    super(`the Conclave cache file ${path} is refused: ${reason}`);
    this.path = path;
  }
}
