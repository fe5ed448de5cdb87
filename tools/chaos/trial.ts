// One chaos trial: a fresh temporary mount, a brain and agents on simulated GPUs started as
// separate processes, 1-2 generated batches, seeded faults while they run, then the checker
// on what is left. Bounded by a deadline: a trial whose batches do not all end in time fails.
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BatchRecord, readBatchRecord } from '../../agents/core/batch.ts';
import { isoTime } from '../../agents/core/clock.ts';
import { type ConfigInput, defaultGpus, writeConfig } from '../../agents/core/config.ts';
import { errorMessage } from '../../agents/core/errors.ts';
import { newBatchId, writeSubmission } from '../../agents/core/inbox.ts';
import { type MountPaths, batchDir, ensureMount, mountPaths } from '../../agents/core/paths.ts';
import { waitForAgents } from '../harness/runRig.ts';
import { initSimState, SIM_SANDBOX, simNvidiaSmiPath } from '../../agents/sim/simState.ts';
import { CHAOS_UNREADABLE_GRACE_S, type ExpectedBatch, type TrialVerdict, checkTrial, garbageFate } from './check.ts';
import type { ChaosEvent, GarbageEvent } from './events.ts';
import { Injector, makeSchedule } from './inject.ts';
import { expectedTaskNames, makePlanSpec, writeChaosPlan } from './plan.ts';
import { Rng } from './prng.ts';
import { parseRunLog, readMountSnapshot } from './snapshot.ts';
import { Supervisor, commandLineNames } from './supervisor.ts';

/** Kills per trial, at most. */
export const MAX_KILLS = 6;
/**
 * The chaos config's retries.max_infra_attempts. Each kill costs any one task at most one
 * infra failure (a dead agent's task is returned once, by the brain or by the agent's next
 * life); an agent the brain wrongly presumes dead under load costs one more. The default cap
 * (5) is within reach of a trial, and a task that reached it would fail for good although the
 * rig did nothing wrong. 20 is far above what a trial can reach, so every batch must complete.
 */
export const CHAOS_MAX_INFRA = 20;

export interface TrialOptions {
  seed: number;
  /** GPUs to simulate; default 2 or 3, from the seed. */
  gpus?: number | null;
  /** Give up waiting for the batches after this long, ms. */
  deadlineMs?: number;
  /** Keep the mount of a failed trial, or of every trial (its path is in the result). */
  keep?: 'failed' | 'all' | false;
  /** Progress notes (stderr of the chaos command). */
  say?: (line: string) => void;
  /**
   * Kill the brain at file operations (each life just before its j-th commit, j = 1, 2, ...)
   * instead of at random moments; agents, workers, tasks and garbage as usual. Needs strace.
   */
  brainOps?: boolean;
}

export interface TrialResult {
  seed: number;
  ok: boolean;
  verdict: TrialVerdict;
  gpus: number;
  batches: number;
  durationMs: number;
  /** The kept mount, else null. */
  kept: string | null;
}

