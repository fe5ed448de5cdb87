// npm run doctor against a mount broken on purpose with the real store APIs: report-only
// lists every problem and changes nothing; --repair fixes them and says so; then all is clean.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { readBatchRecord, readBrainState, writeBatchRecord, writeBrainState, type BatchRecordInput } from '../../agents/core/batch.ts';
import { defaultGpus, writeConfig } from '../../agents/core/config.ts';
import { writeHeartbeat } from '../../agents/core/heartbeat.ts';
import { writeJsonAtomic } from '../../agents/core/atomic.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { TaskStore } from '../../agents/core/store.ts';
import type { Task, WorkerResult } from '../../agents/core/task.ts';
import { decisionText, makeTask, tempMount } from '../helpers/mount.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HOUR_AGO = new Date(Date.now() - 60 * 60 * 1000);
const OLD = HOUR_AGO.toISOString();

function doctor(paths: MountPaths, ...args: string[]) {
  return execa('node', [join(ROOT, 'bin', 'forge'), 'doctor', '--shared', paths.root, ...args], {
    cwd: ROOT, reject: false, env: { RIG_SHARED: '/nonexistent-rig-shared' }, timeout: 60_000,
  });
}

function failedResult(t: Task, attempt: number): WorkerResult {
  return {
    task_id: t.id, attempt, outcome: 'failed', failure_kind: 'app', exit_code: 2, signal: null, reason: 'exit 2',
    started_at: OLD, finished_at: OLD, duration_ms: 5, stdout_path: null, stderr_path: null,
  };
}

function finalFailure(t: Task): Task {
  return {
    ...t, attempt: 3, result: failedResult(t, 3),
    attempts: [1, 2, 3].map((n) => ({ attempt: n, agent: 'gpu-0', claimed_at: OLD, finished_at: OLD, outcome: 'failed' as const, failure_kind: 'app' as const, reason: 'exit 2', exit_code: 2 })),
  };
}

/** Every path on the mount with its type, size, modification time and a hash of its content. */
async function listing(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    const path = join(e.parentPath, e.name);
    const st = await lstat(path);
    const hash = e.isFile() ? createHash('sha256').update(await readFile(path)).digest('hex').slice(0, 16) : '-';
    out.push(`${relative(root, path)} ${e.isDirectory() ? 'dir' : 'file'} ${st.size} ${st.mtimeMs} ${hash}`);
  }
  return out.sort();
}

async function age(path: string): Promise<void> {
  await utimes(path, HOUR_AGO, HOUR_AGO);
}

/** The broken mount: one of each thing the doctor looks for. */
async function breakMount(paths: MountPaths): Promise<void> {
  await writeConfig(paths.config, { gpus: defaultGpus(2) });
  const store = new TaskStore(paths);
  const now = new Date().toISOString();
  // gpu-0 is alive (this process) and runs nothing; gpu-1 never wrote a heartbeat.
  await mkdir(join(paths.gpus, 'gpu_0'), { recursive: true });
  await writeHeartbeat(paths, {
    gpu_id: 0, name: 'gpu-0', state: 'cold', model_loaded: false, last_updated: now, temperature_c: 50, power_draw_w: 50,
    vram_used_mb: 0, vram_total_mb: 8000, vram_percent: 0, gpu_util_percent: 0, clock_mhz: 1000, throttle_status: 'None',
    claimed_vram_mb: 0, budget_available_mb: 6000, active_workers: 0, active_tasks: [], stats: { tasks_completed: 0, tasks_failed: 0 },
    seq: 5, pid: process.pid, started_at: now, health: 'healthy', health_reasons: [], accepts: ['cpu'],
  });
  const base = { plan: 'p', plan_dir: '/p', batch_path: '/p/b', values: {}, submitted_at: OLD, started_at: OLD, finished_at: null };
  const record = (rec: Partial<BatchRecordInput> & { id: string; state: BatchRecordInput['state']; task_ids: string[] }) => writeBatchRecord(paths, { ...base, ...rec });

  // b1 running: a task in two folders, a task claimed by gpu-1 which is gone, one waiting, one unreadable.
  const a = makeTask({ batch: 'b1', name: 'a', created_at: OLD });
  const b = makeTask({ batch: 'b1', name: 'b', created_at: OLD, attempt: 1, claimed_by: 'gpu-1', claimed_at: OLD });
  const c = makeTask({ batch: 'b1', name: 'c', created_at: OLD });
  await store.write('queue', a);
  await store.write('complete', { ...a, attempt: 1, claimed_by: 'gpu-0' });
  await store.write('processing', b);
  await store.write('private', c);
  await writeFile(join(paths.folders.queue, 'b1__broken.json'), '{"id": "b1__bro');
  await record({ id: 'b1', state: 'running', task_ids: [a.id, b.id, c.id] });

  // b2 recorded complete, but its archived task failed.
  const x = makeTask({ batch: 'b2', name: 'x', created_at: OLD });
  await mkdir(join(paths.tasks, 'archive', 'b2'), { recursive: true });
  await writeJsonAtomic(join(paths.tasks, 'archive', 'b2', `${x.id}.json`), finalFailure(x));
  await record({ id: 'b2', state: 'complete', task_ids: [x.id] });

  // b3 recorded failed but still active, its task not archived yet; b4 active with no record.
  const y = makeTask({ batch: 'b3', name: 'y', created_at: OLD });
  await store.write('failed', finalFailure(y));
  await record({ id: 'b3', state: 'failed', task_ids: [y.id], finished_at: OLD });
  await writeBrainState(paths, { active_batches: ['b1', 'b3', 'b4'], updated_at: OLD, brain_pid: null });

  // b9 has tasks but no record.
  await store.write('queue', makeTask({ batch: 'b9', name: 'x', created_at: OLD }));
  await store.write('private', makeTask({ batch: 'b9', name: 'y', created_at: OLD }));

  // Leftovers: an old temporary and a fresh one, a stray signal, a stale approval, an abandoned lock, a late result.
  await writeFile(join(paths.folders.queue, '.b1__z.json.999.deadbeef.tmp'), '{"id": "b1__');
  await age(join(paths.folders.queue, '.b1__z.json.999.deadbeef.tmp'));
  await writeFile(join(paths.folders.failed, `.b1__c.json.${process.pid}.0badf00d.tmp`), '{');
  await writeFile(join(paths.signals, 'gpu-7.stop'), '');
  await writeFile(join(paths.approvals, 'b0__gone'), '');
  await age(join(paths.approvals, 'b0__gone'));
  await mkdir(join(paths.gpus, '.model-load.lock'));
  await age(join(paths.gpus, '.model-load.lock'));
  await mkdir(join(paths.tasks, 'late_results'), { recursive: true });
  await writeJsonAtomic(join(paths.tasks, 'late_results', 'b1__a.attempt1.gpu-1.json'), { task: a, result: null });
  // A torn escalation record, which the brain skips and leaves to the doctor.
  await mkdir(join(paths.brain, 'escalations'), { recursive: true });
  await writeFile(join(paths.brain, 'escalations', 'b1__b.json'), '{"task_id": "b1__b", "att');
}

