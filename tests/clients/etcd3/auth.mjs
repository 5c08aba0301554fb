// Drives the npm `etcd3` package's auth flows against one etcd v3 endpoint, through the package's public API only:
// users and roles as root before auth is on, auth enable, then a user's client inside and outside its grant, watches,
// bad credentials, and the package's re-authentication when the member answers "etcdserver: invalid auth token".
//
//   node auth.mjs http://127.0.0.1:2379 [--with-ended-token-watch]
//
// The endpoint must be fresh (no users, auth disabled). Prints one JSON line per step; exits 1 at the first failed
// expectation (the last line says which and why), 2 on bad usage.
import { createRequire } from 'node:module';
import grpc from '@grpc/grpc-js';
import etcd3 from 'etcd3';

const {
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  EtcdRoleExistsError,
  EtcdUserExistsError,
  GRPCFailedPreconditionError,
  GRPCInvalidArgumentError,
} = etcd3;

const [endpoint] = process.argv.slice(2).filter(a => !a.startsWith('--'));
if (!endpoint) {
  console.error('usage: node auth.mjs <endpoint, e.g. http://127.0.0.1:2379> [--with-ended-token-watch]');
  process.exit(2);
}

// Each step has its own deadline: the package re-authenticates on an invalid token without a bound, and a watch
// reconnects forever, so a member that misbehaves would otherwise hang the run instead of failing it.
const stepTimeoutMs = Number(process.env.ETCD3_STEP_TIMEOUT_MS ?? 30000);
const rootPassword = 'rootpw';
const alicePassword = 'alicepw';
const packageVersion = createRequire(import.meta.url)('etcd3/package.json').version;

class Failure extends Error {}

function expect(condition, message) {
  if (!condition) {
    throw new Failure(message);
  }
}

function print(line) {
  process.stdout.write(JSON.stringify(line) + '\n');
}

/** Records every call's method and final status, so a step can show what the member answered on the wire. */
function recordingOptions(calls) {
  const interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            calls.push({ method: options.method_definition.path.split('/').pop(), code: grpc.status[status.code], details: status.details });
            nextStatus(status);
          },
        });
      },
    });
  return () => ({ interceptors: [interceptor] });
}

const clients = [];

/** A client of the package; `calls` lists the unary calls it made and what they ended with. */
function connect(auth) {
  const calls = [];
  const client = new Etcd3({ hosts: endpoint, auth, defaultCallOptions: recordingOptions(calls) });
  client.calls = calls;
  clients.push(client);
  return client;
}

