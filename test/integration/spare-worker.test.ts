// The agent's spare worker (workers.preboot), real processes: a task handed to a booted
// spare runs with its time counted from the handover and its attempt's environment on its
// processes; a dead spare costs no task; without spares nothing changes; no spare outlives
// its agent.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive } from '../../agents/core/pids.ts';
import type { Task } from '../../agents/core/task.ts';
import { processesOfAttempt } from '../../agents/gpu/procGroup.ts';
import { parseAutogroup } from '../../agents/core/sessionNice.ts';
import { SpareWorker } from '../../agents/gpu/spareWorker.ts';
import { AUTOGROUP } from '../helpers/procs.ts';
import { spawnSpare } from '../../agents/gpu/spawnWorker.ts';
import { type Running, type WorkerContext, runWorker, stopTask } from '../../agents/gpu/workers.ts';

const AGENT = `gpu-spare-${process.pid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let tmp: string;
let batchPath: string;
let configFile: string;
let seq = 0;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'forge-spare-'));
  batchPath = join(tmp, 'plans', 'p', 'batches', 'b1');
  await mkdir(join(batchPath, 'logs'), { recursive: true });
  configFile = join(tmp, 'config.json');
  await writeFile(configFile, JSON.stringify({ gpus: [{ id: 0, name: AGENT, model: 'm', port: 11435 }], sandbox: { mode: 'off' } }));
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function makeTask(argv: string[]): Task {
  const name = `t${++seq}`;
  return {
    id: `b1__${name}`, batch: 'b1', plan: 'p', name, task_class: 'cpu', command: argv.join(' '), argv, cwd: batchPath, batch_path: batchPath,
    vram_estimate_mb: 0, timeout_s: 30, max_attempts: 3, created_at: new Date().toISOString(), attempt: 2,
  } as Task;
}

function entryFor(task: Task): Running {
  const now = Date.now();
  return { task, kind: 'worker', pid: null, taskPgid: null, startedAt: now, cost: 0, peakMb: null, nowMb: 0, stoppedBy: null, done: Promise.resolve(), gpuMs: 0, energyJ: 0, accruedTo: now } as Running;
}

function ctxWith(spares: SpareWorker | null, said: string[] = []): WorkerContext {
  return {
    agent: AGENT, configFile, shared: tmp, ollamaUrl: 'http://127.0.0.1:1', gpuId: 0, model: 'm', runtime: 'ollama', extraEnv: {},
    now: () => Date.now(), onTaskPgid: () => {}, spares, say: (l) => said.push(l),
  };
}

async function waitUntil(what: string, fn: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const groupNiceOf = async (pid: number) => parseAutogroup(await readFile(`/proc/${pid}/autogroup`, 'utf8'));

describe('spare worker', { timeout: 60_000 }, () => {
  it('spares, and the tasks they run, run at workers.nice', async () => {
    const spares = new SpareWorker(() => {}, 2);
    const ctx = { ...ctxWith(spares), nice: 10 };
    const niceOf = async (pid: number) => Number((await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')[16]);
    try {
      spares.prepare(ctx);
      await waitUntil('a spare', () => spares.ready);
      assert.equal(await niceOf(spares.pid!), 10);
      // Each leads a session of its own: where the kernel groups by session, the group must be niced too, or the nice counts for nothing against other sessions.
      if (AUTOGROUP) await waitUntil('the spare\'s session group at nice 10', async () => (await groupNiceOf(spares.pid!)) === 10, 5000);
      const entry = entryFor(makeTask(['sleep', '20']));
      const run = runWorker(entry, ctx);
      await waitUntil('the task pid', () => entry.taskPgid !== null);
      assert.equal(await niceOf(entry.taskPgid!), 10, 'the task inherits it');
      if (AUTOGROUP) await waitUntil('the task\'s session group at nice 10', async () => (await groupNiceOf(entry.taskPgid!)) === 10, 5000);
      stopTask(entry, 'abort');
      await run;
    } finally {
      spares.stop();
    }
  });

  it('runs a task handed to a booted spare; started_at counts from the handover', async () => {
    const spares = new SpareWorker();
    const ctx = ctxWith(spares);
    try {
      spares.prepare(ctx);
      await waitUntil('a spare', () => spares.ready);
      const sparePid = spares.pid;
      await sleep(1500); // well past its boot
      const task = makeTask(['true']);
      const handedAt = Date.now();
      const r = await runWorker(entryFor(task), ctx);
      assert.equal(r.outcome, 'success', r.reason ?? '');
      assert.equal(r.task_id, task.id);
      assert.equal(r.attempt, 2);
      assert.ok(Date.parse(r.started_at) >= handedAt - 5, `started_at ${r.started_at} is after the handover ${new Date(handedAt).toISOString()}`);
      assert.ok(r.duration_ms < 1500, `duration ${r.duration_ms} ms does not count the wait`);
      // The next spare was started once this one was taken.
      await waitUntil('the next spare', () => spares.ready && spares.pid !== sparePid);
    } finally {
      spares.stop();
    }
  });

  it("a task run by a spare carries its attempt's environment; processesOfAttempt finds it, the spare itself matches no attempt", async () => {
    const spares = new SpareWorker();
    const ctx = ctxWith(spares);
    try {
      spares.prepare(ctx);
      await waitUntil('a spare', () => spares.ready);
      const idle = spares.pid!;
      const task = makeTask(['sleep', '20']);
      const entry = entryFor(task);
      const run = runWorker(entry, ctx);
      await waitUntil('the task pid', () => entry.taskPgid !== null);
      assert.equal(entry.pid, idle, 'the spare runs the task');
      const found = await processesOfAttempt(AGENT, task.id, 2);
      assert.ok(found.includes(entry.taskPgid!), `the task ${entry.taskPgid} is found by its env: ${found.join(',')}`);
      assert.ok(!found.includes(idle), 'the worker itself is known by its pid, not its env');
      assert.deepEqual(await processesOfAttempt(AGENT, task.id, 1), [], 'another attempt of the same task');
      stopTask(entry, 'abort');
      const r = await run;
      assert.equal(r.outcome, 'killed');
      await waitUntil('the task gone', () => !isAlive(entry.taskPgid!));
    } finally {
      spares.stop();
    }
  });

  it('a killed spare costs no task (a fresh worker runs it) and is replaced', async () => {
    const said: string[] = [];
    const spares = new SpareWorker((l) => said.push(l));
    const ctx = ctxWith(spares, said);
    try {
      spares.prepare(ctx);
      await waitUntil('a spare', () => spares.ready);
      const dead = spares.pid!;
      process.kill(-dead, 'SIGKILL');
      // Taken before its death is noticed: the handover goes to a dead process.
      const task = makeTask(['true']);
      const r = await runWorker(entryFor(task), ctx);
      assert.equal(r.outcome, 'success', r.reason ?? '');
      assert.ok(said.some((l) => l.includes(`ended before taking ${task.id}`)), said.join('\n'));
      // Killed while idle, its death noticed: replaced without a task asking.
      await waitUntil('a spare', () => spares.ready);
      const idle = spares.pid!;
      process.kill(-idle, 'SIGKILL');
      await waitUntil('its replacement', () => spares.ready && spares.pid !== idle);
      assert.ok(said.some((l) => l.includes(`spare worker ${idle} died while waiting`)), said.join('\n'));
    } finally {
      spares.stop();
    }
  });

  it('a spare started with other options (worker_env changed) is not used: killed, and a fresh one waits', async () => {
    const spares = new SpareWorker();
    try {
      spares.prepare(ctxWith(spares));
      await waitUntil('a spare', () => spares.ready);
      const old = spares.pid!;
      const ctx = { ...ctxWith(spares), extraEnv: { FOO: 'bar' } };
      const task = makeTask(['sh', '-c', 'test "$FOO" = bar']);
      const entry = entryFor(task);
      const r = await runWorker(entry, ctx);
      assert.equal(r.outcome, 'success', r.reason ?? '');
      assert.notEqual(entry.pid, old);
      await waitUntil('the old spare gone', () => !isAlive(old));
    } finally {
      spares.stop();
    }
  });

  it('without spares (preboot off) a worker is spawned with its task, as before', async () => {
    const task = makeTask(['true']);
    const before = Date.now();
    const entry = entryFor(task);
    const r = await runWorker(entry, ctxWith(null));
    assert.equal(r.outcome, 'success', r.reason ?? '');
    assert.ok(Date.parse(r.started_at) >= before - 5);
    assert.ok(entry.pid !== null && !isAlive(entry.pid));
  });

  it('stop kills the spare; a spare whose stdin closes (its agent died) exits', async () => {
    const spares = new SpareWorker();
    spares.prepare(ctxWith(spares));
    await waitUntil('a spare', () => spares.ready);
    const pid = spares.pid!;
    spares.stop();
    await waitUntil('the spare gone', () => !isAlive(pid));
    assert.equal(spares.ready, false);

    const proc = spawnSpare(ctxWith(null));
    await sleep(300);
    proc.stdin!.end();
    const r = await Promise.race([proc, sleep(10_000).then(() => null)]);
    assert.ok(r !== null, 'the spare exits when its stdin closes');
    assert.equal(r.exitCode, 0);
    assert.equal(String(r.stdout), '', 'no result without a task');
  });
});
