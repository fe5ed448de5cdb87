import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideRestart } from '../../agents/rig/restartPolicy.ts';

test('restarts with doubling backoff, at most 3 times in 10 minutes, then stays down', () => {
  const now = 1_000_000;
  assert.deepEqual(decideRestart([], now), { restart: true, delayMs: 1000, n: 1 });
  assert.deepEqual(decideRestart([now - 5000], now), { restart: true, delayMs: 2000, n: 2 });
  assert.deepEqual(decideRestart([now - 9000, now - 5000], now), { restart: true, delayMs: 4000, n: 3 });
  const v = decideRestart([now - 9000, now - 5000, now - 1000], now);
  assert.equal(v.restart, false);
  assert.match(v.restart === false ? v.reason : '', /died 4 times within 10 minutes/);
  // Restarts older than the window no longer count.
  assert.equal(decideRestart([now - 11 * 60_000, now - 5000, now - 1000], now).restart, true);
});