function withDeadline(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Failure(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function step(name, body) {
  const started = Date.now();
  try {
    const detail = await withDeadline(Promise.resolve().then(body), stepTimeoutMs, `step ${name}`);
    print({ step: name, ok: true, ms: Date.now() - started, ...detail });
  } catch (e) {
    const error = e instanceof Failure ? e.message : `unexpected ${e?.constructor?.name}: ${e?.message}`;
    print({ step: name, ok: false, ms: Date.now() - started, error });
    console.error(`FAILED ${name}: ${error}`);
    if (!(e instanceof Failure) && e?.stack) {
      console.error(e.stack);
    }
    process.exit(1);
  }
}

/** Awaits a call that must fail with the package's error class `type` and a message containing `text`. */
async function refused(call, type, text) {
  let value;
  try {
    value = await call;
  } catch (e) {
    expect(e instanceof type, `expected ${type.name} (${text}), got ${e?.constructor?.name}: ${e?.message}`);
    expect(String(e.message).includes(text), `expected a message containing "${text}", got ${e.constructor.name}: ${e.message}`);
    return { error: e.constructor.name, message: e.message };
  }
  throw new Failure(`expected ${type.name} (${text}), but the call succeeded: ${JSON.stringify(value)}`);
}

/** Resolves with the first event `emitter` emits as `event` that `accept` takes. */
function nextEvent(emitter, event, accept = () => true) {
  return new Promise(resolve => {
    const handler = (...args) => {
      if (accept(...args)) {
        emitter.off(event, handler);
        resolve(args);
      }
    };
    emitter.on(event, handler);
  });
}

const unary = calls => calls.filter(c => c.method !== 'Watch');

print({ step: 'start', ok: true, endpoint, etcd3: packageVersion, node: process.version });

const admin = connect(undefined);

await step('users-and-roles-as-root', async () => {
  await admin.user('root').create(rootPassword);
  await admin.user('alice').create(alicePassword);
  const app = await admin.role('app').create();
  await app.grant({ permission: 'Readwrite', range: admin.range({ prefix: 'app/' }) });
  await admin.user('alice').addRole('app');

  const permissions = (await app.permissions()).map(p => ({ permission: p.permission, start: p.range.start.toString(), end: p.range.end.toString() }));
  expect(JSON.stringify(permissions) === JSON.stringify([{ permission: 'Readwrite', start: 'app/', end: 'app0' }]),
    `role app's permissions: ${JSON.stringify(permissions)}`);
  const roles = (await admin.user('alice').roles()).map(r => r.name);
  expect(JSON.stringify(roles) === '["app"]', `alice's roles: ${JSON.stringify(roles)}`);
  const users = (await admin.getUsers()).map(u => u.name).sort();
  expect(JSON.stringify(users) === '["alice","root"]', `users: ${JSON.stringify(users)}`);
  return { permissions, roles, users };
});

await step('existing-names-refused', async () => ({
  role: await refused(admin.role('app').create(), EtcdRoleExistsError, 'etcdserver: role name already exists'),
  user: await refused(admin.user('alice').create('x'), EtcdUserExistsError, 'etcdserver: user name already exists'),
}));

// The package's authEnable() is the bare RPC: unlike etcdctl it does not add the root role itself.
await step('auth-enable-needs-the-root-role', async () =>
  refused(admin.auth.authEnable(), GRPCFailedPreconditionError, 'etcdserver: root user does not have root role'));

await step('auth-enable', async () => {
  await admin.role('root').create();
  await admin.user('root').addRole('root');
  await admin.auth.authEnable();
  return {};
});

await step('no-credentials-refused', async () =>
  refused(admin.put('app/x').value('0').exec(), GRPCInvalidArgumentError, 'etcdserver: user name is empty'));

await step('wrong-password-refused', async () =>
  refused(connect({ username: 'alice', password: 'wrong' }).get('app/x').string(), EtcdAuthenticationFailedError,
    'etcdserver: authentication failed, invalid user ID or password'));

await step('unknown-user-refused', async () =>
  refused(connect({ username: 'nobody', password: 'x' }).get('app/x').string(), EtcdAuthenticationFailedError,
    'etcdserver: authentication failed, invalid user ID or password'));

const root = connect({ username: 'root', password: rootPassword });
const alice = connect({ username: 'alice', password: alicePassword });

await step('put-and-get-inside-the-grant', async () => {
  await alice.put('app/x').value('1');
  const value = await alice.get('app/x').string();
  expect(value === '1', `get app/x: ${value}`);
  const all = await alice.getAll().prefix('app/').strings();
  expect(JSON.stringify(all) === '{"app/x":"1"}', `getAll app/: ${JSON.stringify(all)}`);
  const authenticates = alice.calls.filter(c => c.method === 'Authenticate').length;
  expect(authenticates === 1, `alice's client signed in ${authenticates} times, expected once: ${JSON.stringify(alice.calls)}`);
  return { value, all };
});

await step('outside-the-grant-refused', async () => {
  const put = await refused(alice.put('other').value('1').exec(), EtcdPermissionDeniedError, 'etcdserver: permission denied');
  const get = await refused(alice.get('other').string(), EtcdPermissionDeniedError, 'etcdserver: permission denied');
  const txn = await refused(alice.if('app/x', 'Value', '==', '1').then(alice.put('app/x').value('2')).else(alice.put('other').value('2')).commit(),
    EtcdPermissionDeniedError, 'etcdserver: permission denied');
  const stored = await root.get('other').string();
  expect(stored === null, `root sees other = ${stored} after refused writes`);
  const x = await root.get('app/x').string();
  expect(x === '1', `root sees app/x = ${x} after a refused txn`);
  return { put, get, txn };
});

let watcher;
await step('watch-inside-the-grant', async () => {
  watcher = await alice.watch().prefix('app/').create();
  const put = nextEvent(watcher, 'put', kv => kv.key.toString() === 'app/w');
  await alice.put('app/w').value('1');
  const [kv] = await put;
  return { key: kv.key.toString(), value: kv.value.toString() };
});

await step('watch-outside-the-grant-refused', async () => {
  // A client of its own: etcd3 1.1.2 leaves a refused create at the head of its attach queue, so later watches on the
  // same stream would never be sent.
  const other = connect({ username: 'alice', password: alicePassword });
  return refused(other.watch().key('other').create(), EtcdPermissionDeniedError, 'etcdserver: permission denied');
});

// The member ends a user's tokens when its password changes, even to the same value; the package must see
// "etcdserver: invalid auth token", sign in again and repeat the call (ConnectionPool.exec).
await step('token-refresh-after-the-token-ends', async () => {
  const before = alice.calls.length;
  await root.user('alice').setPassword(alicePassword);
  await alice.put('app/y').value('2');
  const calls = unary(alice.calls.slice(before));
  const shape = calls.map(c => `${c.method}:${c.code}`).join(' ');
  expect(shape === 'Put:UNAUTHENTICATED Authenticate:OK Put:OK',
    `expected the put refused for its token, a sign-in and the put again; the client made: ${JSON.stringify(calls)}`);
  expect(calls[0].details === 'etcdserver: invalid auth token', `the refusal said: ${calls[0].details}`);
  const value = await alice.get('app/y').string();
  expect(value === '2', `get app/y after the refresh: ${value}`);
  return { calls };
});

// As on etcd, a watch keeps delivering after its token ends: the token is checked when a watch is created.
await step('open-watch-outlives-the-token', async () => {
  const put = nextEvent(watcher, 'put', kv => kv.key.toString() === 'app/w2');
  await root.put('app/w2').value('1');
  const [kv] = await put;
  return { key: kv.key.toString() };
});

// A new watch from a client whose cached token has ended. etcd 3.4 accepts the Watch stream and answers the create
// with created + canceled, cancel_reason "... etcdserver: invalid auth token", so create() rejects with
// EtcdInvalidAuthTokenError (the package does not sign in again for watches). Run with --with-ended-token-watch.
if (process.argv.includes('--with-ended-token-watch')) {
  await step('watch-with-an-ended-token', async () => {
    const client = connect({ username: 'alice', password: alicePassword });
    await client.get('app/x').string();
    await root.user('alice').setPassword(alicePassword);
    // The package reconnects a refused Watch stream forever with the same token, so create() may never settle.
    const outcome = await Promise.race([
      client.watch().prefix('app/').create().then(() => ({ created: true }), error => ({ error })),
      new Promise(resolve => setTimeout(() => resolve({ pending: true }), 10000)),
    ]);
    const watchCalls = client.calls.filter(c => c.method === 'Watch');
    expect(!outcome.pending, `create() neither resolved nor rejected within 10 s; the member ended ${watchCalls.length} Watch streams, ` +
      `the first with ${JSON.stringify(watchCalls[0])}`);
    expect(!outcome.created, 'create() succeeded with an ended token');
    return refused(Promise.reject(outcome.error), EtcdInvalidAuthTokenError, 'etcdserver: invalid auth token');
  });
}

print({ step: 'done', ok: true });
for (const client of clients) {
  client.close();
}
process.exit(0);
