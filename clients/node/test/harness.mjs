// Real Conclave members for the client's tests: `conclave serve` processes from CONCLAVE_SERVER_BINARY (the native
// build ./conclave publishes; test.sh sets it) or CONCLAVE_SERVER_DLL run with dotnet, on free loopback ports with
// temporary data directories. Every process started here is killed by PID in stopAll() (the test files' after hooks)
// and, as a last resort, when this process exits.
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const started = new Set();
process.on('exit', () => {
  for (const member of started) {
    member.killNow();
  }
});

/** How a member is launched: [program, ...leading args]. */
function serverCommand() {
  const binary = process.env.CONCLAVE_SERVER_BINARY;
  if (binary) {
    return [binary];
  }
  const dll = process.env.CONCLAVE_SERVER_DLL;
  if (dll) {
    return [process.env.DOTNET_HOST_PATH || 'dotnet', dll];
  }
  throw new Error(
    'set CONCLAVE_SERVER_BINARY to the conclave binary (CONCLAVE_BUILD=aot ./conclave --version publishes artifacts/conclave/conclave) to run these tests',
  );
}

/** Free loopback ports (the OS picks them; a lost race is retried by Member.start). */
export async function freePorts(count) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
      servers.push(server);
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** Polls `condition` until it returns a truthy value or the deadline passes; the only way these tests wait. */
export async function eventually(condition, description, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await condition();
      if (value) {
        return value;
      }
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${last ? ` (last error: ${last.message})` : ''}`);
}

export class Member {
  /** `tls`: { ca, memberCert, memberKey, clientCert, clientKey } file paths; every listener then runs TLS with client certificates required. */
  constructor(name, root, ports, extraArgs = [], tls = undefined) {
    this.name = name;
    this.dataDir = join(root, name);
    this.ports = ports;
    this.tls = tls;
    const scheme = tls ? 'https' : 'http';
    this.extraArgs = tls
      ? [...extraArgs, '--cert-file', tls.memberCert, '--key-file', tls.memberKey, '--trusted-ca-file', tls.ca, '--client-cert-auth',
        '--peer-cert-file', tls.memberCert, '--peer-key-file', tls.memberKey, '--peer-trusted-ca-file', tls.ca, '--peer-client-cert-auth']
      : extraArgs;
    this.endpoint = `${scheme}://127.0.0.1:${ports[0]}`;
    this.httpUrl = `${scheme}://127.0.0.1:${ports[1]}`;
    this.peerUrl = `${scheme}://127.0.0.1:${ports[2]}`;
    this.process = undefined;
  }

  /** The client's TLS material as PEM text (for ConclaveClient's `tls` and HTTP requests). */
  clientTls() {
    return this.tls && {
      ca: readFileSync(this.tls.ca, 'utf8'),
      cert: readFileSync(this.tls.clientCert, 'utf8'),
      key: readFileSync(this.tls.clientKey, 'utf8'),
    };
  }

  get logPath() {
    return join(this.dataDir, 'conclave-process.log');
  }

  /** Starts the process (without waiting for health: a cluster member is healthy only once a quorum is up). */
  launch() {
    const [program, ...lead] = serverCommand();
    const args = [
      ...lead,
      'serve',
      '--name', this.name,
      '--data-dir', this.dataDir,
      '--listen-client-urls', this.endpoint,
      '--listen-http-urls', this.httpUrl,
      '--listen-peer-urls', this.peerUrl,
      ...this.extraArgs,
    ];
    const env = { ...process.env, DOTNET_NOLOGO: '1' };
    for (const name of ['ASPNETCORE_URLS', 'DOTNET_URLS', 'ASPNETCORE_HTTP_PORTS', 'ASPNETCORE_HTTPS_PORTS', 'ASPNETCORE_ENVIRONMENT']) {
      delete env[name];
    }
    mkdirSync(this.dataDir, { recursive: true });
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const log = createWriteStream(this.logPath, { flags: 'a' });
    log.on('error', () => {}); // the data directory may be deleted while the last lines are written
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    this.process = child;
    started.add(this);
    return this;
  }

  get pid() {
    return this.process?.pid;
  }

  get running() {
    return this.process !== undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  async waitHealthy(timeoutMs = 60000) {
    await eventually(async () => {
      if (!this.running) {
        throw new Error(`${this.name} exited before it was healthy:\n${this.logTail()}`);
      }
      const response = await send('GET', `${this.httpUrl}/health`, undefined, this.clientTls(), 2000);
      return response.status === 200;
    }, `${this.name} to answer /health with 200`, timeoutMs).catch((e) => {
      throw new Error(`${e.message}\n--- ${this.logPath} ---\n${this.logTail()}`);
    });
  }

  logTail(lines = 40) {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** SIGKILL by PID, and wait until it is gone. */
  async kill() {
    if (this.running) {
      process.kill(this.process.pid, 'SIGKILL');
    }
    await this.process?.exited;
  }

  /** SIGTERM by PID (a clean stop), SIGKILL after 15 s. */
  async stop() {
    if (!this.running) {
      return;
    }
    process.kill(this.process.pid, 'SIGTERM');
    const timer = setTimeout(() => this.killNow(), 15000);
    await this.process.exited;
    clearTimeout(timer);
  }

  killNow() {
    if (this.running) {
      try {
        process.kill(this.process.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** One member on free ports (over TLS with `tls`); healthy when this resolves. */
export async function startMember(tls = undefined) {
  const root = mkdtempSync(join(tmpdir(), 'conclave-node-client-'));
  for (let attempt = 1; ; attempt++) {
    const member = new Member('m1', root, await freePorts(3), [], tls).launch();
    try {
      await member.waitHealthy();
      return Object.assign(member, { root });
    } catch (e) {
      await member.kill();
      if (attempt >= 3 || !/address already in use/i.test(member.logTail(200))) {
        throw e;
      }
    }
  }
}

/** `count` members bootstrapped together with --initial-cluster; every one healthy when this resolves. */
export async function startCluster(count) {
  const root = mkdtempSync(join(tmpdir(), 'conclave-node-cluster-'));
  const ports = await freePorts(count * 3);
  const names = Array.from({ length: count }, (_, i) => `m${i + 1}`);
  const initialCluster = names.map((n, i) => `${n}=http://127.0.0.1:${ports[i * 3 + 2]}`).join(',');
  const members = names.map(
    (n, i) => new Member(n, root, ports.slice(i * 3, i * 3 + 3), ['--initial-cluster', initialCluster, '--initial-cluster-state', 'new']),
  );
  members.forEach((m) => m.launch());
  await Promise.all(members.map((m) => m.waitHealthy()));
  return Object.assign(members, { root });
}

/** Kills every member this process started and deletes the data directories under `roots`. */
export async function stopAll(...roots) {
  await Promise.all([...started].map((m) => m.kill()));
  started.clear();
  for (const root of roots.filter(Boolean)) {
    rmSync(root, { recursive: true, force: true });
  }
}

/** One HTTP(S) request; `tls` ({ ca, cert, key } PEM) trusts that CA only and presents the client certificate. */
export function send(method, url, body, tls, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const options = {
      method,
      headers: { 'content-type': 'application/json', 'x-conclave-author': 'node-client-tests', ...(payload ? { 'content-length': payload.length } : {}) },
      timeout: timeoutMs,
      ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {}),
    };
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, options, (response) => {
      const chunks = [];
      response.on('data', (c) => chunks.push(c));
      response.on('end', () => resolve({ status: response.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The configuration center's JSON API (/api/v1) on one member, as an operator drives it. */
export class CenterApi {
  constructor(httpUrl, tls = undefined) {
    this.base = `${httpUrl}/api/v1`;
    this.tls = tls;
  }

  async call(method, path, body) {
    const response = await send(method, this.base + path, body, this.tls);
    if (response.status < 200 || response.status > 299) {
      throw new Error(`${method} ${path}: ${response.status} ${response.text}`);
    }
    return response.text ? JSON.parse(response.text) : undefined;
  }

  /** App, environment and a properties namespace with `items`, published as release 1. */
  async createApp(app, env, ns, items, format = 'properties') {
    await this.call('POST', '/apps', { id: app });
    await this.call('POST', `/apps/${app}/envs`, { name: env });
    await this.call('POST', `/apps/${app}/envs/${env}/namespaces`, { name: ns, format });
    if (items) {
      return this.publish(app, env, ns, items);
    }
  }

  /** Sets and deletes items (null deletes) and publishes; returns the release. */
  async publish(app, env, ns, items, title = 'test') {
    for (const [key, value] of Object.entries(items)) {
      const path = `/apps/${app}/envs/${env}/namespaces/${ns}/items/${encodeURIComponent(key)}`;
      if (value === null) {
        await this.call('DELETE', path);
      } else {
        await this.call('PUT', path, { value });
      }
    }
    return this.call('POST', `/apps/${app}/envs/${env}/namespaces/${ns}/releases`, { title });
  }

  instances(app, env, ns) {
    return this.call('GET', `/apps/${app}/envs/${env}/namespaces/${ns}/instances`);
  }
}
