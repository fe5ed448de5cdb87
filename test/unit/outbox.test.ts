import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emitEvent, eventFileName, idOfEventFile, listOutbox, makeEvent, type OutboxEvent } from '../../agents/core/outbox.ts';
import { ensureMount, mountPaths } from '../../agents/core/paths.ts';
import { afterTry, backoffMs, pendingSinks, sinkReady } from '../../agents/forward/deliveryPlan.ts';
import { Forwarder } from '../../agents/forward/drain.ts';
import { ForwardConfig, type Sink } from '../../agents/forward/forwardConfig.ts';
import { webhookBody } from '../../agents/forward/sinks.ts';

const T = Date.parse('2025-03-04T05:06:07.089Z');

test('an event: id from its type and key, one-line message, file name sorts by time', () => {
  const ev = makeEvent({ type: 'batch_failed', key: ['b1', '20250304T050607.089Z'], time: T, batch: 'b1', plan: 'p', message: 'batch b1 failed\n  3 tasks' });
  assert.deepEqual(ev, {
    v: 1, id: 'batch_failed.b1.20250304T050607.089Z', type: 'batch_failed', time: '2025-03-04T05:06:07.089Z',
    batch: 'b1', task: null, plan: 'p', agent: null, message: 'batch b1 failed 3 tasks', escalation: null,
  });
  assert.equal(eventFileName(ev), '20250304T050607.089Z-batch_failed.b1.20250304T050607.089Z.json');
  assert.equal(idOfEventFile(eventFileName(ev)), ev.id);
  assert.equal(idOfEventFile('.x.tmp'), null);
  assert.equal(idOfEventFile('notes.txt'), null);
  // Unsafe characters in a key cannot make a path.
  assert.equal(makeEvent({ type: 'agent_dead', key: ['../gpu 0'], time: T, message: 'x' }).id, 'agent_dead._gpu_0');
});

