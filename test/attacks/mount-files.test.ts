// Special and hostile files where the rig expects its own: FIFOs, symlinks to /dev/zero,
// directories, unreadable and torn files. No reader may hang, crash, eat memory or lose a task;
// each bad file is quarantined or reported with a reason. Real processes, real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { batchRecordPath, readBatchRecord } from '../../agents/core/batch.ts';
import { ManualClock } from '../../agents/core/clock.ts';
import { parseDecisionLine } from '../../agents/core/decisionLog.ts';
import { type MountPaths, heartbeatPath } from '../../agents/core/paths.ts';
import { readDecisionLines } from '../../agents/core/spool.ts';
import { TaskStore } from '../../agents/core/store.ts';
import { submitPlan, waitFor, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';
import { startAgent, startBrain, stopAll, writePlan, writeTestConfig } from '../helpers/rig.ts';

const ROOT = join(import.meta.dirname, '../..');

const PLAN = (n: number, ms: number) =>
  `# Steady\n\n## Goal\nA few tasks that take a moment.\n\n## Tasks\n\n` +
  Array.from({ length: n }, (_, i) => `### t${i}\n- **task_class**: cpu\n- **command**: \`node scripts/step.mjs {BATCH_PATH} t${i} ${ms}\`\n`).join('\n');

const STEP = `import { appendFileSync } from 'node:fs';
const [dir, name, ms] = process.argv.slice(2);
await new Promise((r) => setTimeout(r, Number(ms)));
appendFileSync(dir + '/runs.log', name + '\\n');
`;

function command(script: string, paths: MountPaths, ...args: string[]) {
  // Through bin/forge, as a person runs it: the command's bundle while fresh (npm test builds first).
  return execa(process.execPath, [join(ROOT, 'bin', 'forge'), script.replace(/\.ts$/, ''), '--shared', paths.root, ...args], { cwd: ROOT, reject: false, timeout: 60_000 });
}

/** Resident memory of a process, MB. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** The runs a batch's tasks logged, sorted: each name once when every task ran once. */
async function runsOf(paths: MountPaths, batch: string): Promise<string[]> {
  const rec = await readBatchRecord(paths, batch);
  return (await readFile(join(rec!.batch_path, 'runs.log'), 'utf8')).split('\n').filter(Boolean).sort();
}

/** Quarantined files of one folder, each with its reason note. */
async function quarantined(paths: MountPaths, where: string): Promise<Array<{ name: string; why: string }>> {
  const dir = join(paths.quarantine, where);
  const names = await readdir(dir).catch(() => [] as string[]);
  return Promise.all(names.filter((n) => !n.endsWith('.why.txt')).map(async (n) => ({
    name: n.replace(/^\d+-\d+-[0-9a-f]+-/, ''), why: await readFile(join(dir, `${n}.why.txt`), 'utf8').catch(() => ''),
  })));
}

/** A FIFO, a symlink to /dev/zero, a directory and a chmod-000 file, under task-like names that sort first. */
async function dropSpecialFiles(dir: string): Promise<void> {
  execFileSync('mkfifo', [join(dir, '0bad__fifo.json')]);
  await symlink('/dev/zero', join(dir, '0bad__zero.json'));
  await mkdir(join(dir, '0bad__dir.json'));
  await writeFile(join(dir, '0bad__locked.json'), '{"id": "0bad__locked", "na');
  await chmod(join(dir, '0bad__locked.json'), 0o000);
}

/** Puts a directory where a file is, however often its writer puts the file back meanwhile. */
async function replaceWithDir(file: string): Promise<void> {
  for (;;) {
    await unlink(file).catch(() => {});
    try {
      await mkdir(file);
      return;
    } catch {
      /* written again between the two: once more */
    }
  }
}

// Merged by the brain or still in a writer's spool file: the agent's lines reach the log through the brain.
const decisions = (paths: MountPaths) => readDecisionLines(paths);
const noStack = (stderr: unknown) => assert.doesNotMatch(String(stderr), /\n\s+at /, 'no stack trace');

test('a FIFO, a symlink to /dev/zero, a directory and a chmod-000 file in queue/ while a batch runs: every task runs once, memory stays small, each is quarantined with its reason', { timeout: 180_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 2, { timeouts: { unreadable_grace_s: 1 } });
    await writePlan(paths, 'steady', PLAN(6, 600), { 'step.mjs': STEP });
    const agents = [startAgent(paths, 0), startAgent(paths, 1)];
    procs.push(startBrain(paths), ...agents);
    await waitForAgents(paths, [0, 1], 30_000);
    const batch = await submitPlan(paths.root, 'steady');
    await waitFor('the batch to run', async () => (await readBatchRecord(paths, batch))?.state === 'running', 30_000);
    await dropSpecialFiles(paths.folders.queue);
    let peak = 0;
    const rec = await waitForBatchEnd(paths, batch, 120_000, () => {
      for (const a of agents) peak = Math.max(peak, rssMb(a.pid!));
    });
    assert.equal(rec.state, 'complete');
    assert.deepEqual(await runsOf(paths, batch), ['t0', 't1', 't2', 't3', 't4', 't5'], 'every task ran exactly once');
    assert.ok(peak > 0 && peak < 300, `agents' resident memory stayed small (peak ${peak.toFixed(0)} MB)`);
    // The torn chmod-000 file is given up on once it has stayed unreadable for unreadable_grace_s.
    const q = await waitFor('all four quarantined', async () => {
      const got = await quarantined(paths, 'queue');
      return got.length >= 4 ? got : null;
    }, 20_000);
    const why = new Map(q.map((e) => [e.name, e.why]));
    assert.match(why.get('0bad__fifo.json') ?? '', /is a FIFO, not a regular file/);
    assert.match(why.get('0bad__zero.json') ?? '', /is a symlink, not a regular file/);
    assert.match(why.get('0bad__dir.json') ?? '', /is a directory, not a regular file/);
    // As root the file reads (and is torn JSON); as anyone else it cannot be opened. Either way: not at once.
    assert.match(why.get('0bad__locked.json') ?? '', /(not valid JSON|cannot be opened).*unchanged and unreadable for \d+ s/);
    assert.deepEqual(await readdir(paths.folders.queue), []);
    for (const a of agents) assert.equal(a.exitCode, null, 'the agents still run');
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});

