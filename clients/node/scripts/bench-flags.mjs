// Measures FlagSet evaluations per second on one core (docs/node-client.md, "Feature flags"): a boolean flag with a
// users rule and a 20% rollout rule, evaluated for 10,000 distinct targeting keys in turn (most fall through the users
// rule and are hashed by the rollout). Run after `npm run build`: node scripts/bench-flags.mjs
import { FlagSet } from '../dist/index.js';

const set = FlagSet.parse(JSON.stringify({
  flags: {
    'Checkout.NewFlow': {
      type: 'boolean',
      defaultVariant: 'off',
      rules: [
        { name: 'staff', users: ['alice', 'bob', 'carol'], variant: 'on' },
        { name: 'ramp', rollout: [{ variant: 'on', percentage: 20 }] },
      ],
    },
  },
}));
const contexts = Array.from({ length: 10_000 }, (_, i) => ({ targetingKey: i % 1000 === 0 ? 'alice' : `user-${i}` }));

function run(count) {
  let on = 0;
  for (let i = 0; i < count; i++) {
    if (set.getBoolean('Checkout.NewFlow', false, contexts[i % contexts.length]).value) {
      on++;
    }
  }
  return on;
}

run(2_000_000); // warm up (JIT)
const rounds = [];
for (let round = 0; round < 5; round++) {
  const count = 5_000_000;
  const started = process.hrtime.bigint();
  run(count);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  rounds.push(count / seconds);
}
rounds.sort((a, b) => a - b);
const median = rounds[Math.floor(rounds.length / 2)];
console.log(`evaluations/s (median of 5 rounds of 5,000,000): ${Math.round(median).toLocaleString('en-US')}`);
console.log(`rounds: ${rounds.map((r) => Math.round(r).toLocaleString('en-US')).join(', ')}`);
