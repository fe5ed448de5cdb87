// The real worker entry point, spawned as the GPU agent spawns it, on temporary folders.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import type { TaskInput, WorkerResult } from '../../agents/core/task.ts';
import { parseWorkerStdout } from '../../agents/core/workerProtocol.ts';
import { processesWithEnv } from '../helpers/procs.ts';
import { nodeArgsFor } from '../../agents/core/entry.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// The worker as the agent starts it: its bundle while fresh (npm test builds first), else tsx.
const WORKER = nodeArgsFor('worker/main');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'tasks');
const BATCH = 'b1';

let tmp: string;
let plan: string;
let batchPath: string;
let configPath: string;
let seq = 0;
let taskFixtures: string;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'forge-worker-'));
  plan = join(tmp, 'plans', 'p');
  batchPath = join(plan, 'batches', BATCH);
  await mkdir(batchPath, { recursive: true });
  configPath = join(tmp, 'config.json');
  await writeConfig(configPath, {});
  // Tasks use the fixtures from inside their plan folder, as a plan uses its scripts: a task in
  // the sandbox sees its plan folder, not this checkout (which may live under the host's /tmp,
  // hidden behind the task's private one).
  taskFixtures = join(plan, 'fixtures');
  cpSync(FIXTURES, taskFixtures, { recursive: true });
  chmodSync(join(taskFixtures, 'bin', 'pip'), 0o755);
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function writeConfig(path: string, extra: Record<string, unknown>): Promise<void> {
  return writeFile(path, JSON.stringify({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 11435 }], ...extra }));
}

function makeTask(argv: string[] | null, extra: Partial<TaskInput> = {}): TaskInput & { id: string; name: string; attempt: number } {
  const name = `t${++seq}`;
  return {
    id: `${BATCH}__${name}`,
    batch: BATCH,
    plan: 'p',
    name,
    task_class: 'cpu',
    command: argv ? argv.join(' ') : null,
    argv,
    cwd: plan,
    batch_path: batchPath,
    vram_estimate_mb: 0,
    timeout_s: 10,
    max_attempts: 3,
    created_at: new Date().toISOString(),
    attempt: 1,
    ...extra,
  };
}

interface WorkerRun {
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
  ms: number;
}

function startWorker(task: TaskInput, opts: { env?: Record<string, string | undefined>; config?: string } = {}): ResultPromise<{ reject: false }> {
  const taskFile = join(tmp, `${String(task.id)}.json`);
  writeFileSync(taskFile, JSON.stringify(task));
  const env = opts.env ?? { ...process.env, PATH: `${join(taskFixtures, 'bin')}${delimiter}${process.env.PATH ?? ''}` };
  return execa('node', [...WORKER, '--task-file', taskFile, '--config', opts.config ?? configPath], {
    cwd: ROOT,
    env,
    extendEnv: false,
    reject: false,
    timeout: 25_000,
  });
}

async function runWorker(task: TaskInput, opts: { env?: Record<string, string | undefined>; config?: string } = {}): Promise<WorkerRun> {
  const started = Date.now();
  const r = await startWorker(task, opts);
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode, ms: Date.now() - started };
}

/** The worker's one result, checked the way the agent checks it. */
function resultOf(run: WorkerRun, task: { id: string; attempt: number }): WorkerResult {
  assert.equal(run.exitCode, 0, `the worker exits 0; stderr:\n${run.stderr}`);
  assert.match(run.stdout, /^[^\n]+$/, 'exactly one line on stdout');
  const parsed = parseWorkerStdout(run.stdout, task.id, task.attempt);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  return parsed.result;
}

/**
 * The task started (its pid file is there) and nothing of it runs any more: no process left
 * with its environment, the way the agent finds a task's processes. (The pids in the file are
 * the task's own view: inside a sandbox they are its pid namespace's.)
 */