test('directories in place of brain/state.json, a batch record and heartbeats: the brain keeps running, the batch completes, each is reported once; doctor reports them', { timeout: 180_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 2);
    await writePlan(paths, 'steady', PLAN(4, 600), { 'step.mjs': STEP });
    // Before the brain starts. gpu-1 never starts: its heartbeat stays a directory throughout.
    await mkdir(paths.brainState);
    await mkdir(join(paths.batches, '0old.json'));
    await mkdir(heartbeatPath(paths, 1), { recursive: true });
    const brain = startBrain(paths);
    const agent = startAgent(paths, 0);
    procs.push(brain, agent);
    await waitForAgents(paths, [0], 30_000);
    const batch = await submitPlan(paths.root, 'steady');
    await waitFor('the batch to run', async () => (await readBatchRecord(paths, batch))?.state === 'running', 30_000);
    // While it runs: the running batch's record, state.json and gpu-0's heartbeat become directories.
    for (const f of [batchRecordPath(paths, batch), paths.brainState, heartbeatPath(paths, 0)]) await replaceWithDir(f);
    const rec = await waitForBatchEnd(paths, batch, 120_000);
    assert.equal(rec.state, 'complete');
    assert.deepEqual(await runsOf(paths, batch), ['t0', 't1', 't2', 't3']);
    assert.equal(brain.exitCode, null, 'the brain still runs');
    assert.equal(agent.exitCode, null, 'the agent still runs');

    // state.json is written again when the finished batch is archived, after its record says
    // complete, and the line reaches the log through the spool: wait for it, then count.
    const bad = await waitFor('the brain\'s line on moving state.json aside', async () => {
      const lines = (await decisions(paths)).filter((l) => / BAD_FILE /.test(l));
      return lines.some((l) => /brain\/state\.json was a directory/.test(l)) ? lines : null;
    }, 20_000);
    const count = (re: RegExp) => bad.filter((l) => re.test(l)).length;
    assert.equal(count(/brain\/state\.json: is a directory, not a regular file; the active batches were rebuilt/), 1, bad.join('\n'));
    assert.equal(count(/brain\/state\.json was a directory, not a regular file: moved to quarantine\/brain\//), 1, bad.join('\n'));
    assert.equal(count(new RegExp(`brain/batches/${batch}\\.json was a directory`)), 1, bad.join('\n'));
    assert.equal(count(/brain\/batches\/0old\.json: is a directory/), 1, bad.join('\n'));
    assert.equal(count(/gpu-0 +BAD_FILE — gpus\/gpu_0\/heartbeat\.json was a directory/), 1, bad.join('\n'));
    // Read every second for the whole run, reported once.
    assert.equal(count(/brain +BAD_FILE — gpus\/gpu_1\/heartbeat\.json: is a directory/), 1, bad.join('\n'));
    assert.equal((await readBatchRecord(paths, batch))?.state, 'complete', 'the record was written again');

    // The doctor, with the rig still running and after it stopped: findings, never a stack trace.
    for (const phase of ['running', 'stopped']) {
      if (phase === 'stopped') await stopAll(procs.splice(0));
      const r = await command('doctor.ts', paths);
      noStack(r.stderr);
      assert.equal(r.exitCode, 1, `${phase}: ${r.stdout}${r.stderr}`);
      assert.match(String(r.stdout), /^BAD_BATCH_RECORD brain\/batches\/0old\.json: is a directory, not a regular file → nothing: fix or remove it by hand/m);
      assert.match(String(r.stdout), /^UNREADABLE_FILE gpus\/gpu_1\/heartbeat\.json: is a directory, not a regular file → move it to quarantine\//m);
    }
    const repair = await command('doctor.ts', paths, '--repair');
    noStack(repair.stderr);
    assert.match(String(repair.stdout), /^repaired: moved gpus\/gpu_1\/heartbeat\.json to quarantine\/gpus\//m);
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});

/** A mount where every file status and doctor read is something hostile. */
async function hostileMount(paths: MountPaths): Promise<void> {
  const fifo = (p: string) => execFileSync('mkfifo', [p]);
  await writeTestConfig(paths, 2);
  fifo(join(paths.folders.queue, 'b1__fifo.json'));
  fifo(join(paths.folders.queue, 'notes'));
  await symlink('/dev/zero', join(paths.folders.queue, 'b1__zero.json'));
  await mkdir(join(paths.folders.queue, 'b1__dir.json'));
  await writeFile(join(paths.folders.queue, 'b1__big.json'), Buffer.alloc(3 * 1024 * 1024, 0x20));
  await writeFile(join(paths.folders.queue, 'b1__null.json'), 'null');
  fifo(join(paths.folders.processing, 'b1__p.json'));
  fifo(paths.brainState);
  await mkdir(join(paths.batches, 'b1.json'));
  await writeFile(join(paths.batches, 'b2.json'), 'null');
  await mkdir(join(paths.gpus, 'gpu_0'), { recursive: true });
  fifo(heartbeatPath(paths, 0));
  await mkdir(join(paths.gpus, 'gpu_1'), { recursive: true });
  await symlink('/dev/zero', heartbeatPath(paths, 1));
  fifo(paths.decisionLog);
  for (const d of ['interventions', 'escalations']) await mkdir(join(paths.brain, d), { recursive: true });
  await writeFile(join(paths.brain, 'interventions', 'b1__x.json'), 'null');
  fifo(join(paths.brain, 'interventions', 'b1__y.json'));
  fifo(join(paths.brain, 'escalations', 'b1__e.json'));
  fifo(join(paths.inbox, 'sub.json'));
  fifo(`${paths.brainLock}.owner`);
  fifo(join(paths.signals, 'gpu-0.abort'));
}

test('status and doctor on a mount full of FIFOs, directories, /dev/zero, null and huge files: they finish, exit 0/1, and list each bad file', { timeout: 120_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await hostileMount(paths);
    const before = (await readdir(paths.folders.queue)).sort();

    const json = await command('status.ts', paths, '--json');
    noStack(json.stderr);
    assert.equal(json.exitCode, 0, String(json.stderr));
    const s = JSON.parse(String(json.stdout)) as { bad_files: Array<{ path: string; problem: string }>; interventions: unknown[] };
    const problem = new Map(s.bad_files.map((b) => [b.path, b.problem]));
    const expect: Array<[string, RegExp]> = [
      ['tasks/queue/b1__fifo.json', /is a FIFO/], ['tasks/queue/notes', /is a FIFO/], ['tasks/queue/b1__zero.json', /is a symlink/],
      ['tasks/queue/b1__dir.json', /is a directory/], ['tasks/queue/b1__big.json', /over the limit/], ['tasks/queue/b1__null.json', /not a valid task/],
      ['tasks/processing/b1__p.json', /is a FIFO/], ['brain/state.json', /is a FIFO/], ['brain/batches/b1.json', /is a directory/],
      ['brain/batches/b2.json', /not a batch record/], ['gpus/gpu_0/heartbeat.json', /is a FIFO/], ['gpus/gpu_1/heartbeat.json', /is a symlink/],
      ['logs/brain_decisions.log', /is a FIFO/], ['brain/interventions/b1__x.json', /not an intervention record/], ['brain/interventions/b1__y.json', /is a FIFO/],
    ];
    for (const [path, re] of expect) assert.match(problem.get(path) ?? `(${path} not listed)`, re, path);
    assert.deepEqual(s.interventions, []);

    const text = await command('status.ts', paths);
    noStack(text.stderr);
    assert.equal(text.exitCode, 0, String(text.stderr));
    assert.match(String(text.stdout), /^Unreadable files \(15\): npm run doctor says what to do$/m);
    assert.match(String(text.stdout), /^ {2}\? tasks\/queue\/b1__fifo\.json: is a FIFO, not a regular file/m);

    const doctor = await command('doctor.ts', paths);
    noStack(doctor.stderr);
    assert.equal(doctor.exitCode, 1, String(doctor.stderr));
    for (const line of [
      /^UNREADABLE_TASK tasks\/queue\/b1__fifo\.json: is a FIFO, not a regular file/m, /^FOREIGN_FILE tasks\/queue\/notes: is a FIFO/m,
      /^UNREADABLE_TASK tasks\/queue\/b1__zero\.json: is a symlink/m, /^UNREADABLE_TASK tasks\/queue\/b1__big\.json: .*over the limit/m,
      /^UNREADABLE_TASK tasks\/processing\/b1__p\.json: is a FIFO/m, /^UNREADABLE_FILE brain\/state\.json: is a FIFO/m,
      /^BAD_BATCH_RECORD brain\/batches\/b1\.json: is a directory/m, /^UNREADABLE_FILE gpus\/gpu_0\/heartbeat\.json: is a FIFO/m,
      /^UNREADABLE_FILE brain\/escalations\/b1__e\.json: is a FIFO/m,
    ]) assert.match(String(doctor.stdout), line);
    const dj = await command('doctor.ts', paths, '--json');
    noStack(dj.stderr);
    assert.equal(dj.exitCode, 1);
    assert.ok((JSON.parse(String(dj.stdout)) as { findings: unknown[] }).findings.length >= 10);
    assert.deepEqual((await readdir(paths.folders.queue)).sort(), before, 'status and a report-only doctor change nothing');

    // A FIFO config: the config is reported, not waited on. Status shows it and fails (exit 1,
    // changed on purpose from 0): the rig will not start with a config it refuses.
    await unlink(paths.config);
    execFileSync('mkfifo', [paths.config]);
    const noConfig = await command('status.ts', paths, '--json');
    assert.equal(noConfig.exitCode, 1, String(noConfig.stderr));
    noStack(noConfig.stderr);
    assert.match((JSON.parse(String(noConfig.stdout)) as { config_problem: string }).config_problem, /is a FIFO, not a regular file/);
    const dc = await command('doctor.ts', paths);
    noStack(dc.stderr);
    assert.match(String(dc.stdout), /^BAD_CONFIG config\.json: .*is a FIFO/m);
  } finally {
    await cleanup();
  }
});

test('a signal file with a forged newline makes no extra decision line; a directory as a signal stops nothing', { timeout: 90_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 1);
    procs.push(startAgent(paths, 0));
    await waitForAgents(paths, [0], 30_000);
    const forged = '2026-01-01T00:00:00.000Z brain  RELEASE task=b1__forged — injected';
    await writeFile(join(paths.signals, 'gpu-0.abort'), `b1__x\n${forged}\n`);
    await mkdir(join(paths.signals, 'gpu-0.kill'));
    await waitFor('both signals consumed', async () => (await readdir(paths.signals)).length === 0, 30_000);
    const lines = await decisions(paths);
    for (const l of lines) assert.ok(parseDecisionLine(l), `every line is a decision: ${l}`);
    assert.equal(lines.filter((l) => l.startsWith('2026-01-01T00:00:00.000Z')).length, 0, 'no forged line');
    const refused = lines.filter((l) => / (ABORT|KILL)_REFUSED /.test(l));
    assert.equal(refused.length, 2, lines.join('\n'));
    assert.match(refused.join('\n'), /signals\/gpu-0\.abort does not hold one task id/);
    assert.match(refused.join('\n'), /signals\/gpu-0\.kill is a directory, not a regular file/);
    assert.equal((await quarantined(paths, 'signals')).length, 2);
    assert.equal(procs[0]!.exitCode, null, 'the agent still runs');
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});

test('a live claim that reads torn for seconds (an NFS client\'s stale view): not quarantined, the agent\'s result is applied, the batch completes', { timeout: 120_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 1);
    await writePlan(paths, 'one', PLAN(1, 2500), { 'step.mjs': STEP });
    procs.push(startBrain(paths), startAgent(paths, 0));
    await waitForAgents(paths, [0], 30_000);
    const batch = await submitPlan(paths.root, 'one');
    const file = join(paths.folders.processing, `${batch}__t0.json`);
    const whole = await waitFor('the claim recorded', async () => {
      const text = await readFile(file, 'utf8').catch(() => '');
      return text.includes('"claimed_by": "gpu-0"') ? text : null;
    }, 30_000);
    // Every reader sees the first 40 bytes until well after the task has finished.
    await writeFile(file, whole.slice(0, 40));
    await new Promise((r) => setTimeout(r, 5000));
    const fresh = join(paths.folders.processing, `.${batch}__t0.json.restore.tmp`);
    await writeFile(fresh, whole);
    await rename(fresh, file);
    const rec = await waitForBatchEnd(paths, batch, 60_000);
    assert.equal(rec.state, 'complete');
    assert.deepEqual(await runsOf(paths, batch), ['t0']);
    assert.deepEqual(await quarantined(paths, 'processing'), []);
    assert.deepEqual(await readdir(join(paths.tasks, 'late_results')).catch(() => []), [], 'no result set aside');
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});

