// Reads or writes a last-known-good cache file with this package, for the .NET test that checks both clients share
// the format (tests/Conclave.Extensions.Configuration.Tests/NodeClientTests.cs).
//   node test/cache-interop.mjs read  DIR KEY APP ENV NS[,NS...]          prints {fileName, path, savedAt, releases}
//   node test/cache-interop.mjs write DIR KEY APP ENV NS[,NS...] JSONFILE  writes the releases in JSONFILE
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LastKnownGoodCache } from '../dist/index.js';

const [command, dir, key, app, env, namespaces, input] = process.argv.slice(2);
const list = namespaces.split(',');
const identity = LastKnownGoodCache.identity(app, env, list);
const fileName = LastKnownGoodCache.fileName(identity, app, env);
const cache = new LastKnownGoodCache(join(dir, fileName), LastKnownGoodCache.parseKey(key), identity);
if (command === 'read') {
  try {
    const contents = await cache.load();
    console.log(JSON.stringify({ fileName, path: cache.path, savedAt: contents?.savedAt, releases: contents?.releases ?? null }));
  } catch (e) {
    console.log(JSON.stringify({ fileName, error: e.name, message: e.message }));
  }
} else if (command === 'write') {
  const releases = JSON.parse(readFileSync(input, 'utf8')).map((r) => ({ ...r, createdAt: new Date(r.createdAt) }));
  await cache.save(releases);
  console.log(JSON.stringify({ fileName, path: cache.path }));
} else {
  console.error('usage: cache-interop.mjs read|write DIR KEY APP ENV NS[,NS...] [JSONFILE]');
  process.exit(2);
}
