// Shell tasks that try to leave their batch folder, kill what is not theirs, outlive their
// end or reach the network, each run by a real worker with sandbox.mode "require". Every case
// proves that its attack ran (a file it writes first in its batch folder), then checks what a
// user relies on: nothing outside the batch folder changed (the whole mount is compared before
// and after, and a marker in the host's /tmp), the worker still answered, and a process the
// test started is still alive. The policy's friendly refusals are kept out of the way
// (script files and shell variables it cannot see into): the sandbox must hold on its own.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { ensureMount, mountPaths, type MountPaths } from '../../agents/core/paths.ts';
import type { TaskInput, WorkerResult } from '../../agents/core/task.ts';
import { processesOfAttempt } from '../../agents/gpu/procGroup.ts';
import { parseWorkerStdout } from '../../agents/core/workerProtocol.ts';
import { AUTOGROUP, processesWithEnv } from '../helpers/procs.ts';
import { nodeArgsFor } from '../../agents/core/entry.ts';
import { parseAutogroup } from '../../agents/core/sessionNice.ts';

const ROOT = join(import.meta.dirname, '../..');
// The worker as the agent starts it: its bundle while fresh (npm test builds first), else tsx.
const WORKER = nodeArgsFor('worker/main');
const BWRAP = '/usr/bin/bwrap';
const NO_BWRAP = existsSync(BWRAP) ? false : `bubblewrap is not installed (${BWRAP}): apt-get install bubblewrap to run the sandbox attacks`;
const CASE = { timeout: 60_000 };

let root: string;
let paths: MountPaths;
let plan: string;
let configPath: string;
let hostMarker: string;
let foreign: ResultPromise;
let seq = 0;

before(async () => {
  // Not under /tmp: the sandbox gives every task a private /tmp, which would hide a mount
  // there rather than show that the read-only file system holds.
  const base = existsSync('/var/tmp') ? '/var/tmp' : tmpdir();
  root = await mkdtemp(join(base, 'forge-sandbox-'));
  paths = mountPaths(join(root, 'mount'));
  await ensureMount(paths);
  plan = join(paths.plans, 'p');
  await mkdir(join(plan, 'batches', 'b0'), { recursive: true });
  await writeFile(join(plan, 'batches', 'b0', 'keep.txt'), 'another batch\n');
  await writeFile(join(paths.folders.private, 'b0__other.json'), '{"another batch": "task"}\n');
  configPath = paths.config;
  await writeConfig(configPath, { mode: 'require' });
  await mkdir(join(root, 'harness'));
  hostMarker = join(tmpdir(), `forge-sandbox-marker-${process.pid}`);
  foreign = execa('sleep', ['1000'], { reject: false });
});

after(async () => {
  foreign?.kill('SIGKILL');
  await rm(hostMarker, { force: true });
  if (root) await rm(root, { recursive: true, force: true });
});

/** No system_paths: the mount is under /var/tmp, and the sandbox must hold without the policy's help. */
function writeConfig(path: string, sandbox: Record<string, unknown>): Promise<void> {
  return writeFile(path, JSON.stringify({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 11435 }], executor: { system_paths: [] }, sandbox }));
}

/** A fresh batch folder of plan p, and a task in it (its id unique on this machine: the leftovers checks look at every process). */
async function newTask(argv: (batch: string) => string[], extra: Partial<TaskInput> = {}) {
  const batch = `b${process.pid}x${++seq}`;
  const batchPath = join(plan, 'batches', batch);
  await mkdir(batchPath, { recursive: true });
  const task = {
    id: `${batch}__t`, batch, plan: 'p', name: 't', task_class: 'cpu' as const, command: 'x', argv: argv(batchPath),
    cwd: plan, batch_path: batchPath, vram_estimate_mb: 0, timeout_s: 20, max_attempts: 3,
    created_at: new Date().toISOString(), attempt: 1, ...extra,
  };
  return { task, batchPath };
}

/** Processes of the task still running anywhere on the host, found by their environment. */
function leftovers(task: { id: string; batch_path: string }): Promise<number[]> {
  return processesWithEnv({ FORGE_TASK_ID: task.id, FORGE_BATCH_PATH: task.batch_path });
}

