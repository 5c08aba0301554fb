// Feature flags against one real member: `flags` namespaces published through the HTTP API, followed live by
// ConclaveFlags and by the OpenFeature SDK through ConclaveProvider. Every wait observes state (an event or a value)
// with a deadline.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OpenFeature, ProviderEvents } from '@openfeature/server-sdk';
import { ConclaveClient } from '../dist/index.js';
import { ConclaveProvider } from '../dist/openfeature.js';
import { CenterApi, eventually, startMember, stopAll } from './harness.mjs';

const rampDocument = (percentage, extra = {}) => ({
  flags: {
    'Checkout.NewFlow': {
      type: 'boolean',
      defaultVariant: 'off',
      rules: [
        { name: 'staff', users: ['alice'], variant: 'on' },
        { name: 'this pod in eu1', instances: ['pod-1'], attributes: { zone: ['eu1'] }, groups: ['pilot'], variant: 'on' },
      ],
    },
    Ramp: { type: 'boolean', defaultVariant: 'off', rules: [{ rollout: [{ variant: 'on', percentage }] }] },
    'Search.Ranking': { type: 'string', variants: { classic: 'bm25', learned: 'ltr-v3' }, defaultVariant: 'classic' },
    ...extra,
  },
});

describe('feature flags on one member', () => {
  let member;
  let api;
  const clients = [];

  const client = () => {
    const c = new ConclaveClient({
      endpoints: [member.endpoint],
      app: 'shop',
      env: 'PRO',
      instanceId: 'pod-1',
      labels: { zone: 'eu1' },
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 500,
    });
    clients.push(c);
    return c;
  };

  const publish = async (ns, document, title = 'flags') => {
    await api.call('PUT', `/apps/shop/envs/PRO/namespaces/${ns}/content`, { content: JSON.stringify(document, null, 2) });
    return api.call('POST', `/apps/shop/envs/PRO/namespaces/${ns}/releases`, { title });
  };

  /** Records the OpenFeature API's ConfigurationChanged events; `wait(flag)` waits for one naming that flag. */
  const configurationChanges = () => {
    const events = [];
    const handler = (details) => events.push(details);
    OpenFeature.addHandler(ProviderEvents.ConfigurationChanged, handler);
    return {
      events,
      wait: (flag, from) => eventually(() => events.slice(from).find((e) => e.flagsChanged?.includes(flag)), `ConfigurationChanged naming ${flag}`),
      stop: () => OpenFeature.removeHandler(ProviderEvents.ConfigurationChanged, handler),
    };
  };

  before(async () => {
    member = await startMember();
    api = new CenterApi(member.httpUrl);
    await api.createApp('shop', 'PRO', 'features', undefined, 'flags');
    await publish('features', rampDocument(20));
    await api.call('POST', '/apps/shop/envs/PRO/namespaces', { name: 'overrides', format: 'flags' });
    await publish('overrides', {
      flags: {
        'Search.Ranking': { type: 'string', variants: { classic: 'bm25', learned: 'ltr-v3' }, defaultVariant: 'learned' },
        'Pod.Only': { type: 'boolean', defaultVariant: 'off', rules: [{ instances: ['pod-1'], attributes: { zone: ['eu1'] }, variant: 'on' }] },
      },
    });
    await api.call('POST', '/apps/shop/envs/PRO/namespaces', { name: 'settings', format: 'json' });
    await publish('settings', { flags: {} });
  });

  after(async () => {
    // Closing the API closes the provider, which closes its subscription.
    await OpenFeature.close().catch(() => undefined);
    clients.forEach((c) => c.close());
    await stopAll(member?.root);
  });

  it('the server refuses an invalid flags document at publish, with its path', async () => {
    const bad = { flags: { f: { type: 'boolean', defaultVariant: 'maybe' } } };
    await assert.rejects(publish('features', bad), /defaultVariant/);
  });

  it('an OpenFeature client sees the published flags, a change, and a 20% to 30% ramp that keeps everyone who was on', async () => {
    const changes = configurationChanges();
    try {
      await OpenFeature.setProviderAndWait(new ConclaveProvider(client(), ['features']));
      const of = OpenFeature.getClient();

      // (a) the published values, with OpenFeature's variant, reason and error codes.
      const alice = await of.getBooleanDetails('Checkout.NewFlow', false, { targetingKey: 'alice' });
      assert.equal(alice.value, true);
      assert.equal(alice.variant, 'on');
      assert.equal(alice.reason, 'TARGETING_MATCH');
      const bob = await of.getBooleanDetails('Checkout.NewFlow', true, { targetingKey: 'bob' });
      assert.deepEqual([bob.value, bob.variant, bob.reason], [false, 'off', 'DEFAULT']);
      // The instance (pod-1) and its label (zone=eu1) come from the client; the group from the OpenFeature context.
      const pilot = await of.getBooleanDetails('Checkout.NewFlow', false, { targetingKey: 'bob', groups: ['pilot'] });
      assert.deepEqual([pilot.value, pilot.reason], [true, 'TARGETING_MATCH']);
      const overridden = await of.getBooleanDetails('Checkout.NewFlow', false, { targetingKey: 'bob', groups: ['pilot'], zone: 'us1' });
      assert.deepEqual([overridden.value, overridden.reason], [false, 'DEFAULT'], "the context's attribute wins over the label");
      const ranking = await of.getStringDetails('Search.Ranking', 'none', { targetingKey: 'bob' });
      assert.deepEqual([ranking.value, ranking.variant, ranking.reason], ['bm25', 'classic', 'STATIC']);
      const missing = await of.getBooleanDetails('No.Such.Flag', true, { targetingKey: 'bob' });
      assert.deepEqual([missing.value, missing.reason, missing.errorCode], [true, 'ERROR', 'FLAG_NOT_FOUND']);
      const mismatch = await of.getNumberDetails('Search.Ranking', 7, {});
      assert.deepEqual([mismatch.value, mismatch.reason, mismatch.errorCode], [7, 'ERROR', 'TYPE_MISMATCH']);

      // (c) 20% of 10,000 ids, through the OpenFeature client.
      const ids = Array.from({ length: 10000 }, (_, i) => `user-${i}`);
      const onAt = async () => {
        const on = new Set();
        for (const id of ids) {
          if (await of.getBooleanValue('Ramp', false, { targetingKey: id })) {
            on.add(id);
          }
        }
        return on;
      };
      const at20 = await onAt();
      assert.ok(Math.abs(at20.size - 2000) <= 100, `${at20.size} of 10,000 on at 20%`);

      // (b) a change: the kill switch; observed through ConfigurationChanged naming exactly the changed flag.
      let from = changes.events.length;
      const killed = rampDocument(20);
      killed.flags['Checkout.NewFlow'].enabled = false;
      await publish('features', killed, 'kill switch');
      const change = await changes.wait('Checkout.NewFlow', from);
      assert.deepEqual(change.flagsChanged, ['Checkout.NewFlow'], 'only the flag that changed is named');
      const aliceNow = await of.getBooleanDetails('Checkout.NewFlow', true, { targetingKey: 'alice' });
      assert.deepEqual([aliceNow.value, aliceNow.variant, aliceNow.reason], [false, 'off', 'DISABLED']);

      // (c) ramp to 30%: everyone on at 20% stays on.
      from = changes.events.length;
      const ramped = rampDocument(30);
      ramped.flags['Checkout.NewFlow'].enabled = false;
      await publish('features', ramped, 'ramp to 30%');
      assert.deepEqual((await changes.wait('Ramp', from)).flagsChanged, ['Ramp']);
      const at30 = await onAt();
      assert.ok(Math.abs(at30.size - 3000) <= 100, `${at30.size} of 10,000 on at 30%`);
      const dropped = [...at20].filter((id) => !at30.has(id));
      assert.deepEqual(dropped, [], 'ids on at 20% and off at 30%');
    } finally {
      changes.stop();
    }
  });

  it('live flags merge namespaces in order, and reject a release that is not a flags document while the others work', async () => {
    const c = client();
    const flags = c.flags(['features', 'overrides']);
    try {
      await eventually(async () => {
        await Promise.race([flags.ready, new Promise((r) => setTimeout(r, 100))]);
        return flags.set.size >= 4;
      }, 'the flags of both namespaces');
      // A later namespace's flag replaces the earlier one.
      assert.deepEqual([flags.getString('Search.Ranking', 'none').value, flags.getString('Search.Ranking', 'none').variant], ['ltr-v3', 'learned']);
      // The client's instance id (pod-1) and label (zone=eu1) fill the context; a context's own values win.
      assert.deepEqual([flags.getBoolean('Pod.Only', false).value, flags.getBoolean('Pod.Only', false).reason], [true, 'TARGETING_MATCH']);
      assert.equal(flags.getBoolean('Pod.Only', false, { targetingKey: 'bob' }).value, true);
      assert.equal(flags.getBoolean('Pod.Only', true, { instanceId: 'pod-2' }).value, false);
      assert.equal(flags.getBoolean('Pod.Only', true, { attributes: { zone: 'us1' } }).value, false);
    } finally {
      flags.close();
    }

    const mixed = c.flags(['features', 'settings']);
    const rejections = [];
    const changes = [];
    mixed.on('rejected', (r) => rejections.push(r));
    mixed.on('change', (e) => changes.push(e));
    try {
      const rejection = await eventually(() => rejections.find((r) => r.release.namespace === 'settings'), 'the json namespace to be rejected');
      assert.match(rejection.reason, /not flags/);
      await eventually(() => changes.find((e) => e.namespace === 'features'), 'the features namespace to apply');
      assert.equal(mixed.getString('Search.Ranking', 'none').value, 'bm25');
      assert.equal(mixed.set.size, 3);
      // The rejection reaches the center's delivery view.
      await eventually(async () => {
        const view = await api.instances('shop', 'PRO', 'settings');
        return JSON.stringify(view).includes('not flags');
      }, "the center's instance view to show the rejection");
    } finally {
      mixed.close();
    }
  });
});
