// What the brain learns for predictions (agents/brain/profiles.ts): runtimes, start lags, VRAM
// peaks and foreach item counts per (plan, template), from the latest batch; and the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import type { TaskInput, WorkerResult } from '../../agents/core/task.ts';
import { MAX_SAMPLES, MAX_TEMPLATES, emptyProfiles, learnFromBatchEnd, learnFromTask, profilesPath, readProfiles, readyTime, writeProfiles } from '../../agents/brain/profiles.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();

function result(startMs: number, durationMs: number, over: Partial<WorkerResult> = {}): WorkerResult {
  return {
    task_id: 'x', attempt: 1, outcome: 'success', failure_kind: null, exit_code: 0, signal: null, reason: null,
    started_at: iso(startMs), finished_at: iso(startMs + durationMs), duration_ms: durationMs, stdout_path: null, stderr_path: null, ...over,
  };
}
const item = (batch: string, n: number, startMs: number, durationMs: number, over: Partial<TaskInput> = {}, res: Partial<WorkerResult> = {}) =>
  makeTask({ batch, plan: 'video', name: `transcribe.${n}`, template: 'transcribe', item_index: n - 1, task_class: 'script', result: result(startMs, durationMs, res), finished_at: iso(startMs + durationMs), ...over });

test('learning a template: the median and the max of its items, the smallest start lag, the largest peak, the item count', () => {
  const p = emptyProfiles();
  const runs: Array<[number, number, number]> = [[1, 400, 2000], [2, 410, 2600], [3, 1900, 2100], [4, 2000, 9000]]; // n, started, duration
  for (const [n, start, d] of runs) {
    assert.equal(learnFromTask(p, item('b1', n, start, d, {}, { peak_vram_mb: 500 + n }), { readyAt: T0 + 100, items: 4, now: 'now' }), 'video/transcribe');
  }
  const e = p.templates['video/transcribe']!;
  assert.deepEqual(
    { runs: e.runs, median: e.median_ms, max: e.max_ms, lag: e.start_lag_ms, peak: e.peak_vram_mb, items: e.items, cls: e.task_class, batch: e.batch },
    { runs: 4, median: 2350, max: 9000, lag: 300, peak: 504, items: 4, cls: 'script', batch: 'b1' },
  );
});

test('learning: a newer batch replaces the older one\'s figures; failures, brain tasks and foreach templates teach nothing', () => {
  const p = emptyProfiles();
  learnFromTask(p, item('b1', 1, 0, 5000, {}, { peak_vram_mb: 900 }), { readyAt: T0, items: 1, now: 'a' });
  learnFromTask(p, item('b2', 1, 50, 1000), { readyAt: T0, items: 2, now: 'b' });
  assert.deepEqual(p.templates['video/transcribe'], {
    batch: 'b2', at: 'b', task_class: 'script', executor: 'worker', runs: 1, durations_ms: [1000], median_ms: 1000, max_ms: 1000, start_lag_ms: 50, peak_vram_mb: null, items: 2, close_ms: null,
  });
  const failed = item('b3', 1, 0, 7, {}, { outcome: 'failed', failure_kind: 'app', exit_code: 1 });
  assert.equal(learnFromTask(p, failed, { readyAt: 0, items: null, now: 'c' }), null);
  assert.equal(learnFromTask(p, makeTask({ plan: 'video', name: 'batch_summary', executor: 'brain', result: result(0, 0) }), { readyAt: 0, items: null, now: 'c' }), null);
  assert.equal(learnFromTask(p, makeTask({ plan: 'video', name: 'transcribe', foreach: { path: '/m.json', key: 'v' }, result: result(0, 0) }), { readyAt: 0, items: null, now: 'c' }), null);
  assert.equal(p.templates['video/transcribe']!.batch, 'b2');
});

test('learning: durations kept for the median are bounded; a start before the ready time (a clock step) is no lag', () => {
  const p = emptyProfiles();
  for (let n = 1; n <= MAX_SAMPLES + 8; n++) learnFromTask(p, item('b1', n, 0, n), { readyAt: T0 + 10, items: null, now: 'x' });
  const e = p.templates['video/transcribe']!;
  assert.equal(e.durations_ms.length, MAX_SAMPLES);
  assert.equal(e.runs, MAX_SAMPLES + 8);
  assert.equal(e.max_ms, MAX_SAMPLES + 8);
  assert.equal(e.start_lag_ms, null);
});