function startWorker(task: TaskInput & { id: string }, config = configPath): ResultPromise<{ reject: false }> {
  const file = join(root, 'harness', `${task.id}.json`);
  writeFileSync(file, JSON.stringify(task));
  // As the agent starts a worker: FORGE_AGENT in its environment names who owns its processes.
  return execa(process.execPath, [...WORKER, '--task-file', file, '--config', config], {
    cwd: ROOT,
    reject: false,
    timeout: 50_000,
    env: { FORGE_AGENT: 'gpu-sandbox' },
  });
}

async function runTask(task: TaskInput & { id: string; attempt: number }, config?: string): Promise<{ result: WorkerResult; stderr: string }> {
  const r = await startWorker(task, config);
  assert.equal(r.exitCode, 0, `the worker answered; stderr:\n${String(r.stderr)}`);
  const parsed = parseWorkerStdout(String(r.stdout), task.id, task.attempt);
  assert.ok(parsed.ok, parsed.ok ? '' : `${parsed.reason}\nstderr:\n${String(r.stderr)}`);
  return { result: parsed.result, stderr: String(r.stderr) };
}

/** Every entry under dir but `except`: kind, mode, size, mtime and content (or link target; a FIFO is never read). */
function snapshot(dir: string, except: string, into = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (p === except) continue;
    const st = lstatSync(p);
    const what = st.isSymbolicLink() ? `link ${readlinkSync(p)}` : st.isDirectory() ? 'dir' : st.isFile() ? `file ${readFileSync(p, 'base64')}` : 'special';
    into.set(p, `${what} mode ${st.mode} size ${st.size} mtime ${st.mtimeMs}`);
    if (st.isDirectory()) snapshot(p, except, into);
  }
  return into;
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** Runs an attack and checks the common promises; returns its result for the case's own checks. */
async function attack(argv: (batch: string) => string[], extra: Partial<TaskInput> = {}) {
  const { task, batchPath } = await newTask(argv, extra);
  const before = snapshot(paths.root, batchPath);
  const { result, stderr } = await runTask(task);
  assert.notEqual(result.outcome, 'blocked', `the policy did not stop it first: ${result.reason}`);
  assert.ok(existsSync(join(batchPath, 'ran')), `the attack ran (${result.outcome}: ${result.reason}); worker stderr:\n${stderr}`);
  assert.deepEqual(snapshot(paths.root, batchPath), before, 'nothing outside the batch folder changed');
  assert.equal(existsSync(hostMarker), false, "nothing was written into the host's /tmp");
  assert.ok(alive(foreign.pid), 'the foreign process is still alive');
  return { result, batchPath, stderr, task };
}

/** A script file in the plan folder: the policy does not look into script files. */
async function script(name: string, body: string): Promise<string> {
  const file = join(plan, name);
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  return file;
}

