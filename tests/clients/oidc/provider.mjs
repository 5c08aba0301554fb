// A real OpenID Connect provider (panva's oidc-provider, certified by the OpenID Foundation) on a free loopback port,
// for the console's OIDC sign-in tests. One confidential client, a few accounts with groups, the package's own
// development login form (any password is accepted: the tests are about the relying party, not the provider).
//
//   node provider.mjs --client-id ID --client-secret SECRET --redirect-uri URL [--redirect-uri URL ...]
//                     [--post-logout-redirect-uri URL ...] [--no-end-session] [--alg RS256|ES256] [--test-hooks] [--port N]
//
// RP-Initiated Logout is on (its end_session_endpoint in the discovery document, the package's own "Do you want to
// sign-out" page) for the --post-logout-redirect-uri URLs registered for the client; --no-end-session turns it off, as
// at a provider that offers no logout.
// Listens on --port (default: a free one; a test that must name the issuer before the provider starts picks one).
// Prints "oidc provider ready at <issuer>" once it answers. --test-hooks adds POST /__test/misbehave?mode=..., which
// makes the token endpoint answer the next code exchanges with a bad ID token (a tampered signature, another
// audience, an expired token, a wrong nonce or issuer, alg "none"), minted with the provider's own keys, so a test can
// check that the relying party refuses each one. Stops on SIGTERM/SIGINT or when stdin closes.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';
import { SignJWT, importJWK, decodeJwt, decodeProtectedHeader, base64url } from 'jose';

function parseArgs(argv) {
  const args = { redirectUris: [], postLogoutRedirectUris: [], endSession: true, alg: 'RS256', testHooks: false, port: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--client-id': args.clientId = next(); break;
      case '--client-secret': args.clientSecret = next(); break;
      case '--redirect-uri': args.redirectUris.push(next()); break;
      case '--post-logout-redirect-uri': args.postLogoutRedirectUris.push(next()); break;
      case '--no-end-session': args.endSession = false; break;
      case '--alg': args.alg = next(); break;
      case '--test-hooks': args.testHooks = true; break;
      case '--port': args.port = Number(next()); break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!args.clientId || !args.clientSecret || args.redirectUris.length === 0) {
    throw new Error('usage: provider.mjs --client-id ID --client-secret SECRET --redirect-uri URL [--alg RS256|ES256] [--test-hooks]');
  }
  if (!['RS256', 'ES256'].includes(args.alg)) throw new Error(`--alg ${args.alg}: RS256 or ES256`);
  return args;
}

const args = parseArgs(process.argv.slice(2));

// Accounts: the login name is the account id.
const accounts = {
  carol: { name: 'Carol Editor', groups: ['config-editors'] },
  dave: { name: 'Dave Viewer', groups: ['viewers', 'ops'] },
  erin: { name: 'Erin', groups: [] },
  // Collides with the member's local root user: the member must refuse it.
  root: { name: 'Not The Real Root', groups: ['root'] },
};

// Signing keys made at each start, so nothing secret sits in the repository.
const rsa = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }), kid: `rsa-${randomUUID()}`, alg: 'RS256', use: 'sig' };
const ec = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: `ec-${randomUUID()}`, alg: 'ES256', use: 'sig' };

const server = createServer();
await new Promise((resolve, reject) => { server.once('error', reject); server.listen(args.port, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: args.clientId,
    client_secret: args.clientSecret,
    redirect_uris: args.redirectUris,
    post_logout_redirect_uris: args.postLogoutRedirectUris,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    id_token_signed_response_alg: args.alg,
  }],
  jwks: { keys: [rsa, ec] },
  cookies: { keys: [randomUUID()] },
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    groups: ['groups'],
  },
  // Scope claims in the ID token (the relying party reads the ID token only).
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: args.endSession } },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, name: account.name, groups: account.groups };
      },
    };
  },
  // A first-party client: no consent screen, the grant is made on the first sign-in.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile groups');
    grant.addOIDCClaims(['preferred_username', 'name', 'groups']);
    await grant.save();
    return grant;
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>oidc error</title><pre>${JSON.stringify(out).replace(/</g, '&lt;')}</pre>`;
  },
});

// --test-hooks: the next token responses carry a bad ID token of the kind asked for.
let misbehave = null;
async function badIdToken(idToken, mode) {
  const claims = decodeJwt(idToken);
  const header = decodeProtectedHeader(idToken);
  const jwk = header.alg === 'ES256' ? ec : rsa;
  const key = await importJWK(jwk, header.alg);
  const sign = body => new SignJWT(body).setProtectedHeader({ alg: header.alg, kid: jwk.kid, typ: 'JWT' }).sign(key);
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case 'signature': {
      const [h, p, s] = idToken.split('.');
      const bytes = base64url.decode(s);
      bytes[bytes.length >> 1] ^= 0x01;
      return `${h}.${p}.${base64url.encode(bytes)}`;
    }
    case 'payload': {
      // The signature of the original token over a changed payload (another user).
      const [h, , s] = idToken.split('.');
      return `${h}.${base64url.encode(JSON.stringify({ ...claims, preferred_username: 'mallory', sub: 'mallory' }))}.${s}`;
    }
    case 'audience': return sign({ ...claims, aud: 'another-client' });
    case 'expired': return sign({ ...claims, iat: now - 3600, exp: now - 1800 });
    case 'nonce': return sign({ ...claims, nonce: 'not-the-nonce' });
    case 'issuer': return sign({ ...claims, iss: 'http://127.0.0.1:1' });
    case 'none': {
      const h = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
      return `${h}.${base64url.encode(JSON.stringify(claims))}.`;
    }
    default: throw new Error(`unknown misbehave mode ${mode}`);
  }
}

if (args.testHooks) {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'token' && misbehave && ctx.body?.id_token) {
      ctx.body = { ...ctx.body, id_token: await badIdToken(ctx.body.id_token, misbehave) };
      console.log(`token endpoint answered with a bad ID token (${misbehave})`);
    }
  });
}

const callback = provider.callback();
server.on('request', (req, res) => {
  if (args.testHooks && req.url.startsWith('/__test/misbehave')) {
    const mode = new URL(req.url, issuer).searchParams.get('mode');
    misbehave = mode && mode !== 'off' ? mode : null;
    console.log(`misbehave: ${misbehave ?? 'off'}`);
    res.writeHead(204).end();
    return;
  }
  callback(req, res);
});

provider.on('server_error', (ctx, err) => console.error(`server_error: ${err.stack}`));
provider.on('grant.error', (ctx, err) => console.log(`grant.error: ${err.message} ${err.error_description ?? ''}`));

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();

console.log(`oidc provider ready at ${issuer} (alg ${args.alg})`);
