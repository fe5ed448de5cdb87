import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker, type CircuitOptions, type CircuitState } from '../../agents/llm/circuit.ts';

// One step of a script: at time t (ms), do something, and expect the breaker's answer and state after it.
type Step =
  | { t: number; do: 'canUse'; expect: boolean; state: CircuitState }
  | { t: number; do: 'fail'; state: CircuitState; reason?: string }
  | { t: number; do: 'ok'; state: CircuitState };

interface Case {
  name: string;
  opts?: CircuitOptions;
  steps: Step[];
}

const S = 1000;

const cases: Case[] = [
  {
    name: 'stays closed below the threshold, and a success resets the count',
    steps: [
      { t: 0, do: 'fail', state: 'closed' },
      { t: 1, do: 'fail', state: 'closed' },
      { t: 2, do: 'ok', state: 'closed' },
      { t: 3, do: 'fail', state: 'closed' },
      { t: 4, do: 'fail', state: 'closed' },
      { t: 5, do: 'canUse', expect: true, state: 'closed' },
    ],
  },
  {
    name: 'opens after 3 consecutive failures and refuses until the cool-down passes',
    steps: [
      { t: 0, do: 'fail', state: 'closed' },
      { t: 0, do: 'fail', state: 'closed' },
      { t: 10 * S, do: 'fail', state: 'open', reason: 'e3' },
      { t: 10 * S + 1, do: 'canUse', expect: false, state: 'open' },
      { t: 69 * S, do: 'canUse', expect: false, state: 'open' },
      { t: 70 * S, do: 'canUse', expect: true, state: 'half_open' },
    ],
  },
  {
    name: 'half_open allows one probe; its success closes the circuit',
    steps: [
      { t: 0, do: 'fail', state: 'closed' },
      { t: 0, do: 'fail', state: 'closed' },
      { t: 0, do: 'fail', state: 'open' },
      { t: 60 * S, do: 'canUse', expect: true, state: 'half_open' },
      { t: 60 * S, do: 'canUse', expect: false, state: 'half_open' },
      { t: 61 * S, do: 'ok', state: 'closed' },
      { t: 61 * S, do: 'canUse', expect: true, state: 'closed' },
    ],
  },
  {
    name: 'a failed probe re-opens with the cool-down doubled, up to the cap',
    opts: { coolDownMs: 60 * S, maxCoolDownMs: 200 * S },
    steps: [
      { t: 0, do: 'fail', state: 'closed' },
      { t: 0, do: 'fail', state: 'closed' },
      { t: 0, do: 'fail', state: 'open' },
      { t: 60 * S, do: 'canUse', expect: true, state: 'half_open' },
      { t: 60 * S, do: 'fail', state: 'open' }, // now 120 s
      { t: 179 * S, do: 'canUse', expect: false, state: 'open' },
      { t: 180 * S, do: 'canUse', expect: true, state: 'half_open' },
      { t: 180 * S, do: 'fail', state: 'open' }, // 240 s capped to 200 s
      { t: 379 * S, do: 'canUse', expect: false, state: 'open' },
      { t: 380 * S, do: 'canUse', expect: true, state: 'half_open' },
      { t: 380 * S, do: 'fail', state: 'open' }, // stays at the cap
      { t: 579 * S, do: 'canUse', expect: false, state: 'open' },
      { t: 580 * S, do: 'canUse', expect: true, state: 'half_open' },
      { t: 581 * S, do: 'ok', state: 'closed' },
    ],
  },
  {
    name: 'after closing, the next opening uses the base cool-down again',
    steps: [
      { t: 0, do: 'fail', state: 'closed' },
      { t: 0, do: 'fail', state: 'closed' },
      { t: 0, do: 'fail', state: 'open' },
      { t: 60 * S, do: 'canUse', expect: true, state: 'half_open' },
      { t: 60 * S, do: 'fail', state: 'open' }, // 120 s
      { t: 180 * S, do: 'canUse', expect: true, state: 'half_open' },
      { t: 180 * S, do: 'ok', state: 'closed' },
      { t: 200 * S, do: 'fail', state: 'closed' },
      { t: 200 * S, do: 'fail', state: 'closed' },
      { t: 200 * S, do: 'fail', state: 'open' },
      { t: 259 * S, do: 'canUse', expect: false, state: 'open' },
      { t: 260 * S, do: 'canUse', expect: true, state: 'half_open' },
    ],
  },
  {
    name: 'a probe that never reports is given up after the probe timeout',
    opts: { coolDownMs: 10 * S, probeTimeoutMs: 30 * S },
    steps: [
      { t: 0, do: 'fail', state: 'closed' },
      { t: 0, do: 'fail', state: 'closed' },
      { t: 0, do: 'fail', state: 'open' },
      { t: 10 * S, do: 'canUse', expect: true, state: 'half_open' },
      { t: 39 * S, do: 'canUse', expect: false, state: 'half_open' },
      { t: 40 * S, do: 'canUse', expect: true, state: 'half_open' },
    ],
  },
  {
    name: 'a failure reported while open (a call already in flight) keeps the schedule',
    steps: [
      { t: 0, do: 'fail', state: 'closed' },
      { t: 0, do: 'fail', state: 'closed' },
      { t: 0, do: 'fail', state: 'open' },
      { t: 30 * S, do: 'fail', state: 'open', reason: 'late' },
      { t: 60 * S, do: 'canUse', expect: true, state: 'half_open' },
    ],
  },
  {
    name: 'a threshold of 1 opens on the first failure',
    opts: { failureThreshold: 1, coolDownMs: 5 * S },
    steps: [
      { t: 0, do: 'fail', state: 'open' },
      { t: 4 * S, do: 'canUse', expect: false, state: 'open' },
      { t: 5 * S, do: 'canUse', expect: true, state: 'half_open' },
    ],
  },
];

