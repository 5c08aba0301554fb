import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConclaveAccessError, ConclaveError, ConclaveNotFoundError, ConclaveUnavailableError } from './errors.js';
import type { TlsOptions } from './types.js';

/** The generated service client of `conclave.config.v1.ConfigService` (loaded from the .proto shipped in dist/protos). */
type ServiceClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;
type ServiceClientConstructor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) => ServiceClient;

let serviceConstructor: ServiceClientConstructor | undefined;

function configService(): ServiceClientConstructor {
  if (serviceConstructor === undefined) {
    const proto = join(dirname(fileURLToPath(import.meta.url)), 'protos', 'conclave', 'config', 'v1', 'config.proto');
    const definition = protoLoader.loadSync(proto, { keepCase: true, longs: Number, enums: String, defaults: true });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      conclave: { config: { v1: { ConfigService: ServiceClientConstructor } } };
    };
    serviceConstructor = loaded.conclave.config.v1.ConfigService;
  }
  return serviceConstructor;
}

/** One member: its URL as given, and a channel opened on first use. */
export class Endpoint {
  readonly url: string;
  private readonly target: string;
  private readonly credentials: grpc.ChannelCredentials;
  private client: ServiceClient | undefined;

  constructor(url: string, tls: TlsOptions | undefined) {
    this.url = url;
    let secure = tls !== undefined;
    let target = url.trim();
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(target);
    if (scheme) {
      const name = scheme[1]!.toLowerCase();
      if (name !== 'http' && name !== 'https') {
        throw new Error(`endpoint ${url}: only http:// and https:// URLs (or host:port) are supported`);
      }
      secure ||= name === 'https';
      const parsed = new URL(target);
      if (!parsed.port) {
        throw new Error(`endpoint ${url}: name the port, e.g. http://127.0.0.1:2379`);
      }
      target = parsed.host;
    } else if (!/^[^/\s]+:\d+$/.test(target)) {
      throw new Error(`endpoint ${url}: expected http://host:port, https://host:port or host:port`);
    }
    this.target = target;
    this.credentials = secure
      ? grpc.credentials.createSsl(pem(tls?.ca), pem(tls?.key), pem(tls?.cert))
      : grpc.credentials.createInsecure();
  }

  get service(): ServiceClient {
    this.client ??= new (configService())(this.target, this.credentials, {
      // Reconnect quickly after a member restarts; the caller's back-off paces attempts.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2000,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
    return this.client;
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }
}

function pem(value: string | Buffer | undefined): Buffer | null {
  return value === undefined ? null : Buffer.isBuffer(value) ? value : Buffer.from(value);
}

/**
 * The endpoints in order with one current: calls go to the current one, and a failure moves on to the next, so a
 * dead member costs one failed attempt, not one per call. The first current one is picked by the instance id's hash,
 * so instances spread over the members and only a dead member's instances move.
 */
export class Endpoints {
  readonly all: readonly Endpoint[];
  private index = 0;

  /** `spreadBy` (the instance id) picks the first endpoint, so a fleet's instances spread over the members. */
  constructor(urls: readonly string[], tls: TlsOptions | undefined, spreadBy: string) {
    if (!Array.isArray(urls) || urls.length === 0) {
      throw new Error('ConclaveClient: endpoints must name at least one member, e.g. ["http://127.0.0.1:2379"]');
    }
    this.all = urls.map((u) => new Endpoint(u, tls));
    this.index = createHash('sha256').update(spreadBy, 'utf8').digest().readUInt32BE(0) % this.all.length;
  }

  get current(): Endpoint {
    return this.all[this.index % this.all.length]!;
  }

  /** The endpoint failed: the next call goes to the next one (unless another failure moved on already). */
  failed(endpoint: Endpoint): void {
    if (this.current === endpoint) {
      this.index = (this.index + 1) % this.all.length;
    }
  }

  close(): void {
    for (const e of this.all) {
      e.close();
    }
  }
}

/** Whether a failed call may succeed on another member or later: the member is gone, stopping or has no leader. */
export function isTransient(error: grpc.ServiceError): boolean {
  switch (error.code) {
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
    case grpc.status.CANCELLED:
    case grpc.status.INTERNAL:
    case grpc.status.UNKNOWN:
      return true;
    default:
      return /no leader|not leader|leader changed/i.test(error.details ?? '');
  }
}

/** The member's refusal as this package's error; `conclave-code` tells NoRelease from a missing app or namespace. */
export function toError(error: grpc.ServiceError, endpoint: Endpoint): ConclaveError {
  const conclaveCode = error.metadata?.get('conclave-code')[0]?.toString();
  const options = { grpcCode: error.code, conclaveCode, endpoint: endpoint.url, cause: error };
  const detail = error.details || error.message;
  switch (error.code) {
    case grpc.status.NOT_FOUND:
      return new ConclaveNotFoundError(detail, options);
    case grpc.status.UNAUTHENTICATED:
    case grpc.status.PERMISSION_DENIED:
      return new ConclaveAccessError(`${detail} (check the app credential: option accessKey or CONCLAVE_ACCESS_KEY)`, options);
    default:
      return isTransient(error)
        ? new ConclaveUnavailableError(`${endpoint.url}: ${detail}`, options)
        : new ConclaveError(`${endpoint.url}: ${detail}`, options);
  }
}

/** `base * 2^(failures-1)` capped at `max`, with ±25% jitter so a fleet does not reconnect in step. */
export function backoff(failures: number, baseMs: number, maxMs: number): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.max(1, Math.round(exponential * (0.75 + Math.random() * 0.5)));
}
