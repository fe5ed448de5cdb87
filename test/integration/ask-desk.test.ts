// The brain's desk for realtime questions on a real temp mount, with an injected clock: a
// request becomes a sealed task in queue/, a restarted brain does not queue it twice, an ended
// task becomes the answer and is archived, a request half-written by hand waits out the grace,
// and housekeeping removes answered requests after requests_keep_hours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '../../agents/core/clock.ts';
import { Config } from '../../agents/core/config.ts';
import { DecisionLog } from '../../agents/core/decisionLog.ts';
import type { TaskFolder } from '../../agents/core/paths.ts';
import { AskAnswer, requestsDir, writeRequest } from '../../agents/core/request.ts';
import { checkSeal, readSeal } from '../../agents/core/seal.ts';
import { TaskStore } from '../../agents/core/store.ts';
import { AskDesk } from '../../agents/brain/requests.ts';
import { tempMount } from '../helpers/mount.ts';

const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'qwen2.5:7b', port: 1 }], housekeeping: { interval_s: 60, requests_keep_hours: 1 } });

async function where(store: TaskStore): Promise<Map<string, TaskFolder>> {
  const m = new Map<string, TaskFolder>();
  for (const f of ['queue', 'processing', 'complete', 'failed'] as const) for (const id of await store.list(f)) if (id.startsWith('ask__')) m.set(id, f);
  return m;
}

test('the ask desk: queued once across restarts, answered from the ended task, torn requests wait the grace, old answers removed', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const clock = new ManualClock();
    const store = new TaskStore(paths, { now: () => clock.now() });
    const make = () => new AskDesk({ paths, config, clock, store, log: new DecisionLog(paths.decisionLog, () => clock.now()), say: () => {} });
    const dir = requestsDir(paths);
    let desk = make();

    await writeRequest(paths, 'q1', { prompt: 'Why is the sky blue?', asked_at: '2026-01-01T00:00:00.000Z' });
    // Half-written by hand: not refused until it has stayed unparsable for timeouts.unreadable_grace_s.
    await writeFile(join(dir, 'torn.json'), '{"prompt": "Hal');
    await desk.step(await where(store));
    const queued = await store.read('queue', 'ask__q1');
    assert.ok(queued.ok);
    assert.equal(queued.task.priority, 0);
    assert.deepEqual(checkSeal(queued.task, await readSeal(paths, 'ask'), false), { ok: true });
    assert.ok((await readdir(dir)).includes('torn.json'), 'a torn request waits');
    assert.equal(desk.open.size, 1, 'open llm demand for the heat planner');

    // A restarted brain finds the task and does not queue it again.
    desk = make();
    await desk.step(await where(store));
    assert.deepEqual([...(await where(store)).keys()], ['ask__q1']);

    // The agent ran it: the answer is written beside the request, the task archived.
    const t = queued.task;
    const result = {
      task_id: t.id, attempt: 1, outcome: 'success' as const, failure_kind: null, exit_code: 0, signal: null, reason: null, started_at: '2026-01-01T00:00:01.000Z',
      finished_at: '2026-01-01T00:00:01.200Z', duration_ms: 200, stdout_path: null, stderr_path: null, output: { text: 'Rayleigh scattering.' },
      llm: { model: 'qwen2.5:7b', prompt_tokens: 6, output_tokens: 3, request_ms: 180, tok_s: 16.7, load_ms: null, gpu_s: null, energy_wh: null },
    };
    assert.ok(await store.move('ask__q1', 'queue', 'complete'));
    await store.write('complete', { ...t, attempt: 1, claimed_by: 'gpu-0', claimed_at: '2026-01-01T00:00:01.000Z', result });
    await desk.step(await where(store));
    const answer = AskAnswer.parse(JSON.parse(await readFile(join(dir, 'q1.answer.json'), 'utf8')));
    assert.equal(answer.text, 'Rayleigh scattering.');
    assert.equal(answer.agent, 'gpu-0');
    assert.equal(answer.output_tokens, 3);
    assert.equal(answer.asked_at, '2026-01-01T00:00:00.000Z', 'read back from the request by a brain that did not queue it');
    assert.ok((await readdir(join(paths.tasks, 'archive', 'ask'))).includes('ask__q1.json'));
    assert.equal((await where(store)).size, 0);

    // The torn request, still torn after the grace: quarantined, its answer says why.
    clock.advance(config.timeouts.unreadable_grace_s * 1000 + 1);
    await desk.step(await where(store));
    const torn = AskAnswer.parse(JSON.parse(await readFile(join(dir, 'torn.answer.json'), 'utf8')));
    assert.equal(torn.ok, false);
    assert.match(torn.reason!, /requests\/torn\.json: not valid JSON/);
    assert.ok(!(await readdir(dir)).includes('torn.json'));

    // Housekeeping: after requests_keep_hours, request, answer and archived task are removed;
    // a foreign file named like an answer does not stop it.
    await writeFile(join(dir, 'odd name.answer.json'), '{}');
    clock.advance(3600_000 + 60_000);
    await desk.step(await where(store));
    const left = await readdir(dir);
    assert.deepEqual(left.filter((n) => n.endsWith('.json')), ['odd name.answer.json'], left.join(', '));
    assert.deepEqual(await readdir(join(paths.tasks, 'archive', 'ask')), []);
    assert.match(await readFile(paths.decisionLog, 'utf8'), /HOUSEKEEPING .*removed 2 answered request\(s\)/);
  } finally {
    await cleanup();
  }
});