test('doctor: report-only lists every problem and changes nothing; --repair fixes them; then the mount is clean', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await breakMount(paths);
    const before = await listing(paths.root);

    const report = await doctor(paths);
    assert.equal(report.exitCode, 1, report.stderr);
    assert.equal(report.stderr, '');
    const lines = report.stdout.trim().split('\n');
    const expected = [
      'UNREADABLE_TASK tasks/queue/b1__broken.json: not valid JSON: ',
      'ORPHAN_TASK brain/private_tasks/b9__y.json: batch b9 has no record in brain/batches/ → move it to quarantine/',
      'ORPHAN_TASK tasks/queue/b9__x.json: batch b9 has no record in brain/batches/ → move it to quarantine/',
      'DUPLICATE_TASK b1__a: in tasks/complete and tasks/queue → keep tasks/complete/b1__a.json (the most advanced), move tasks/queue/b1__a.json to quarantine/',
      'LOST_TASK tasks/processing/b1__b.json: claimed by gpu-1 (attempt 1), but no heartbeat at gpus/gpu_1/heartbeat.json → record attempt 1 as lost (infra) and move it to tasks/failed/ so the brain retries it',
      "BATCH_WRONG_STATE b2: record says complete but 1 task failed (b2__x) → set the record's state to failed",
      'FINAL_BATCH_ACTIVE b3: record says failed but brain/state.json still lists it as active (the brain stopped while archiving it) → move its 1 finished task to tasks/archive/b3/ and remove it from active_batches',
      'ACTIVE_WITHOUT_RECORD b4: brain/state.json lists it as active but brain/batches/b4.json does not exist → remove it from active_batches',
      'UNREADABLE_FILE brain/escalations/b1__b.json: not valid JSON: ',
      'TEMP_FILE tasks/queue/.b1__z.json.999.deadbeef.tmp: temporary file of a write that never finished, last written 60 min ago → delete it',
      'STRAY_SIGNAL signals/gpu-7.stop: no agent gpu-7 in config.json (agents: gpu-0, gpu-1) → delete it',
      'STALE_APPROVAL approvals/b0__gone: no task b0__gone in the task folders (finished and archived, or never submitted) → delete it',
      'STALE_LOCK gpus/.model-load.lock: not refreshed for 60 min (a holder refreshes it every few seconds) → remove it',
      'LATE_RESULT tasks/late_results/b1__a.attempt1.gpu-1.json: a result that arrived after its claim had passed on (kept, never applied) → nothing (informational: read it, then delete it by hand)',
      'doctor: 13 problems found (13 --repair can fix), 1 informational',
    ];
    assert.equal(lines.length, expected.length, report.stdout);
    expected.forEach((want, i) => assert.ok(lines[i]!.startsWith(want), `line ${i + 1}:\n  got  ${lines[i]}\n  want ${want}`));
    assert.deepEqual(await listing(paths.root), before, 'report-only mode changed the mount');

    const json = await doctor(paths, '--json');
    assert.equal(json.exitCode, 1);
    const parsed = JSON.parse(json.stdout) as { findings: Array<{ kind: string; severity: string }>; counts: { problems: number }; repairs: null };
    assert.equal(parsed.counts.problems, 13);
    assert.equal(parsed.findings.length, 14);
    assert.equal(parsed.repairs, null);
    assert.deepEqual(await listing(paths.root), before, '--json changed the mount');

    const repair = await doctor(paths, '--repair');
    assert.equal(repair.exitCode, 0, repair.stdout + repair.stderr);
    const repaired = repair.stdout.split('\n').filter((l) => l.startsWith('repaired: '));
    assert.equal(repaired[1]?.replace(/\(not valid JSON: .*\)$/, '(not valid JSON: …)'), 'repaired: moved brain/escalations/b1__b.json to quarantine/escalations/ (not valid JSON: …)');
    repaired.splice(1, 1);
    assert.deepEqual(repaired, [
      'repaired: moved tasks/queue/b1__broken.json to quarantine/queue/ (unreadable)',
      'repaired: moved brain/private_tasks/b9__y.json to quarantine/private/ (batch b9 has no record in brain/batches/)',
      'repaired: moved tasks/queue/b9__x.json to quarantine/queue/ (batch b9 has no record in brain/batches/)',
      'repaired: moved tasks/queue/b1__a.json to quarantine/queue/ (duplicate; kept tasks/complete/b1__a.json)',
      'repaired: moved tasks/processing/b1__b.json to tasks/failed/ with attempt 1 recorded as lost (infra): found by doctor: agent gpu-1 gone (no heartbeat at gpus/gpu_1/heartbeat.json)',
      'repaired: brain/batches/b2.json: state complete → failed (1 failed)',
      'repaired: moved tasks/failed/b3__y.json to tasks/archive/b3/',
      'repaired: brain/state.json: removed b3 from active_batches',
      'repaired: brain/state.json: removed b4 from active_batches',
      'repaired: deleted tasks/queue/.b1__z.json.999.deadbeef.tmp',
      'repaired: deleted signals/gpu-7.stop',
      'repaired: deleted approvals/b0__gone',
      'repaired: removed gpus/.model-load.lock',
    ]);
    assert.match(repair.stdout, /^doctor: repaired 13 of 13 problems$/m);

    // The mount as the repairs left it.
    const store = new TaskStore(paths);
    assert.equal(await store.locate('b1__a'), 'complete');
    const lost = await store.read('failed', 'b1__b');
    assert.ok(lost.ok);
    assert.deepEqual(
      lost.task.attempts.map((r) => [r.attempt, r.agent, r.outcome, r.failure_kind, r.reason]),
      [[1, 'gpu-1', 'lost', 'infra', 'found by doctor: agent gpu-1 gone (no heartbeat at gpus/gpu_1/heartbeat.json)']],
    );
    assert.equal(lost.task.result?.outcome, 'lost');
    assert.equal(await store.locate('b9__x'), null);
    assert.equal(await store.locate('b9__y'), null);
    assert.equal((await readBatchRecord(paths, 'b2'))?.state, 'failed');
    assert.deepEqual((await readBrainState(paths))?.active_batches, ['b1']);
    assert.deepEqual(await readdir(join(paths.tasks, 'archive', 'b3')), ['b3__y.json']);
    assert.deepEqual(await readdir(paths.signals), []);
    assert.deepEqual(await readdir(paths.approvals), []);
    assert.deepEqual(await readdir(join(paths.brain, 'escalations')), []);
    assert.deepEqual(await readdir(paths.folders.failed), [`.b1__c.json.${process.pid}.0badf00d.tmp`, 'b1__b.json'].sort(), 'the fresh temporary stays');
    const quarantined = (await readdir(join(paths.quarantine, 'queue'))).filter((n) => !n.endsWith('.why.txt')).map((n) => n.replace(/^\d+-\d+-[0-9a-f]+-/, ''));
    assert.deepEqual(quarantined.sort(), ['b1__a.json', 'b1__broken.json', 'b9__x.json']);
    const log = await decisionText(paths);
    assert.equal(log.trim().split('\n').filter((l) => / doctor REPAIR /.test(l)).length, 14);

    const clean = await doctor(paths);
    assert.equal(clean.exitCode, 0, clean.stdout);
    assert.deepEqual(clean.stdout.trim().split('\n'), [
      'LATE_RESULT tasks/late_results/b1__a.attempt1.gpu-1.json: a result that arrived after its claim had passed on (kept, never applied) → nothing (informational: read it, then delete it by hand)',
      'doctor: no problems found, 1 informational',
    ]);
  } finally {
    await cleanup();
  }
});

test('doctor: a mount that is not there is exit 2 with the reason', async () => {
  const r = await execa('node', [join(ROOT, 'bin', 'forge'), 'doctor', '--shared', '/nonexistent-forge-mount'], { cwd: ROOT, reject: false, timeout: 60_000 });
  assert.equal(r.exitCode, 2);
  assert.match(r.stderr, /no mount at \/nonexistent-forge-mount/);
});