const FINAL = new Set(['complete', 'failed', 'cancelled']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function writeChaosConfig(paths: MountPaths, gpus: number): Promise<void> {
  await initSimState(paths.sim, gpus);
  const config: ConfigInput = {
    gpus: defaultGpus(gpus, 1), // no Ollama on these ports: the LLM circuit opens, cpu work goes on
    nvidia_smi: simNvidiaSmiPath(),
    worker_env: { FORGE_SIM_DIR: paths.sim },
    sandbox: SIM_SANDBOX,
    cycles: { internal_s: 0.25, external_s: 1 },
    timeouts: { heartbeat_stale_s: 2, unreadable_grace_s: CHAOS_UNREADABLE_GRACE_S },
    retries: { max_infra_attempts: CHAOS_MAX_INFRA },
  };
  await writeConfig(paths.config, config);
}

export async function runTrial(o: TrialOptions): Promise<TrialResult> {
  const started = Date.now();
  const say = o.say ?? (() => {});
  const deadlineMs = o.deadlineMs ?? 90_000;
  const rng = new Rng(o.seed);
  const shape = rng.fork('shape');
  const gpus = o.gpus ?? shape.int(2, 3);
  const nBatches = shape.int(1, 2);
  const root = await mkdtemp(join(tmpdir(), 'forge-chaos-'));
  const paths = mountPaths(root);
  const logDir = join(root, 'chaos');
  const events: ChaosEvent[] = [];
  const record = (e: ChaosEvent) => events.push(e);
  const expected: ExpectedBatch[] = [];
  const setupProblems: string[] = [];
  const sup = new Supervisor(paths, logDir, record, { brainOps: o.brainOps ?? false });
  let finishedInTime = false;
  let stopped = false;
  let injecting: Promise<void> = Promise.resolve();
  try {
    await ensureMount(paths);
    await mkdir(logDir, { recursive: true });
    await writeChaosConfig(paths, gpus);
    const specs = Array.from({ length: nBatches }, (_, i) => makePlanSpec(rng.fork(`plan${i}`), `chaos-${i + 1}`, { maxItems: nBatches === 1 ? 6 : 4 }));
    for (const s of specs) await writeChaosPlan(paths, s);

    sup.start(gpus);
    await waitForAgents(paths, Array.from({ length: gpus }, (_, i) => i), 60_000);

    const t0 = Date.now();
    for (const s of specs) {
      const batch = newBatchId(Date.now());
      await writeSubmission(paths, { plan: s.name, config: {}, batch_id: batch, submitted_at: isoTime(Date.now()) });
      record({ t: Date.now(), kind: 'submit', batch, plan: s.name });
      expected.push({ id: batch, plan: s.name, names: expectedTaskNames(s) });
    }
    const records = new Map<string, BatchRecord | null>();
    const active = () => expected.filter((b) => !FINAL.has(records.get(b.id)?.state ?? 'pending')).map((b) => b.id);

    // With --brain-ops the batches take about four times as long (the brain's early lives die
    // in start-up): the other faults are spread over that time, so they still find work to hit.
    const horizonMs = (2500 + 2000 * nBatches) * (o.brainOps ? 4 : 1);
    const schedule = makeSchedule(rng.fork('faults'), { kills: [2, MAX_KILLS], garbage: [2, 5], startMs: 300, horizonMs })
      // With brainOps the brain dies at its file operations, never at a moment.
      .filter((f) => !(o.brainOps && f.kind === 'kill' && f.target === 'brain'));
    const injector = new Injector({
      paths, supervisor: sup, gpus,
      picks: rng.fork('picks'), restarts: rng.fork('restarts'), garbage: rng.fork('garbage'),
      brainRestartMs: [100, 1500],
      // Up to twice heartbeat_stale_s: sometimes the brain returns the dead agent's tasks first.
      agentRestartMs: [100, 4000],
      activeBatches: active,
      stopped: () => stopped,
      record,
    });
    injecting = (async () => {
      for (const f of schedule) {
        const wait = t0 + f.atMs - Date.now();
        if (wait > 0) await sleep(wait);
        if (stopped || active().length === 0) return;
        await injector.apply(f, t0 + f.atMs + 3000);
      }
    })();

    const deadline = t0 + deadlineMs;
    for (;;) {
      for (const b of expected) records.set(b.id, await readBatchRecord(paths, b.id).catch(() => null));
      if (active().length === 0) {
        finishedInTime = true;
        break;
      }
      if (Date.now() > deadline) break;
      await sleep(200);
    }
    stopped = true;
    await injecting;
    await settle(paths, sup, events, expected.map((b) => b.id));
  } catch (err) {
    setupProblems.push(`the trial could not run: ${errorMessage(err)}`);
    stopped = true;
    await injecting.catch(() => {});
  }

  // Runs that started and never ended, and are still alive: strays (the checker decides).
  const aliveRunPids: number[] = [];
  for (const b of expected) {
    const text = await readFile(join(batchDir(paths, b.plan, b.id), 'runs.log'), 'utf8').catch(() => '');
    const { runs } = parseRunLog(text);
    const ended = new Set(runs.filter((r) => r.what === 'END').map((r) => r.pid));
    for (const r of runs) {
      if (r.what === 'START' && !ended.has(r.pid) && (await commandLineNames(r.pid, root))) aliveRunPids.push(r.pid);
    }
  }
  await sup.stop();
  const snapshot = await readMountSnapshot(paths, expected);
  const verdict = checkTrial({ snapshot, events, expected, aliveRunPids, finishedInTime, logDir });
  verdict.problems.unshift(...setupProblems);
  verdict.ok = verdict.problems.length === 0;
  let kept: string | null = null;
  if ((!verdict.ok && o.keep === 'failed') || o.keep === 'all') {
    kept = root;
    // Everything the checker saw, beside the mount it saw it in.
    await writeFile(join(logDir, 'events.json'), JSON.stringify({ seed: o.seed, gpus, expected, events, aliveRunPids, verdict }, null, 2)).catch(() => {});
    say(`kept the mount of seed ${o.seed}: ${root}`);
  } else {
    await rm(root, { recursive: true, force: true });
  }
  return { seed: o.seed, ok: verdict.ok, verdict, gpus, batches: nBatches, durationMs: Date.now() - started, kept };
}

/**
 * After the batches end: wait (a few seconds at most) until every process is up again and
 * the garbage in queue/, processing/ and the inbox (scanned at any time, not only while a
 * batch runs) has been dealt with, so the checker judges a rig at rest.
 */
async function settle(paths: MountPaths, sup: Supervisor, events: ChaosEvent[], batches: readonly string[]): Promise<void> {
  const pending = events.filter((e): e is GarbageEvent => e.kind === 'garbage' && (
    ((e.folder === 'queue' || e.folder === 'processing') && garbageFate(e) === 'quarantine') ||
    // A half-written submission is rejected once it has stayed so for the grace.
    (e.folder === 'inbox' && garbageFate(e) === 'reject')));
  const until = Date.now() + 8000;
  while (Date.now() < until) {
    let left = 0;
    for (const g of pending) {
      const dir = g.folder === 'inbox' ? paths.inbox : paths.folders[g.folder as 'queue' | 'processing'];
      if (await access(join(dir, g.name)).then(() => true, () => false)) left += 1;
    }
    // A brain killed while archiving a finished batch: its next life finishes the archiving.
    for (const folder of ['complete', 'failed'] as const) {
      const names = await readdir(paths.folders[folder]).catch(() => [] as string[]);
      left += names.filter((n) => batches.some((b) => n.startsWith(`${b}__`))).length;
    }
    if (left === 0 && sup.allUp()) return;
    await sleep(200);
  }
}
