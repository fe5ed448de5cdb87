// Whether the brain and an agent run, as one look of status can tell (agents/status/liveness.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type BrainLeaseSeen, type BrainState, agentAlive, brainIsDown, judgeBrain } from '../../agents/status/liveness.ts';

const owner = { pid: 4242, host: 'rig-a', since: '2026-01-01T00:00:00.000Z', seq: 12, token: 't' };

test('the brain: from its lock folder, its owner file and, on this host, its pid', () => {
  const cases: Array<[string, BrainLeaseSeen, BrainState, string, boolean]> = [
    ['no lock, no owner: never started here', { locked: false, owner: null, pid_alive: null }, 'not_running', 'brain: not running; start the rig', true],
    ['no lock, an owner left by a brain that stopped', { locked: false, owner, pid_alive: false }, 'not_running', 'brain: not running (the last one was pid 4242 on rig-a); start the rig', true],
    ['lock held, owner here, pid alive', { locked: true, owner, pid_alive: true }, 'running', 'brain: running, pid 4242 on this host (rig-a) since 2026-01-01T00:00:00.000Z', false],
    ['lock held, owner here, pid gone (killed)', { locked: true, owner, pid_alive: false }, 'down', 'brain: down: pid 4242 on this host (rig-a) is gone, its lock left behind; start the rig', true],
    ['lock held, owner on another host', { locked: true, owner, pid_alive: null }, 'elsewhere', 'brain: on host rig-a (pid 4242), not checkable from here', false],
    ['lock held, no readable owner', { locked: true, owner: null, pid_alive: null }, 'unknown', 'brain: the lock is held but brain/brain.owner names no owner (a brain starting?)', false],
  ];
  for (const [what, seen, state, text, down] of cases) {
    const v = judgeBrain(seen);
    assert.deepEqual([v.state, v.text, brainIsDown(v)], [state, text, down], what);
  }
  assert.deepEqual(judgeBrain({ locked: true, owner, pid_alive: true }), { state: 'running', pid: 4242, host: 'rig-a', since: owner.since, text: 'brain: running, pid 4242 on this host (rig-a) since 2026-01-01T00:00:00.000Z' });
});

test('an agent: fresh heartbeat and a pid not seen gone', () => {
  const cases: Array<[string, number | null, boolean | null, boolean]> = [
    ['fresh, pid alive here', 5, true, true],
    ['fresh, on another host', 5, null, true],
    ['fresh, pid gone here: down at once', 5, false, false],
    ['stale, pid alive (frozen or skewed)', 500, true, false],
    ['no readable time', null, null, false],
    ['exactly at the limit', 120, null, true],
  ];
  for (const [what, age, pid, alive] of cases) assert.equal(agentAlive(age, 120, pid), alive, what);
});
