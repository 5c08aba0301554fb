// @conclave/client against a real 3-member cluster: failover when the member a subscription is connected to is
// killed, and resume from the last release after a member restart with releases published while it was down.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConclaveClient } from '../dist/index.js';
import { CenterApi, eventually, startCluster, stopAll } from './harness.mjs';

describe('three members', () => {
  let members;
  const clients = [];

  const client = (endpoints, options = {}) => {
    const c = new ConclaveClient({
      endpoints,
      app: 'shop',
      env: 'PRO',
      instanceId: 'pod-1',
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 500,
      callTimeoutMs: 2000,
      reportSpreadMs: 100,
      ...options,
    });
    clients.push(c);
    return c;
  };

  const record = (subscription) => {
    const events = [];
    for (const name of ['change', 'connected', 'disconnected', 'failure']) {
      subscription.on(name, (value) => events.push({ name, value }));
    }
    events.wait = (predicate, description, timeoutMs = 60000) => eventually(() => events.find(predicate), description, timeoutMs);
    events.changes = () => events.filter((e) => e.name === 'change').map((e) => e.value);
    return events;
  };

  /** A running member other than `except`, to publish through. */
  const apiBesides = (...except) => new CenterApi(members.find((m) => m.running && !except.includes(m)).httpUrl);

  before(async () => {
    members = await startCluster(3);
    await new CenterApi(members[0].httpUrl).createApp('shop', 'PRO', 'application', { port: '8080' });
  });

  after(async () => {
    clients.forEach((c) => c.close());
    await stopAll(members?.root);
  });

  it('fails over to the next member when the connected one is killed, and misses no release', async () => {
    const c = client(members.map((m) => m.endpoint));
    const subscription = c.subscribe(['application']);
    const events = record(subscription);
    await events.wait((e) => e.name === 'change', 'the current release');
    const connectedTo = members.find((m) => m.endpoint === subscription.endpoint);
    assert.ok(connectedTo, `connected to one of the members (${subscription.endpoint})`);
    const startId = subscription.get('application').releaseId;

    await connectedTo.kill();
    const published = await eventually(
      () => apiBesides(connectedTo).publish('shop', 'PRO', 'application', { port: '9090' }, 'during failover'),
      'a publish through a surviving member',
    );
    const change = await events.wait((e) => e.name === 'change' && e.value.snapshot.releaseId === published.id, `release ${published.id} after failover`);
    assert.deepEqual(change.value.changes, [{ type: 'changed', key: 'port', oldValue: '8080', newValue: '9090' }]);
    assert.ok(subscription.connected && subscription.endpoint !== connectedTo.endpoint, `now on another member (${subscription.endpoint})`);
    assert.deepEqual(events.changes().map((e) => e.snapshot.releaseId), [startId, published.id], 'each release once');

    // Unary calls fail over too.
    const fetched = await c.fetch('application');
    assert.equal(fetched.releaseId, published.id);

    // The applied report reaches the center through a surviving member.
    await eventually(async () => {
      const instances = await apiBesides(connectedTo).instances('shop', 'PRO', 'application');
      return instances.some((i) => i.instanceId === 'pod-1' && i.releaseId === published.id && i.status === 'Applied');
    }, 'the applied report after failover');
    subscription.close();

    connectedTo.launch();
    await connectedTo.waitHealthy();
  });

  it('resumes from its last release after its only member restarts, with the releases published meanwhile', async () => {
    const home = members[2];
    const c = client([home.endpoint], { instanceId: 'pod-2' });
    const subscription = c.subscribe(['application']);
    const events = record(subscription);
    await events.wait((e) => e.name === 'change', 'the current release');
    const before = subscription.get('application');

    await home.kill();
    await events.wait((e) => e.name === 'disconnected', 'the lost member noticed');
    const api = apiBesides(home);
    const first = await eventually(() => api.publish('shop', 'PRO', 'application', { a: '1' }, 'while down 1'), 'publish 1');
    const second = await api.publish('shop', 'PRO', 'application', { b: '2' }, 'while down 2');
    assert.equal(second.id, first.id + 1);
    assert.equal(events.changes().length, 1, 'nothing delivered while the member is down');

    home.launch();
    await home.waitHealthy();
    const change = await events.wait((e) => e.name === 'change' && e.value.snapshot.releaseId === second.id, `release ${second.id} after the restart`);
    assert.deepEqual(change.value.snapshot.items, { ...before.items, a: '1', b: '2' });

    // No release repeated, none skipped: ids only grow, and the newest is what the instance runs.
    const ids = events.changes().map((e) => e.snapshot.releaseId);
    assert.equal(ids[0], before.releaseId);
    for (let i = 1; i < ids.length; i++) {
      assert.ok(ids[i] > ids[i - 1], `release ids grow: ${ids.join(', ')}`);
    }
    assert.equal(ids.at(-1), second.id);
    assert.deepEqual(events.changes().slice(1).flatMap((e) => e.added).sort(), ['a', 'b'], 'a and b each added once');
    subscription.close();
  });
});