async function assertAllEnded(task: { id: string; attempt: number }, pidFile: string): Promise<void> {
  assert.equal(readFileSync(pidFile, 'utf8').trim().split(/\s+/).length, 2, 'the task and its child started');
  const env = { FORGE_TASK_ID: task.id, FORGE_ATTEMPT: String(task.attempt), FORGE_BATCH_PATH: batchPath };
  assert.deepEqual(await processesWithEnv(env), [], 'no process of the task is left');
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

describe('worker', { concurrency: 4 }, () => {
  it('runs a command: exit 0 is success, stdout goes to the log file, one JSON line', async () => {
    const task = makeTask(['sh', '-c', 'echo hello from the task; echo warning >&2']);
    const result = resultOf(await runWorker(task), task);
    assert.equal(result.outcome, 'success');
    assert.equal(result.failure_kind, null);
    assert.equal(result.exit_code, 0);
    assert.equal(result.stdout_path, join(batchPath, 'logs', `${task.name}.attempt1.out`));
    assert.equal(result.stderr_path, join(batchPath, 'logs', `${task.name}.attempt1.err`));
    assert.equal(await readFile(result.stdout_path!, 'utf8'), 'hello from the task\n');
    assert.equal(await readFile(result.stderr_path!, 'utf8'), 'warning\n');
  });

  it('also takes the task as --task JSON', async () => {
    const task = makeTask(['true'], { attempt: 2 });
    const r = await execa('node', [...WORKER, '--task', JSON.stringify(task), '--config', configPath], { cwd: ROOT, reject: false });
    const result = resultOf({ stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, ms: 0 }, task);
    assert.equal(result.outcome, 'success');
    assert.equal(result.attempt, 2);
    assert.ok(result.stdout_path!.endsWith(`${task.name}.attempt2.out`));
  });

  it('reports a non-zero exit as failed (app) with the tail of stderr', async () => {
    const task = makeTask(['sh', join(taskFixtures, 'fail.sh')]);
    const result = resultOf(await runWorker(task), task);
    assert.equal(result.outcome, 'failed');
    assert.equal(result.failure_kind, 'app');
    assert.equal(result.exit_code, 3);
    assert.ok(result.reason!.startsWith('exit code 3; last lines of stderr:\n'), result.reason!);
    assert.ok(result.reason!.endsWith('error line 30'));
    assert.ok(result.reason!.includes('error line 11\n'));
    assert.ok(!result.reason!.includes('error line 10\n'), 'only the last 20 lines');
  });

  it('ends a task past its timeout, with its whole process group', async () => {
    const pidFile = join(batchPath, `sleeper-${seq}.pids`);
    const task = makeTask(['sh', join(taskFixtures, 'sleeper.sh'), pidFile, '30'], { timeout_s: 1 });
    const run = await runWorker(task);
    const result = resultOf(run, task);
    assert.equal(result.outcome, 'timeout');
    assert.equal(result.failure_kind, 'app');
    assert.match(result.reason!, /^timed out after 1 s \(timeout_s\)/);
    // Ended by the 1 s limit, not by the task's own 30 s: the margin absorbs a loaded machine.
    assert.ok(run.ms < 25_000, `ended in ${run.ms} ms, before the task's own 30 s`);
    await assertAllEnded(task, pidFile);
  });

  it('kills a task that ignores SIGTERM with SIGKILL after the grace period', async () => {
    const pidFile = join(batchPath, `stubborn-${seq}.pids`);
    const task = makeTask(['sh', join(taskFixtures, 'sleeper.sh'), pidFile, '30', 'ignore-term'], { timeout_s: 1 });
    const run = await runWorker(task);
    const result = resultOf(run, task);
    assert.equal(result.outcome, 'timeout');
    assert.equal(result.signal, 'SIGKILL');
    assert.ok(run.ms < 25_000, `ended in ${run.ms} ms, before the task's own 30 s`);
    await assertAllEnded(task, pidFile);
  });

  it('on SIGTERM kills its task group and still prints one result: killed (infra)', async () => {
    const pidFile = join(batchPath, `term-${seq}.pids`);
    const task = makeTask(['sh', join(taskFixtures, 'sleeper.sh'), pidFile, '30'], { timeout_s: 60 });
    const worker = startWorker(task);
    assert.ok(await waitFor(() => existsSync(pidFile), 10_000), 'the task started');
    worker.kill('SIGTERM');
    const r = await worker;
    const result = resultOf({ stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode, ms: 0 }, task);
    assert.equal(result.outcome, 'killed');
    assert.equal(result.failure_kind, 'infra');
    assert.equal(result.reason, "the worker was told to stop (SIGTERM); the task's process group was ended");
    await assertAllEnded(task, pidFile);
  });

  it('reports a task killed from outside as killed (infra)', async () => {
    const task = makeTask(['sh', '-c', 'kill -KILL $$']);
    const result = resultOf(await runWorker(task), task);
    assert.equal(result.outcome, 'killed');
    assert.equal(result.failure_kind, 'infra');
    assert.equal(result.signal, 'SIGKILL');
  });

  it('reports CUDA out of memory as oom (infra)', async () => {
    const task = makeTask(['sh', join(taskFixtures, 'oom.sh')]);
    const result = resultOf(await runWorker(task), task);
    assert.equal(result.outcome, 'oom');
    assert.equal(result.failure_kind, 'infra');
    assert.match(result.reason!, /^out of GPU memory \(exit code 1\): torch\.OutOfMemoryError: CUDA out of memory/);
  });

  it('refuses a blocked command before anything runs', async () => {
    const marker = join(tmp, `blocked-${seq}.marker`);
    const task = makeTask(['sh', '-c', `touch ${marker}; curl http://example.com`]);
    const result = resultOf(await runWorker(task), task);
    assert.equal(result.outcome, 'blocked');
    assert.equal(result.failure_kind, 'app');
    assert.equal(result.reason, 'blocked: "curl" is a network tool (executor.network_commands in config.json), inside "sh -c"');
    assert.equal(result.stdout_path, null);
    assert.equal(existsSync(marker), false, 'the command never ran');
    assert.equal(existsSync(join(batchPath, 'logs', `${task.name}.attempt1.out`)), false);
  });

  it('parks an approval command, and runs it once approved', async () => {
    const task = makeTask(['pip', 'install', 'x']);
    const parked = resultOf(await runWorker(task), task);
    assert.equal(parked.outcome, 'needs_approval');
    assert.equal(parked.failure_kind, null);
    assert.equal(parked.reason, 'needs approval: "pip" must be approved by a person first (executor.approval_commands in config.json)');
    assert.equal(existsSync(join(batchPath, 'pip-ran')), false, 'pip did not run');

    const approved = { ...task, approved: true, attempt: 2 };
    const result = resultOf(await runWorker(approved), approved);
    assert.equal(result.outcome, 'success');
    assert.equal(await readFile(result.stdout_path!, 'utf8'), 'fake pip: install x\n');
    assert.equal(existsSync(join(batchPath, 'pip-ran')), true, 'pip ran');
  });

  it('passes hostile argv values literally, never through a shell', async () => {
    const marker = join(tmp, `hostile-${seq}.marker`);
    const values = [
      `$(touch ${marker})`, `\`touch ${marker}\``, `; touch ${marker}`, `&& touch ${marker}`, `| touch ${marker}`,
      `> ${marker}`, "it's", '"quoted"', 'two words', '*', '$HOME', '-n', '--', '\\n',
    ];
    const task = makeTask(['printf', '%s\\n', ...values]);
    const result = resultOf(await runWorker(task), task);
    assert.equal(result.outcome, 'success');
    assert.equal(await readFile(result.stdout_path!, 'utf8'), values.map((v) => `${v}\n`).join(''));
    assert.equal(existsSync(marker), false);
  });

  it('reports a command that does not exist', async () => {
    const task = makeTask(['forge-no-such-command-xyz', '--flag']);
    const result = resultOf(await runWorker(task), task);
    assert.equal(result.outcome, 'failed');
    assert.equal(result.failure_kind, 'app');
    assert.equal(result.reason, 'command not found: forge-no-such-command-xyz');
  });

  it('passes CUDA_VISIBLE_DEVICES as the agent gave it, which worker_env cannot override', async () => {
    const config = join(tmp, 'config-env.json');
    await writeConfig(config, { worker_env: { CUDA_VISIBLE_DEVICES: '7', FORGE_EXTRA: 'from-config' } });
    const script = 'echo "${CUDA_VISIBLE_DEVICES-unset}|$FORGE_TASK_ID|$FORGE_BATCH_PATH|$FORGE_ATTEMPT|$FORGE_EXTRA"';

    const task = makeTask(['sh', '-c', script], { attempt: 2 });
    const result = resultOf(await runWorker(task, { config, env: { ...process.env, CUDA_VISIBLE_DEVICES: '3' } }), task);
    assert.equal(await readFile(result.stdout_path!, 'utf8'), `3|${task.id}|${batchPath}|2|from-config\n`);

    const bare = makeTask(['sh', '-c', script]);
    const env = { ...process.env };
    delete env.CUDA_VISIBLE_DEVICES;
    const r2 = resultOf(await runWorker(bare, { config, env }), bare);
    assert.equal(await readFile(r2.stdout_path!, 'utf8'), `unset|${bare.id}|${batchPath}|1|from-config\n`);
  });

  it('answers an invalid task with an error result (infra)', async () => {
    const task = { id: `${BATCH}__broken`, attempt: 1, argv: 'not an array' } as unknown as TaskInput;
    const result = resultOf(await runWorker(task), { id: `${BATCH}__broken`, attempt: 1 });
    assert.equal(result.outcome, 'error');
    assert.equal(result.failure_kind, 'infra');
    assert.match(result.reason!, /^invalid task: /);
  });

  it('answers a task file that is a FIFO with an error result instead of waiting for a writer', { timeout: 30_000 }, async () => {
    const fifo = join(tmp, 'task-fifo.json');
    await execa('mkfifo', [fifo]);
    const r = await execa('node', [...WORKER, '--task-file', fifo, '--config', configPath], { cwd: ROOT, reject: false, timeout: 25_000 });
    const result = resultOf({ stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode, ms: 0 }, { id: 'unknown', attempt: 1 });
    assert.equal(result.outcome, 'error');
    assert.match(result.reason!, /cannot read the task file: .*task-fifo\.json is a FIFO, not a regular file/);
  });

  it('answers a config it cannot read with an error result (infra)', async () => {
    const task = makeTask(['true']);
    const result = resultOf(await runWorker(task, { config: join(tmp, 'missing.json') }), task);
    assert.equal(result.outcome, 'error');
    assert.equal(result.failure_kind, 'infra');
    assert.match(result.reason!, /^cannot load the config: .*missing\.json: no config file/);
  });
});

describe('parseWorkerStdout on what a broken worker prints (exit 0)', { concurrency: 4 }, () => {
  const fake = async (mode: string) => {
    const r = await execa('sh', [join(FIXTURES, 'fake-worker.sh'), mode]);
    assert.equal(r.exitCode, 0);
    return parseWorkerStdout(r.stdout, `${BATCH}__t`, 1);
  };

  it('no output', async () => {
    assert.deepEqual(await fake('silent'), { ok: false, reason: 'the worker printed no result (its stdout was empty)' });
  });

  it('two results', async () => {
    const parsed = await fake('two');
    assert.equal(parsed.ok, false);
    assert.match(parsed.ok ? '' : parsed.reason, /^the worker printed 2 results on stdout; expected exactly one JSON result line/);
  });

  it('garbage', async () => {
    assert.deepEqual(await fake('garbage'), { ok: false, reason: 'the worker\'s stdout is not a JSON result: "Traceback: something broke"' });
  });

  it('a result for another task', async () => {
    assert.deepEqual(await fake('wrong-task'), { ok: false, reason: 'the worker\'s result is for task "b1__other", expected "b1__t"' });
  });

  it('a result for another attempt', () => {
    const line = JSON.stringify({
      task_id: 'b1__t', attempt: 1, outcome: 'success', failure_kind: null, exit_code: 0, signal: null, reason: null,
      started_at: 'x', finished_at: 'y', duration_ms: 1, stdout_path: null, stderr_path: null,
    });
    assert.deepEqual(parseWorkerStdout(line + '\n', 'b1__t', 2), {
      ok: false,
      reason: 'the worker\'s result is for attempt 1 of task "b1__t", expected attempt 2',
    });
  });

  it('JSON that is not a result', () => {
    const parsed = parseWorkerStdout('{"task_id":"b1__t"}\n', 'b1__t', 1);
    assert.equal(parsed.ok, false);
    assert.match(parsed.ok ? '' : parsed.reason, /^the worker's result does not match the result schema: attempt: /);
  });
});
