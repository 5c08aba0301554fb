// Builds the package: the protocol's .proto files are copied from src/Conclave.Api/Protos (the one source of truth,
// the same files the server and the .NET client compile) into dist/protos, then tsc compiles src/ to dist/ with .d.ts.
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const protoSource = join(root, '..', '..', 'src', 'Conclave.Api', 'Protos', 'conclave', 'config', 'v1', 'config.proto');
if (!existsSync(protoSource)) {
  console.error(`build: ${protoSource} is missing (build from a checkout of the Conclave repository)`);
  process.exit(1);
}

rmSync(join(root, 'dist'), { recursive: true, force: true });
const protoTarget = join(root, 'dist', 'protos', 'conclave', 'config', 'v1');
mkdirSync(protoTarget, { recursive: true });
cpSync(protoSource, join(protoTarget, 'config.proto'));

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const run = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
process.exit(run.status ?? 1);
