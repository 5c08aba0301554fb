// Evaluation insight against one real member: live flags and the OpenFeature provider over them count evaluations,
// the subscription's delivery reports carry the counts (the new release's report, then the periodic re-send), and the
// center's usage endpoint shows exactly what this instance served. Every wait polls observed state with a deadline.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OpenFeature } from '@openfeature/server-sdk';
import { ConclaveClient } from '../dist/index.js';
import { ConclaveProvider } from '../dist/openfeature.js';
import { CenterApi, eventually, startMember, stopAll } from './harness.mjs';

describe('evaluation insight on one member', () => {
  let member;
  let api;
  const clients = [];
  const closers = [];

  const client = (instanceId, extra = {}) => {
    const c = new ConclaveClient({
      endpoints: [member.endpoint],
      app: 'shop',
      env: 'PRO',
      instanceId,
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 500,
      reportSpreadMs: 0,
      flagUsageReportIntervalMs: 200,
      ...extra,
    });
    clients.push(c);
    return c;
  };

  const publish = async (ns, document) => {
    await api.call('PUT', `/apps/shop/envs/PRO/namespaces/${ns}/content`, { content: JSON.stringify(document) });
    return api.call('POST', `/apps/shop/envs/PRO/namespaces/${ns}/releases`, { title: 'flags' });
  };

  const usage = (ns) => api.call('GET', `/apps/shop/envs/PRO/namespaces/${ns}/flags/usage`);
  const flagIn = (report, flag) => report.flags.find((f) => f.flag === flag);

  /**
   * Waits until the namespace's usage shows `expected` (flag -> variants) exactly, from one live instance, evaluated
   * today and not stale (the member writes the day a flag was used after the instance's totals, so both are awaited).
   */
  const usageShows = (ns, expected) =>
    eventually(async () => {
      const report = await usage(ns);
      for (const [flag, variants] of Object.entries(expected)) {
        const entry = flagIn(report, flag);
        if (
          entry === undefined ||
          JSON.stringify(sorted(entry.variants)) !== JSON.stringify(sorted(variants)) ||
          entry.instances !== 1 ||
          !entry.lastEvaluated ||
          entry.stale !== false
        ) {
          return false;
        }
      }
      return report;
    }, `${ns}'s usage to show ${JSON.stringify(expected)}`);

  before(async () => {
    member = await startMember();
    api = new CenterApi(member.httpUrl);
    await api.createApp('shop', 'PRO', 'features', undefined, 'flags');
    await publish('features', {
      flags: {
        'Checkout.NewFlow': { type: 'boolean', defaultVariant: 'off', rules: [{ name: 'staff', users: ['alice'], variant: 'on' }] },
        'Search.Ranking': { type: 'string', variants: { classic: 'bm25', learned: 'ltr-v3' }, defaultVariant: 'classic' },
        'Never.Used': { type: 'boolean', defaultVariant: 'off' },
      },
    });
    await api.call('POST', '/apps/shop/envs/PRO/namespaces', { name: 'overrides', format: 'flags' });
    await publish('overrides', {
      flags: { 'Search.Ranking': { type: 'string', variants: { classic: 'bm25', learned: 'ltr-v3' }, defaultVariant: 'learned' } },
    });
  });

  after(async () => {
    await OpenFeature.close().catch(() => undefined);
    closers.forEach((close) => close());
    clients.forEach((c) => c.close());
    await stopAll(member?.root);
  });

  it('the usage endpoint shows exactly the variants served through OpenFeature and the typed API, per owning namespace', async () => {
    const c = client('pod-insight');
    const flags = c.flags(['features', 'overrides']);
    closers.push(() => flags.close());
    // One ConclaveFlags for both APIs: one subscription, so one report stream for this instance and namespace.
    await OpenFeature.setProviderAndWait(new ConclaveProvider(flags));
    const of = OpenFeature.getClient();

    // A silent instance (reportDelivery: false) evaluates too: it must never show up.
    const silent = client('pod-silent', { reportDelivery: false });
    const silentReports = [];
    const sendReport = silent.sendReport.bind(silent);
    silent.sendReport = (...args) => {
      silentReports.push(args);
      return sendReport(...args);
    };
    const silentFlags = silent.flags(['features', 'overrides']);
    closers.push(() => silentFlags.close());
    await eventually(() => silentFlags.set.size === 3, "the silent instance's flags");

    const N = 7; // alice: on
    const M = 11; // bob: off
    for (let i = 0; i < 4; i++) {
      assert.equal(await of.getBooleanValue('Checkout.NewFlow', false, { targetingKey: 'alice' }), true);
    }
    for (let i = 0; i < N - 4; i++) {
      assert.equal(flags.getBoolean('Checkout.NewFlow', false, { targetingKey: 'alice' }).variant, 'on');
    }
    for (let i = 0; i < 5; i++) {
      assert.equal(await of.getBooleanValue('Checkout.NewFlow', true, { targetingKey: 'bob' }), false);
    }
    for (let i = 0; i < M - 5; i++) {
      assert.equal(flags.getBoolean('Checkout.NewFlow', true, { targetingKey: 'bob' }).variant, 'off');
    }
    // Search.Ranking is evaluated from `overrides` (the later namespace): it is that namespace's.
    for (let i = 0; i < 3; i++) {
      assert.equal((await of.getStringDetails('Search.Ranking', 'none', { targetingKey: 'bob' })).variant, 'learned');
    }
    // Errors are not counted.
    assert.equal((await of.getBooleanDetails('No.Such.Flag', true, { targetingKey: 'bob' })).errorCode, 'FLAG_NOT_FOUND');
    assert.equal((await of.getNumberDetails('Checkout.NewFlow', 1, { targetingKey: 'bob' })).errorCode, 'TYPE_MISMATCH');
    for (let i = 0; i < 5; i++) {
      silentFlags.getBoolean('Checkout.NewFlow', false, { targetingKey: 'alice' });
    }

    const features = await usageShows('features', { 'Checkout.NewFlow': { on: N, off: M } });
    const flow = flagIn(features, 'Checkout.NewFlow');
    assert.equal(flow.instances, 1);
    assert.ok(flow.lastEvaluated, 'lastEvaluated is set');
    assert.equal(flow.stale, false);
    // Not evaluated in `features`: Search.Ranking is overridden, Never.Used is not used.
    for (const name of ['Search.Ranking', 'Never.Used']) {
      const entry = flagIn(features, name);
      assert.deepEqual([entry.variants, entry.instances, entry.lastEvaluated], [{}, 0, null], name);
    }
    const overrides = await usageShows('overrides', { 'Search.Ranking': { learned: 3 } });
    const ranking = flagIn(overrides, 'Search.Ranking');
    assert.deepEqual([ranking.instances, ranking.stale], [1, false]);
    assert.ok(ranking.lastEvaluated);

    // No new release: the periodic re-send carries what is evaluated next.
    for (let i = 0; i < 2; i++) {
      await of.getBooleanValue('Checkout.NewFlow', true, { targetingKey: 'bob' });
    }
    await usageShows('features', { 'Checkout.NewFlow': { on: N, off: M + 2 } });
    assert.equal(flagIn(await usage('features'), 'Checkout.NewFlow').instances, 1);

    // The silent instance sent nothing (checked after several of the other client's report periods).
    assert.deepEqual(silentReports, []);
    const instances = JSON.stringify(await api.instances('shop', 'PRO', 'features'));
    assert.ok(instances.includes('pod-insight') && !instances.includes('pod-silent'), instances);
  });

  it('with flagUsageReportIntervalMs 0 the counts go with the report of the next release only', async () => {
    const doc = (description) => ({ flags: { 'Only.On.Release': { type: 'boolean', description, defaultVariant: 'on' } } });
    await api.call('POST', '/apps/shop/envs/PRO/namespaces', { name: 'rollout', format: 'flags' });
    await publish('rollout', doc('first'));
    const flags = client('pod-release', { flagUsageReportIntervalMs: 0 }).flags(['rollout']);
    closers.push(() => flags.close());
    await eventually(() => flags.set.size === 1, 'the rollout flags');
    // The first release's report (sent once it applied) carries no evaluations.
    await eventually(async () => JSON.stringify(await api.instances('shop', 'PRO', 'rollout')).includes('pod-release'), 'the first report');
    for (let i = 0; i < 4; i++) {
      assert.equal(flags.getBoolean('Only.On.Release', false).variant, 'on');
    }
    await publish('rollout', doc('second'));
    await usageShows('rollout', { 'Only.On.Release': { on: 4 } });
  });
});

function sorted(object) {
  return Object.fromEntries(Object.entries(object ?? {}).sort(([a], [b]) => a.localeCompare(b)));
}