test('emitEvent writes an event once: the same id again, waiting or sent, writes nothing', async () => {
  const root = await mkdtemp(join(tmpdir(), 'forge-outbox-'));
  try {
    const paths = mountPaths(root);
    await ensureMount(paths);
    const ev = makeEvent({ type: 'task_gave_up', key: ['b1__a', 'a3'], time: T, message: 'gave up' });
    const file = await emitEvent(paths, ev);
    assert.equal(file, join(root, 'outbox', '20250304T050607.089Z-task_gave_up.b1__a.a3.json'));
    assert.deepEqual(JSON.parse(await readFile(file!, 'utf8')), ev);
    // Said again later (a restarted brain): nothing new.
    assert.equal(await emitEvent(paths, { ...ev, time: '2025-03-04T06:00:00.000Z' }), null);
    await rm(file!);
    await writeFile(join(root, 'outbox', 'sent', '20250304T050607.089Z-task_gave_up.b1__a.a3.json'), '{}');
    assert.equal(await emitEvent(paths, ev), null);
    assert.deepEqual(await listOutbox(paths), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('delivery plan: pending sinks in config order, doubling backoff to its cap', () => {
  assert.deepEqual(pendingSinks(['slack', 'log', 'hook'], ['log']), ['slack', 'hook']);
  assert.deepEqual(pendingSinks(['slack'], ['slack', 'gone']), []);
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffMs(n, 2, 20)), [2000, 4000, 8000, 16000, 20000, 20000]);
  const h = afterTry(undefined, false, 1000, 2, 20);
  assert.deepEqual(h, { failures: 1, retryAt: 3000 });
  assert.equal(sinkReady(h, 2999), false);
  assert.equal(sinkReady(h, 3000), true);
  assert.deepEqual(afterTry(h, false, 3000, 2, 20), { failures: 2, retryAt: 7000 });
  assert.equal(afterTry(h, true, 3000, 2, 20), undefined);
});

test('webhook bodies: slack text with the event id; json is the event', () => {
  const ev = makeEvent({ type: 'batch_failed', key: ['b1'], time: T, batch: 'b1', message: 'batch b1 failed: 1 complete, 1 failed or not run, of 2' });
  assert.deepEqual(webhookBody('slack', ev), { text: '[forge] batch_failed: batch b1 failed: 1 complete, 1 failed or not run, of 2 (batch b1)', event_id: 'batch_failed.b1' });
  assert.equal(webhookBody('json', ev), ev);
});

test('forward.json: every problem named', () => {
  const r = ForwardConfig.safeParse({ sinks: [{ name: 'a', type: 'webhook', url: 'ftp://x' }, { name: 'a', type: 'file', path: '/tmp/x' }] });
  assert.equal(r.success, false);
  const ok = ForwardConfig.parse({ sinks: [{ name: 'slack', type: 'webhook', url: 'https://hooks.example/x', format: 'slack' }] });
  assert.deepEqual(ok, { sinks: [{ name: 'slack', type: 'webhook', url: 'https://hooks.example/x', format: 'slack' }], poll_s: 5, timeout_s: 15, backoff: { base_s: 2, cap_s: 300 } });
});

test('a pass delivers each event to each sink once; a sink that is down keeps its events, and later gets only what it lacks', async () => {
  const root = await mkdtemp(join(tmpdir(), 'forge-forward-'));
  try {
    const paths = mountPaths(root);
    await ensureMount(paths);
    for (const [i, b] of ['b1', 'b2'].entries()) await emitEvent(paths, makeEvent({ type: 'batch_failed', key: [b], time: T + i, batch: b, message: `${b} failed` }));
    const config = ForwardConfig.parse({ sinks: [{ name: 'log', type: 'file', path: '/unused' }, { name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/' }], backoff: { base_s: 10, cap_s: 10 } });
    let now = 0;
    let hookUp = false;
    const got: string[] = [];
    const deliver = async (s: Sink, ev: OutboxEvent) => {
      if (s.name === 'hook' && !hookUp) throw new Error('connect ECONNREFUSED');
      got.push(`${s.name}:${ev.id}`);
    };
    const lines: string[] = [];
    const fwd = new Forwarder({ paths, config, deliver, now: () => now, say: (l) => lines.push(l) });

    assert.deepEqual(await fwd.drain(), { sent: 0, waiting: 2 });
    assert.deepEqual(got, ['log:batch_failed.b1', 'log:batch_failed.b2']);
    // The down sink was tried once, then left alone for its backoff.
    assert.deepEqual(lines.filter((l) => l.includes('failed (')), [
      'forward: batch_failed.b1 to hook failed (connect ECONNREFUSED); failure 1 in a row, hook tried again in 10 s; the event stays in outbox/',
    ]);
    assert.deepEqual(JSON.parse(await readFile(join(root, 'outbox', 'delivering', 'batch_failed.b1.json'), 'utf8')), { id: 'batch_failed.b1', done: ['log'] });

    hookUp = true;
    now = 5000; // still backing off
    assert.deepEqual(await fwd.drain(), { sent: 0, waiting: 2 });
    now = 10_000;
    assert.deepEqual(await fwd.drain(), { sent: 2, waiting: 0 });
    assert.deepEqual(got, ['log:batch_failed.b1', 'log:batch_failed.b2', 'hook:batch_failed.b1', 'hook:batch_failed.b2']);
    assert.equal((await readdir(join(root, 'outbox', 'sent'))).length, 2);
    assert.deepEqual(await readdir(join(root, 'outbox', 'delivering')), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('an event that does not read is left in outbox/ and said once', async () => {
  const root = await mkdtemp(join(tmpdir(), 'forge-forward-'));
  try {
    const paths = mountPaths(root);
    await mkdir(paths.outbox, { recursive: true });
    await writeFile(join(paths.outbox, '20250304T050607.089Z-batch_failed.b1.json'), '{"half');
    const lines: string[] = [];
    const config = ForwardConfig.parse({ sinks: [{ name: 'log', type: 'file', path: '/unused' }] });
    const fwd = new Forwarder({ paths, config, deliver: async () => assert.fail('nothing to deliver'), now: () => 0, say: (l) => lines.push(l) });
    assert.deepEqual(await fwd.drain(), { sent: 0, waiting: 1 });
    assert.deepEqual(await fwd.drain(), { sent: 0, waiting: 1 });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^forward: \S+20250304T050607\.089Z-batch_failed\.b1\.json: .+; left in outbox\/ for a person \(not sent\)$/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('gpu_constrained: told once per stretch, after the threshold; a healthy beat ends the stretch', async () => {
  const { decideConstrained } = await import('../../agents/brain/constrainedWatch.ts');
  const hot = { name: 'gpu-0', health: 'constrained' as const, health_reasons: ['temperature 90 C >= 85 C'] };
  let d = decideConstrained(new Map(), [hot], 0, 600_000);
  assert.deepEqual(d.alerts, []);
  d = decideConstrained(d.spells, [hot], 599_999, 600_000);
  assert.deepEqual(d.alerts, []);
  d = decideConstrained(d.spells, [hot], 600_000, 600_000);
  assert.deepEqual(d.alerts, [{ agent: 'gpu-0', since: 0, reasons: ['temperature 90 C >= 85 C'] }]);
  d = decideConstrained(d.spells, [hot], 900_000, 600_000);
  assert.deepEqual(d.alerts, []);
  d = decideConstrained(d.spells, [{ ...hot, health: 'healthy' as const }], 901_000, 600_000);
  assert.deepEqual([...d.spells.keys()], []);
});
