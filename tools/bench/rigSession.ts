// One simulated rig on a temporary mount, driven through the real commands (launcher,
// submit) exactly as a user would, and read back from the mount's files and logs.
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResultPromise } from 'execa';
import { type BatchRecord, readBrainState } from '../../agents/core/batch.ts';
import { parseDecisionLine } from '../../agents/core/decisionLog.ts';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import { defaultGpus } from '../../agents/core/config.ts';
import { type MountPaths, ensureMount, mountPaths } from '../../agents/core/paths.ts';
import { Task } from '../../agents/core/task.ts';
import { freePortRange } from '../harness/ports.ts';
import { startRig, submitPlan, waitFor, waitForBatchEnd } from '../harness/runRig.ts';
import { readTree, roleOf } from './procStat.ts';

export interface RigSession {
  shared: string;
  paths: MountPaths;
  launcherPid: number;
  /** Submits a plan folder and waits for its batch to end. */
  runPlan(planDir: string, timeoutMs: number): Promise<BatchRun>;
  /** The pid of a rig process by role (brain, agent gpu-0, ...), or null. */
  pidOf(role: string): Promise<number | null>;
  stop(): Promise<void>;
}

export interface BatchRun {
  batchId: string;
  record: BatchRecord;
  /** Every task of the batch as archived when it finished, by name. */
  tasks: Map<string, Task>;
  /** When each task was released, from the decision log (ms since the epoch). */
  releasedAt: Map<string, number>;
  /** When each archived task file was last written (the agent's result write), ms. */
  writtenAt: Map<string, number>;
  submittedAtMs: number;
}

/** A fresh temporary mount (removed by the session's stop unless `keep`). */
export async function makeMount(prefix: string): Promise<MountPaths> {
  const paths = mountPaths(await mkdtemp(join(tmpdir(), prefix)));
  await ensureMount(paths);
  return paths;
}

/** Starts the launcher with N simulated GPUs on `paths` and waits for every agent's heartbeat. */
export async function startRigSession(paths: MountPaths, gpus: number, opts: { removeOnStop?: boolean; config?: Record<string, unknown> } = {}): Promise<RigSession> {
  const basePort = await freePortRange(gpus);
  const startedAt = Date.now();
  // Config keys to compare a setting (the rig simulates over them): the part's own, then
  // FORGE_BENCH_CONFIG's, e.g. '{"workers":{"preboot":false}}', for a whole run.
  const envExtra = process.env.FORGE_BENCH_CONFIG ? (JSON.parse(process.env.FORGE_BENCH_CONFIG) as Record<string, unknown>) : {};
  const extra = { ...opts.config, ...envExtra };
  if (Object.keys(extra).length) await writeFile(paths.config, JSON.stringify({ gpus: defaultGpus(gpus, basePort), ...extra }));
  const rig = startRig(paths.root, gpus, basePort, { quiet: true });
  const session: RigSession = {
    shared: paths.root,
    paths,
    launcherPid: rig.pid ?? -1,
    runPlan: (planDir, timeoutMs) => runPlan(paths, planDir, timeoutMs),
    pidOf: async (role) => (await readTree(rig.pid ?? -1)).find((p) => roleOf(p.cmdline) === role)?.pid ?? null,
    stop: () => stopRig(rig, paths, opts.removeOnStop ?? false),
  };
  try {
    await Promise.race([
      waitForFreshAgents(paths, gpus, startedAt, 90_000),
      rig.then((r) => {
        throw new Error(`the rig exited while starting (exit ${r.exitCode ?? r.signal})`);
      }),
    ]);
  } catch (err) {
    await session.stop();
    throw err;
  }
  return session;
}

/** Every agent's heartbeat from this start, not one left on the mount by an earlier rig. */
function waitForFreshAgents(paths: MountPaths, gpus: number, since: number, timeoutMs: number): Promise<unknown> {
  return waitFor('a fresh heartbeat from every agent', async () => {
    const beats = await Promise.all(Array.from({ length: gpus }, (_, i) => readHeartbeat(paths, i)));
    return beats.every((b) => b !== null && Date.parse(b.started_at) >= since - 1000);
  }, timeoutMs);
}

async function stopRig(rig: ResultPromise, paths: MountPaths, remove: boolean): Promise<void> {
  rig.kill('SIGTERM');
  const force = setTimeout(() => rig.kill('SIGKILL'), 20_000);
  await rig;
  clearTimeout(force);
  if (remove) await rm(paths.root, { recursive: true, force: true });
}

export async function runPlan(paths: MountPaths, planDir: string, timeoutMs: number): Promise<BatchRun> {
  const submittedAtMs = Date.now();
  const batchId = await submitPlan(paths.root, planDir);
  const record = await waitForBatchEnd(paths, batchId, timeoutMs);
  if (record.state !== 'complete') {
    throw new Error(`batch ${batchId} ended ${record.state}: ${JSON.stringify(record.final_counts)}; see ${paths.decisionLog}`);
  }
  // The record says 'complete' before the brain archives the task files; state.json drops
  // the batch only after archiving.
  await waitFor(`batch ${batchId} to be archived`, async () => !(await readBrainState(paths))?.active_batches.includes(batchId), 60_000, 50);
  const { tasks, writtenAt } = await readArchivedBatch(paths, batchId);
  const released = await readReleaseTimes(paths);
  const releasedAt = new Map<string, number>();
  for (const t of tasks.values()) {
    const ms = released.get(t.id);
    if (ms !== undefined) releasedAt.set(t.name, ms);
  }
  return { batchId, record, tasks, writtenAt, releasedAt, submittedAtMs };
}

/** The task files of a finished batch, from tasks/archive/<batch>/ (read with the task schema). */
export async function readArchivedBatch(paths: MountPaths, batchId: string): Promise<{ tasks: Map<string, Task>; writtenAt: Map<string, number> }> {
  const dir = join(paths.tasks, 'archive', batchId);
  const tasks = new Map<string, Task>();
  const writtenAt = new Map<string, number>();
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.json')) continue;
    const file = join(dir, name);
    const t = Task.parse(JSON.parse(await readFile(file, 'utf8')));
    tasks.set(t.name, t);
    writtenAt.set(t.name, (await stat(file)).mtimeMs);
  }
  return { tasks, writtenAt };
}

/** RELEASE lines of the decision log: task id -> time (ms). */
export async function readReleaseTimes(paths: MountPaths): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const text = await readFile(paths.decisionLog, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const d = parseDecisionLine(line);
    if (d?.who === 'brain' && d.what === 'RELEASE' && d.task) out.set(d.task, d.t);
  }
  return out;
}
