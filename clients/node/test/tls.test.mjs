// @conclave/client over TLS with client certificates required (the member's --client-cert-auth): the certificates come
// from the .NET test that runs this file (NodeClientTests issues them with Conclave.Testing's TestCertificates and
// passes their paths in CONCLAVE_TEST_TLS); without it this file is skipped.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConclaveClient, ConclaveUnavailableError } from '../dist/index.js';
import { CenterApi, eventually, startMember, stopAll } from './harness.mjs';

const tlsFiles = process.env.CONCLAVE_TEST_TLS ? JSON.parse(process.env.CONCLAVE_TEST_TLS) : undefined;

describe('TLS with client certificates', { skip: tlsFiles ? false : 'CONCLAVE_TEST_TLS is not set (NodeClientTests sets it)' }, () => {
  let member;
  const clients = [];
  const client = (options) => {
    const c = new ConclaveClient({ endpoints: [member.endpoint], app: 'tls', env: 'PRO', instanceId: 'pod-tls', retryBaseDelayMs: 50, callTimeoutMs: 3000, ...options });
    clients.push(c);
    return c;
  };

  before(async () => {
    member = await startMember(tlsFiles);
    await new CenterApi(member.httpUrl, member.clientTls()).createApp('tls', 'PRO', 'application', { port: '8443' });
  });

  after(async () => {
    clients.forEach((c) => c.close());
    await stopAll(member?.root);
  });

  it('fetches and follows changes over TLS with the client certificate', async () => {
    assert.match(member.endpoint, /^https:/);
    const c = client({ tls: member.clientTls() });
    assert.equal((await c.fetch('application')).items.port, '8443');
    const changes = [];
    const subscription = c.subscribe(['application'], (e) => changes.push(e));
    await eventually(() => changes.length === 1, 'the current release');
    const published = await new CenterApi(member.httpUrl, member.clientTls()).publish('tls', 'PRO', 'application', { port: '9443' });
    await eventually(() => changes.some((e) => e.snapshot.releaseId === published.id), 'the published release over TLS');
    subscription.close();
  });

  it('cannot connect without the CA or without a client certificate', async () => {
    const { ca } = member.clientTls();
    await assert.rejects(client({ tls: { ca } }).fetch('application'), ConclaveUnavailableError);
    await assert.rejects(client({}).fetch('application'), ConclaveUnavailableError);
  });
});