test('learning: a load_llm task\'s runtime, or the load an llm request reported, is its model\'s load time', () => {
  const p = emptyProfiles();
  learnFromTask(p, makeTask({ plan: 'llm', name: 'warm', type: 'load_llm', task_class: 'meta', executor: 'agent', model: 'qwen2.5:7b', result: result(0, 41_000) }), { readyAt: 0, items: null, now: 'x' });
  assert.deepEqual(p.models, { 'qwen2.5:7b': { load_ms: 41_000, at: 'x' } });
  const llm = { model: 'llama3:8b', prompt_tokens: 10, output_tokens: 20, request_ms: 9000, tok_s: 5, load_ms: 7000, gpu_s: null, energy_wh: null };
  learnFromTask(p, makeTask({ plan: 'llm', name: 'answer.1', template: 'answer', type: 'generate', task_class: 'llm', result: result(0, 9000, { llm }) }), { readyAt: 0, items: null, now: 'y' });
  assert.deepEqual(Object.entries(p.models).at(-1), ['llama3:8b', { load_ms: 7000, at: 'y' }]);
});

test('ready time: the latest dependency\'s finish, the batch start for a first task, unknown while a dependency is unfinished', () => {
  const fin = new Map([['a', 100], ['b', 300]]);
  const f = (id: string) => fin.get(id) ?? null;
  assert.equal(readyTime({ depends_on: ['a', 'b'] }, f, 5), 300);
  assert.equal(readyTime({ depends_on: [] }, f, 5), 5);
  assert.equal(readyTime({ depends_on: ['a', 'c'] }, f, 5), null);
});

test('a batch\'s end: a foreach\'s item count and close, batch_summary\'s time to the batch\'s end; not from a failed batch', () => {
  const b = 'b1';
  const scan = makeTask({ batch: b, plan: 'video', name: 'scan', finished_at: iso(500), result: result(0, 500) });
  const kids = [item(b, 1, 600, 1000), item(b, 2, 600, 1200)];
  const template = makeTask({ batch: b, plan: 'video', name: 'transcribe', task_class: 'script', depends_on: [scan.id], foreach: { path: '/m.json', key: 'videos' }, expanded_into: kids.map((k) => k.id), finished_at: iso(1950), result: result(1950, 0) });
  const summary = makeTask({ batch: b, plan: 'video', name: 'batch_summary', executor: 'brain', depends_on: [scan.id, template.id], finished_at: iso(2000), result: result(2000, 0) });
  const rec = { id: b, plan: 'video', state: 'complete' as const, started_at: iso(0), finished_at: iso(2030) };
  const p = emptyProfiles();
  assert.deepEqual(learnFromBatchEnd(p, { ...rec, state: 'failed' }, [scan, ...kids, template, summary], 'x'), []);
  assert.deepEqual(learnFromBatchEnd(p, rec, [scan, ...kids, template, summary], 'x'), ['video/transcribe', 'video/batch_summary']);
  assert.equal(p.templates['video/transcribe']!.items, 2);
  assert.equal(p.templates['video/transcribe']!.close_ms, 150);
  assert.equal(p.templates['video/batch_summary']!.start_lag_ms, 80);
  // A foreach whose manifest was empty: no item ran, the count (0) is still learned.
  const empty = emptyProfiles();
  learnFromBatchEnd(empty, rec, [scan, { ...template, expanded_into: [] }], 'x');
  assert.equal(empty.templates['video/transcribe']!.items, 0);
});

test('profiles.json: written whole and read back; an unreadable file reads as nothing learned, with the reason', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    assert.deepEqual(await readProfiles(paths), { profiles: emptyProfiles(), problem: null });
    const p = emptyProfiles();
    learnFromTask(p, item('b1', 1, 0, 10), { readyAt: 0, items: 1, now: 'x' });
    await writeProfiles(paths, p);
    assert.deepEqual((await readProfiles(paths)).profiles, p);
    await writeFile(profilesPath(paths), '{"templates": 7}');
    const bad = await readProfiles(paths);
    assert.deepEqual(bad.profiles, emptyProfiles());
    assert.match(bad.problem ?? '', /profiles\.json: .*templates/);
  } finally {
    await cleanup();
  }
});

test('profiles.json: the most templates kept, each at its largest, still reads back (under the read limit); the oldest go first', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const p = emptyProfiles();
    const long = (i: number) => `${String(i).padStart(4, '0')}${'x'.repeat(60)}`;
    for (let i = 0; i < MAX_TEMPLATES + 5; i++) {
      for (let n = 0; n < MAX_SAMPLES; n++) {
        learnFromTask(p, makeTask({ batch: 'b'.repeat(64), plan: `p${'y'.repeat(63)}`, name: long(i), task_class: 'script', result: result(0, 2_592_000_000 + n, { peak_vram_mb: 81_920 }) }), { readyAt: T0, items: 100_000, now: iso(0) });
      }
    }
    assert.equal(Object.keys(p.templates).length, MAX_TEMPLATES);
    assert.ok(!Object.keys(p.templates).some((k) => k.endsWith(long(4))), 'the first learned went first');
    await writeProfiles(paths, p);
    const back = await readProfiles(paths);
    assert.equal(back.problem, null);
    assert.equal(Object.keys(back.profiles.templates).length, MAX_TEMPLATES);
  } finally {
    await cleanup();
  }
});