test('a task file in processing/ read torn once, then whole: not quarantined, read on the next look; given up on only when unchanged and unreadable for the grace', { timeout: 10_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const clock = new ManualClock();
    const store = new TaskStore(paths, { unreadableGraceMs: 30_000, now: () => clock.now() });
    const t = makeTask({ attempt: 1, claimed_by: 'gpu-0' });
    const file = store.fileOf('processing', t.id);
    const whole = JSON.stringify(t, null, 2) + '\n';
    // What a reader sees mid-replace on NFS: the first part of the file.
    await writeFile(file, whole.slice(0, 40));
    assert.deepEqual(await store.list('processing'), [t.id]);
    const torn = await store.read('processing', t.id);
    assert.equal(torn.ok, false);
    assert.equal(!torn.ok && torn.reason, 'not_ready');
    clock.advance(29_000);
    assert.equal(!(await store.read('processing', t.id)).ok, true);
    // Whole again (a rename of the new version into place): read, nothing quarantined.
    await writeFile(`${file}.new`, whole);
    await rename(`${file}.new`, file);
    clock.advance(5_000);
    const again = await store.read('processing', t.id);
    assert.ok(again.ok);
    assert.deepEqual(again.task, t);
    assert.deepEqual(await quarantined(paths, 'processing'), []);
    // replace() of a file that stays torn: 'unreadable', left in place for a later try.
    await writeFile(file, whole.slice(0, 40));
    const r = await store.replace('processing', t.id, (cur) => cur, 'complete');
    assert.deepEqual(r, { ok: false, reason: 'unreadable' });
    assert.deepEqual(await readdir(paths.folders.processing), [`${t.id}.json`]);
    // Each new version starts the count again; the same version unreadable for 30 s is quarantined.
    clock.advance(20_000);
    await writeFile(file, whole.slice(0, 50));
    assert.equal(!(await store.read('processing', t.id)).ok, true);
    clock.advance(20_000);
    const notYet = await store.read('processing', t.id);
    assert.equal(!notYet.ok && notYet.reason, 'not_ready', '20 s since this version, under the grace');
    clock.advance(10_000);
    const gone = await store.read('processing', t.id);
    assert.equal(!gone.ok && gone.reason, 'quarantined');
    const q = await quarantined(paths, 'processing');
    assert.equal(q.length, 1);
    assert.match(q[0]!.why, /not valid JSON: .*; unchanged and unreadable for 30 s/);
  } finally {
    await cleanup();
  }
});