describe('sandboxed shell tasks (sandbox.mode "require")', { skip: NO_BWRAP, concurrency: 1 }, () => {
  it('cannot write, delete or move anything outside its batch folder: ../ paths, absolute paths, the host /tmp', CASE, async () => {
    const file = await script('escape.sh', [
      'B=$1 MOUNT=$2 MARK=$3',
      'touch "$B/ran"',
      'touch "$B/../../../../brain/private_tasks/marker"',
      'echo pwned > "$B/../b0/keep.txt"',
      'rm -rf "$MOUNT/brain/private_tasks/b0__other.json"',
      'rm -rf "$B/../b0"',
      'mv "$MOUNT/brain/private_tasks/b0__other.json" "$B/"',
      'mkdir "$MOUNT/brain/private_tasks/new"',
      'echo pwned > "$MOUNT/config.json"',
      // Its own /tmp works, and is not the host's.
      'echo pwned > "$MARK" && touch "$B/tmp-writable"',
      'exit 0',
    ].join('\n'));
    const { batchPath } = await attack((b) => ['sh', file, b, paths.root, hostMarker]);
    assert.ok(existsSync(join(batchPath, 'tmp-writable')), 'the task had a writable /tmp of its own');
  });

  it('a command name from a variable (r=rm; $r -rf) through sh -c, and awk system(), delete nothing outside', CASE, async () => {
    await attack((b) => [
      'sh', '-c', 'touch "$1/ran"; r=rm; $r -rf "$2" "$3"; awk \'BEGIN { system("rm -rf " ARGV[1]) }\' "$3"; exit 0',
      'sh', b, paths.folders.private, join(plan, 'batches', 'b0'),
    ]);
  });

  it('a symlink in its batch folder pointing outside does not let it write or delete there', CASE, async () => {
    const file = await script('link.sh', [
      'B=$1 OUT=$2',
      'touch "$B/ran"',
      'ln -s "$OUT" "$B/link"',
      'echo pwned > "$B/link/marker"',
      'echo pwned > "$B/link/b0__other.json"',
      'rm -rf "$B/link/"',
      'rm -rf "$B/link/b0__other.json"',
      'exit 0',
    ].join('\n'));
    await attack((b) => ['sh', file, b, paths.folders.private]);
  });

  it('cannot kill its worker through /proc/$PPID, nor the host with kill -9 -1, nor a process it names', CASE, async () => {
    const file = await script('kill.sh', [
      'B=$1 FOREIGN=$2',
      'touch "$B/ran"',
      'kill -9 "$(cut -d" " -f4 /proc/$$/stat)" $PPID',
      'kill -9 "$FOREIGN"',
      // kill -1 outside a pid namespace would reach every process of the machine: only inside one.
      '[ "$$" -le 2 ] || { echo "not in a pid namespace (pid $$): not trying kill -1" >&2; exit 99; }',
      'kill -9 -1',
      'kill -9 1',
      'exit 0',
    ].join('\n'));
    const { result } = await attack((b) => ['sh', file, b, String(foreign.pid)]);
    assert.equal(result.outcome, 'success', `${result.reason}`);
  });

  it('a setsid daemon does not outlive its task', CASE, async () => {
    const { task, batchPath } = await newTask((b) => [
      'sh', '-c', 'touch "$1/ran"; setsid sh -c \'touch "$1/daemon-up"; exec sleep 1000\' sh "$1" >/dev/null 2>&1 & ' +
        'while [ ! -e "$1/daemon-up" ]; do sleep 0.05; done; exit 0',
      'sh', b,
    ]);
    try {
      const { result } = await runTask(task);
      assert.equal(result.outcome, 'success', `${result.reason}`);
      assert.ok(existsSync(join(batchPath, 'daemon-up')), 'the daemon started');
      assert.deepEqual(await leftovers(task), [], 'nothing with its environment is left');
      assert.ok(alive(foreign.pid), 'the foreign process is still alive');
    } finally {
      for (const pid of await leftovers(task)) process.kill(pid, 'SIGKILL');
    }
  });

  it('cannot reach a port on the host loopback', CASE, async () => {
    let connections = 0;
    const server: Server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const code =
        'const fs = require("fs"); fs.writeFileSync(process.argv[1] + "/ran", "");' +
        `const s = require("net").connect(${port}, "127.0.0.1");` +
        's.on("connect", () => { fs.writeFileSync(process.argv[1] + "/connected", ""); process.exit(0); });' +
        's.on("error", (e) => { console.error("connect failed: " + e.code); process.exit(3); });';
      const { result } = await attack((b) => [process.execPath, '-e', code, b]);
      assert.equal(result.exit_code, 3, `${result.outcome}: ${result.reason}`);
      assert.match(result.reason ?? '', /connect failed: (ECONNREFUSED|ENETUNREACH)/);
      assert.equal(connections, 0, 'no connection reached the host');
    } finally {
      server.close();
    }
  });

  it('a timeout still gives the task its SIGTERM and grace period, then ends everything inside', CASE, async () => {
    const { task, batchPath } = await newTask((b) => [
      'sh', '-c', 'trap \'touch "$1/got-term"; exit 5\' TERM; touch "$1/ran"; sleep 30 & wait', 'sh', b,
    ], { timeout_s: 1 });
    const { result } = await runTask(task);
    assert.equal(result.outcome, 'timeout', `${result.reason}`);
    assert.ok(existsSync(join(batchPath, 'got-term')), 'the task caught SIGTERM');
    assert.deepEqual(await leftovers(task), []);
  });

  it("what it plants where a later attempt's log files go (symlinks out, a FIFO, the logs folder itself) is refused, never followed", CASE, async () => {
    const secret = join(root, 'secret.txt');
    await writeFile(secret, 'top secret\n');
    const out = join(root, 'planted-logs');
    await mkdir(out);
    const file = await script('plant.sh', [
      'B=$1 SECRET=$2 VICTIM=$3',
      'touch "$B/ran"',
      'ln -s "$SECRET" "$B/logs/t.attempt2.err"',
      'ln -s "$VICTIM" "$B/logs/t.attempt2.out"',
      'mkfifo "$B/logs/t.attempt3.out"',
      'exit 0',
    ].join('\n'));
    const { task, batchPath } = await attack((b) => ['sh', file, b, secret, join(paths.folders.private, 'b0__other.json')]);
    const before = snapshot(paths.root, batchPath);
    for (const [attempt, why] of [[2, /is a symlink, not a log file/], [3, /is not a regular file/]] as const) {
      const { result } = await runTask({ ...task, attempt, argv: ['sh', '-c', 'echo pwned; echo pwned >&2'] });
      assert.equal(result.outcome, 'blocked', `attempt ${attempt}: ${result.reason}`);
      assert.match(result.reason ?? '', why);
      assert.doesNotMatch(result.reason ?? '', /top secret/);
    }
    assert.equal(readFileSync(secret, 'utf8'), 'top secret\n');
    assert.deepEqual(snapshot(paths.root, batchPath), before, 'nothing outside the batch folder changed');
    // Its logs folder swapped for a symlink out of the batch folder: refused as well.
    const swap = await attack((b) => ['sh', '-c', 'touch "$1/ran"; mv "$1/logs" "$1/old-logs" && ln -s "$2" "$1/logs"', 'sh', b, out]);
    const { result } = await runTask({ ...swap.task, attempt: 2, argv: ['sh', '-c', 'echo pwned'] });
    assert.equal(result.outcome, 'blocked', `${result.reason}`);
    assert.match(result.reason ?? '', /logs is not a folder/);
    assert.deepEqual(readdirSync(out), [], 'no log file was created through the symlink');
  });

  it('a running sandboxed task is found by its environment from the host, and SIGTERM to the worker ends it', CASE, async () => {
    const { task, batchPath } = await newTask((b) => ['sh', '-c', 'touch "$1/ran"; sleep 30', 'sh', b]);
    const worker = startWorker(task);
    try {
      const deadline = Date.now() + 30_000;
      while (!existsSync(join(batchPath, 'ran')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      const found = await processesOfAttempt('gpu-sandbox', task.id, 1);
      const ours = readlinkSync('/proc/self/ns/pid');
      assert.ok(found.some((pid) => readlinkSync(`/proc/${pid}/ns/pid`) !== ours), `a process inside the sandbox is seen: ${found.join(', ')}`);
      worker.kill('SIGTERM');
      const r = await worker;
      const parsed = parseWorkerStdout(String(r.stdout), task.id, 1);
      assert.ok(parsed.ok && parsed.result.outcome === 'killed', String(r.stdout));
      assert.deepEqual(await leftovers(task), []);
    } finally {
      worker.kill('SIGKILL');
      for (const pid of await leftovers(task)) process.kill(pid, 'SIGKILL');
    }
  });

  it('SIGKILL to its worker ends a sandboxed task too (bwrap dies with its parent, the namespace with bwrap)', CASE, async () => {
    const { task, batchPath } = await newTask((b) => ['sh', '-c', 'touch "$1/ran"; sleep 30', 'sh', b]);
    const worker = startWorker(task);
    try {
      const deadline = Date.now() + 30_000;
      while (!existsSync(join(batchPath, 'ran')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      assert.notDeepEqual(await leftovers(task), [], 'the task runs');
      worker.kill('SIGKILL');
      await worker;
      const gone = Date.now() + 10_000;
      while ((await leftovers(task)).length && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(await leftovers(task), [], 'nothing of the task is left');
    } finally {
      for (const pid of await leftovers(task)) process.kill(pid, 'SIGKILL');
    }
  });

  it("runs in a session group as nice as its worker (workers.nice), not at the group's nice 0", { ...CASE, skip: AUTOGROUP ? false : 'this kernel does not group processes by session (autogroup)' }, async () => {
    const { task, batchPath } = await newTask((b) => ['sh', '-c', 'sleep 1; cat /proc/self/autogroup > "$1/group"; touch "$1/ran"', 'sh', b]);
    const file = join(root, 'harness', `${task.id}.json`);
    writeFileSync(file, JSON.stringify(task));
    // As the agent leaves a worker at workers.nice 10 (childRun.ts).
    const r = await execa('nice', ['-n', '10', process.execPath, ...WORKER, '--task-file', file, '--config', configPath], { cwd: ROOT, reject: false, timeout: 50_000, env: { FORGE_AGENT: 'gpu-sandbox' } });
    assert.equal(r.exitCode, 0, String(r.stderr));
    assert.ok(existsSync(join(batchPath, 'ran')), String(r.stderr));
    assert.equal(parseAutogroup(readFileSync(join(batchPath, 'group'), 'utf8')), 10);
  });

  it('refuses a batch_path that is not a batch folder of the mount, or a symlink out of it', CASE, async () => {
    const outside = join(root, 'outside');
    await mkdir(outside);
    await symlink(outside, join(plan, 'batches', 'evil'));
    for (const batchPath of ['/', paths.folders.private, join(plan, 'batches', 'evil')]) {
      const { task } = await newTask(() => ['sh', '-c', 'touch ran'], { batch_path: batchPath, cwd: batchPath });
      const { result } = await runTask(task);
      assert.equal(result.outcome, 'blocked', `${batchPath}: ${result.reason}`);
      assert.match(result.reason ?? '', /^blocked: the task's batch_path .* the sandbox makes only a batch folder of the mount writable/);
    }
    assert.deepEqual(readdirSync(outside), [], 'nothing was written through the symlink');
    assert.equal(statSync(paths.folders.private).isDirectory(), true);
  });
});

describe('without bubblewrap', { concurrency: 1 }, () => {
  it('"require" fails the task as infra, naming the setting and the package; nothing runs', CASE, async () => {
    const config = join(root, 'harness', 'config-missing-bwrap.json');
    await writeConfig(config, { mode: 'require', bwrap_path: join(root, 'no-such-bwrap') });
    const { task, batchPath } = await newTask((b) => ['sh', '-c', 'touch "$1/ran"', 'sh', b]);
    const { result } = await runTask(task, config);
    assert.equal(result.outcome, 'error');
    assert.equal(result.failure_kind, 'infra');
    assert.match(result.reason ?? '', /^sandbox\.mode is "require" in config\.json, but bubblewrap cannot run here: .*no-such-bwrap does not exist\. Install the Debian package bubblewrap/);
    assert.equal(existsSync(join(batchPath, 'ran')), false);
  });

  it('"auto" runs the task uncontained and says so on stderr', CASE, async () => {
    const config = join(root, 'harness', 'config-auto.json');
    await writeConfig(config, { mode: 'auto', bwrap_path: join(root, 'no-such-bwrap') });
    const { task, batchPath } = await newTask((b) => ['sh', '-c', 'touch "$1/ran"', 'sh', b]);
    const { result, stderr } = await runTask(task, config);
    assert.equal(result.outcome, 'success', `${result.reason}`);
    assert.ok(existsSync(join(batchPath, 'ran')));
    assert.match(stderr, /bubblewrap cannot run here \(.*no-such-bwrap does not exist\) and sandbox\.mode is "auto".*: the task runs UNCONTAINED/);
  });
});