for (const c of cases) {
  test(`circuit: ${c.name}`, () => {
    const cb = new CircuitBreaker(c.opts);
    for (const [i, step] of c.steps.entries()) {
      const where = `step ${i} (${step.do} at ${step.t} ms)`;
      if (step.do === 'canUse') assert.equal(cb.canUse(step.t), step.expect, `${where}: canUse`);
      else if (step.do === 'fail') cb.recordFailure(step.t, step.reason ?? `e${i + 1}`);
      else cb.recordSuccess();
      assert.equal(cb.state, step.state, `${where}: state`);
      if (step.do === 'fail' && step.reason) assert.equal(cb.reason, step.reason, `${where}: reason`);
    }
  });
}

test('circuit: reason is the last error, and null once a call succeeds', () => {
  const cb = new CircuitBreaker();
  assert.equal(cb.reason, null);
  cb.recordFailure(0, 'Ollama at http://127.0.0.1:11435 is unreachable (ECONNREFUSED)');
  assert.equal(cb.reason, 'Ollama at http://127.0.0.1:11435 is unreachable (ECONNREFUSED)');
  cb.recordFailure(1, 'second');
  assert.equal(cb.reason, 'second');
  cb.recordSuccess();
  assert.equal(cb.reason, null);
  assert.deepEqual(cb.snapshot(), { state: 'closed', failures: 0, reason: null, openUntil: null, coolDownMs: 60_000, probeAt: null });
});

test('circuit: snapshot shows when a probe will be allowed', () => {
  const cb = new CircuitBreaker({ failureThreshold: 2, coolDownMs: 1000 });
  cb.recordFailure(100, 'a');
  cb.recordFailure(200, 'b');
  assert.equal(cb.snapshot().openUntil, 1200);
});

test('circuit: bad options are refused with the option and the value', () => {
  assert.throws(() => new CircuitBreaker({ failureThreshold: 0 }), /failureThreshold must be an integer of at least 1, got 0/);
  assert.throws(() => new CircuitBreaker({ coolDownMs: -5 }), /coolDownMs must be positive, got -5/);
});
