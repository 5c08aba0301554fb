// @conclave/client against one real member: fetch, live changes with typed events, delivery reports in the server's
// instance view, a validator's rejection, app credentials, resume after the member restarts, and the encrypted
// last-known-good cache (used when the member is down, refused when tampered with).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ConclaveAccessError,
  ConclaveCacheError,
  ConclaveClient,
  ConclaveNotFoundError,
  ConclaveUnavailableError,
} from '../dist/index.js';
import { CenterApi, eventually, startMember, stopAll } from './harness.mjs';

describe('one member', () => {
  let member;
  let api;
  const clients = [];
  const cacheDir = mkdtempSync(join(tmpdir(), 'conclave-node-cache-'));
  const cacheKey = randomBytes(32).toString('base64');

  const client = (options = {}) => {
    const c = new ConclaveClient({
      endpoints: [member.endpoint],
      app: 'shop',
      env: 'PRO',
      instanceId: 'pod-1',
      labels: { zone: 'eu1' },
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 500,
      ...options,
    });
    clients.push(c);
    return c;
  };

  /** Collects a subscription's events; `next(predicate)` waits for one. */
  const record = (subscription) => {
    const events = [];
    for (const name of ['change', 'connected', 'disconnected', 'cache', 'rejected', 'failure']) {
      subscription.on(name, (value) => events.push({ name, value }));
    }
    events.wait = (predicate, description) => eventually(() => events.find(predicate), description);
    return events;
  };

  before(async () => {
    member = await startMember();
    api = new CenterApi(member.httpUrl);
    await api.createApp('shop', 'PRO', 'application', { port: '8080', 'db.url': 'postgres://db/shop', timeout: '5s' });
    await api.call('POST', '/apps/shop/envs/PRO/namespaces', { name: 'empty', format: 'properties' });
  });

  after(async () => {
    clients.forEach((c) => c.close());
    await stopAll(member?.root, cacheDir);
  });

  it('fetches a typed snapshot of a namespace', async () => {
    const snapshot = await client().fetch('application');
    assert.equal(snapshot.namespace, 'application');
    assert.equal(snapshot.releaseId, 1);
    assert.equal(snapshot.source, 'server');
    assert.deepEqual(snapshot.items, { port: '8080', 'db.url': 'postgres://db/shop', timeout: '5s' });
    assert.equal(snapshot.release.format, 'properties');
    assert.equal(snapshot.release.title, 'test');
    assert.equal(snapshot.release.author, 'node-client-tests');
    assert.match(snapshot.release.contentHash, /^[0-9a-f]{64}$/);
    assert.ok(snapshot.release.createdAt instanceof Date && Math.abs(Date.now() - snapshot.release.createdAt.getTime()) < 600_000);
  });

  it('tells a namespace without a release from one that does not exist', async () => {
    const c = client();
    await assert.rejects(c.fetch('empty'), (e) => e instanceof ConclaveNotFoundError && e.noRelease);
    await assert.rejects(c.fetch('missing'), (e) => e instanceof ConclaveNotFoundError && !e.noRelease && /missing/.test(e.message));
  });

  it('delivers a publish through subscribe as a typed change event and reports it applied', async () => {
    const c = client({ reportSpreadMs: 200 });
    const subscription = c.subscribe(['application']);
    const events = record(subscription);
    await subscription.ready;
    const first = await events.wait((e) => e.name === 'change', 'the current release');
    assert.equal(first.value.previousReleaseId, null);
    assert.equal(first.value.snapshot.releaseId, 1);
    assert.deepEqual(first.value.added, ['db.url', 'port', 'timeout']);

    const published = await api.publish('shop', 'PRO', 'application', { port: '9090', timeout: null, 'feature.x': 'on' }, 'second');
    const change = await events.wait((e) => e.name === 'change' && e.value.snapshot.releaseId === published.id, `release ${published.id}`);
    assert.equal(change.value.previousReleaseId, 1);
    assert.deepEqual(change.value.changes, [
      { type: 'added', key: 'feature.x', newValue: 'on' },
      { type: 'changed', key: 'port', oldValue: '8080', newValue: '9090' },
      { type: 'removed', key: 'timeout', oldValue: '5s' },
    ]);
    assert.deepEqual(change.value.added, ['feature.x']);
    assert.deepEqual(change.value.changed, ['port']);
    assert.deepEqual(change.value.removed, ['timeout']);
    assert.equal(subscription.get('application').items.port, '9090');
    assert.equal(subscription.source, 'server');

    // The delivery report, as the server's instance view shows it.
    const record2 = await eventually(async () => {
      const instances = await api.instances('shop', 'PRO', 'application');
      return instances.find((i) => i.instanceId === 'pod-1' && i.releaseId === published.id);
    }, 'pod-1 reported applying the release');
    assert.equal(record2.status, 'Applied');
    assert.deepEqual(record2.labels, ['zone=eu1']);
    assert.equal(events.filter((e) => e.name === 'change').length, 2, 'no change delivered twice');
    subscription.close();
  });

  it("reports a release its validator rejects, and keeps the values it had", async () => {
    const c = client({ instanceId: 'pod-strict', reportSpreadMs: 0 });
    const subscription = c.subscribe(['application'], undefined, {
      validate: (release, items) => (items.port === 'not-a-port' ? `port must be a number, not ${items.port}` : undefined),
    });
    const events = record(subscription);
    await events.wait((e) => e.name === 'change', 'the current release');
    const before = subscription.get('application');

    const bad = await api.publish('shop', 'PRO', 'application', { port: 'not-a-port' }, 'bad');
    const rejected = await events.wait((e) => e.name === 'rejected', 'the rejection');
    assert.equal(rejected.value.release.releaseId, bad.id);
    assert.match(rejected.value.reason, /port must be a number/);
    assert.equal(subscription.get('application'), before);
    const report = await eventually(async () => {
      const instances = await api.instances('shop', 'PRO', 'application');
      return instances.find((i) => i.instanceId === 'pod-strict' && i.releaseId === bad.id);
    }, 'pod-strict reported the rejection');
    assert.equal(report.status, 'Rejected');
    assert.match(report.reason, /port must be a number/);
    subscription.close();

    // Put a good value back for the tests after this one.
    await api.publish('shop', 'PRO', 'application', { port: '9091' }, 'fixed');
  });

  it('sends the app credential and names a refused one', async () => {
    await api.call('POST', '/apps', { id: 'vault' });
    await api.call('POST', '/apps/vault/envs', { name: 'PRO' });
    await api.call('POST', '/apps/vault/envs/PRO/namespaces', { name: 'application', format: 'properties' });
    await api.publish('vault', 'PRO', 'application', { secret: 's3' });
    const credential = await api.call('POST', '/apps/vault/envs/PRO/credentials', { name: 'node-tests' });
    assert.ok(credential.accessKey);

    await assert.rejects(client({ app: 'vault', accessKey: '' }).fetch('application'), ConclaveAccessError);
    await assert.rejects(client({ app: 'vault', accessKey: 'nope.nope' }).fetch('application'), ConclaveAccessError);
    const snapshot = await client({ app: 'vault', accessKey: credential.accessKey }).fetch('application');
    assert.equal(snapshot.items.secret, 's3');
  });

  it('resumes after the member restarts and delivers the next release once', async () => {
    const c = client({ instanceId: 'pod-restart' });
    const subscription = c.subscribe(['application']);
    const events = record(subscription);
    const first = await events.wait((e) => e.name === 'change', 'the current release');
    const startId = first.value.snapshot.releaseId;

    await member.kill();
    await events.wait((e) => e.name === 'disconnected', 'the subscription to notice the member is gone');
    member.launch();
    await member.waitHealthy();
    await events.wait((e, i) => e.name === 'connected' && i > events.findIndex((d) => d.name === 'disconnected'), 'the reconnect');

    const next = await api.publish('shop', 'PRO', 'application', { restarted: 'yes' }, 'after restart');
    const change = await events.wait((e) => e.name === 'change' && e.value.snapshot.releaseId === next.id, `release ${next.id}`);
    assert.equal(change.value.previousReleaseId, startId);
    assert.deepEqual(change.value.added, ['restarted']);
    const ids = events.filter((e) => e.name === 'change').map((e) => e.value.snapshot.releaseId);
    assert.deepEqual(ids, [startId, next.id], 'each release delivered once, none missed');
    subscription.close();
  });

  it('starts from the encrypted last-known-good cache when no member answers, and refuses a tampered cache', async () => {
    // Online: fetch and subscribe write the caches (one file per namespace list, as the .NET provider keeps them).
    const online = client({ cacheDir, cacheKey, instanceId: 'pod-cache' });
    const live = await online.fetch('application');
    const onlineSub = online.subscribe(['application']);
    await record(onlineSub).wait((e) => e.name === 'change', 'the current release');
    const path = online.cachePath(['application']);
    await eventually(() => { try { return readFileSync(path).length > 0; } catch { return false; } }, 'the cache file');
    assert.equal(readFileSync(path).subarray(0, 4).toString(), 'CLKG');
    assert.ok(!readFileSync(path).toString('latin1').includes('postgres://'), 'the cache is not plain text');
    online.close();

    await member.kill();

    // Offline: fetch answers from the cache and says so.
    const offline = client({ cacheDir, cacheKey, instanceId: 'pod-cache', callTimeoutMs: 1000 });
    const cached = await offline.fetch('application');
    assert.equal(cached.source, 'cache');
    assert.equal(cached.releaseId, live.releaseId);
    assert.deepEqual(cached.items, live.items);

    // A subscription starts from the cache (event and flag), then confirms it when the member is back.
    const subscription = offline.subscribe(['application']);
    const events = record(subscription);
    await subscription.ready;
    const started = await events.wait((e) => e.name === 'cache', 'the start from the cache');
    assert.equal(started.value.path, path);
    assert.equal(subscription.source, 'cache');
    const fromCache = await events.wait((e) => e.name === 'change', 'the cached values');
    assert.equal(fromCache.value.snapshot.source, 'cache');
    assert.deepEqual(fromCache.value.snapshot.items, live.items);
    member.launch();
    await member.waitHealthy();
    await events.wait((e) => e.name === 'connected', 'the connect once the member is back');
    await eventually(() => subscription.source === 'server', 'the cached values confirmed by the member');
    assert.equal(events.filter((e) => e.name === 'change').length, 1, 'the same release is not delivered again');
    subscription.close();
    await member.kill();

    // Another key, a changed byte, a truncated file: refused with a clear error, never used.
    const otherKey = client({ cacheDir, cacheKey: randomBytes(32).toString('base64'), callTimeoutMs: 1000 });
    await assert.rejects(otherKey.fetch('application'), (e) => e instanceof ConclaveCacheError && /authentication failed/.test(e.message) && e.path === path);

    const file = readFileSync(path);
    file[file.length - 3] ^= 0x01;
    writeFileSync(path, file);
    await assert.rejects(offline.fetch('application'), (e) => e instanceof ConclaveCacheError && /authentication failed.*changed/.test(e.message) && /no member answered/.test(e.message));
    const tampered = offline.subscribe(['application']);
    const tamperedEvents = record(tampered);
    const failure = await tamperedEvents.wait((e) => e.name === 'failure' && e.value instanceof ConclaveCacheError, 'the refused cache');
    assert.match(failure.value.message, /authentication failed/);
    assert.equal(tampered.source, undefined);
    assert.equal(tamperedEvents.filter((e) => e.name === 'change').length, 0);
    tampered.close();

    writeFileSync(path, file.subarray(0, 20));
    await assert.rejects(offline.fetch('application'), (e) => e instanceof ConclaveCacheError && /not a Conclave cache file/.test(e.message));

    // Without a cache for the namespace: unavailable, naming the endpoint.
    await assert.rejects(client({ callTimeoutMs: 1000 }).fetch('application'), (e) => e instanceof ConclaveUnavailableError && e.message.includes(member.endpoint));
  });

  it('refuses bad options with a clear error', () => {
    assert.throws(() => new ConclaveClient({ endpoints: [], app: 'a', env: 'e' }), /endpoints must name at least one/);
    assert.throws(() => new ConclaveClient({ endpoints: ['ftp://x:1'], app: 'a', env: 'e' }), /only http/);
    assert.throws(() => new ConclaveClient({ endpoints: ['http://127.0.0.1:1'], app: '', env: 'e' }), /app is required/);
    assert.throws(() => new ConclaveClient({ endpoints: ['http://127.0.0.1:1'], app: 'a', env: 'e', cacheKey: 'c2hvcnQ=' }), /32 random bytes in base64/);
    const c = client();
    c.close();
    assert.throws(() => c.subscribe(['application']), /closed/);
  });
});
