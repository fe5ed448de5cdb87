// A brain lock holder for the lease tests, in a process of its own: takes the lock with the
// stale and renewal periods given, prints {"held": pid} once it holds it and {"lost": why}
// when the lease is no longer its own (then exits 0); SIGTERM releases it.
// node --import tsx test/helpers/leaseHolder.ts <mount root> <staleMs> <renewMs>
import { acquireBrainLock } from '../../agents/brain/lock.ts';
import { mountPaths } from '../../agents/core/paths.ts';

const [root, staleMs, renewMs] = process.argv.slice(2);
const print = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
const lock = await acquireBrainLock(
  mountPaths(root!),
  (err) => {
    print({ lost: err.message });
    process.exit(0);
  },
  { staleMs: Number(staleMs), renewMs: Number(renewMs), say: (line) => print({ said: line }) },
);
print({ held: process.pid });
const keepAlive = setInterval(() => {}, 1000);
process.on('SIGTERM', () => {
  clearInterval(keepAlive);
  void lock.release().then(() => process.exit(0));
});
