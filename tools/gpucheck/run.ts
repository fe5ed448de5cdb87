// gpu-check's run: preflight, a real rig (brain + one agent, no --simulate) on a mount of its
// own with limits the check's load crosses, a plan of script tasks that hold real GPU memory,
// sampling while they run, then the report. The deciding and the report text are pure
// (thresholds.ts, report.ts); this file only gathers and acts.
import { closeSync, openSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { readBatchRecord } from '../../agents/core/batch.ts';
import { writeConfig } from '../../agents/core/config.ts';
import { errorMessage } from '../../agents/core/errors.ts';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import { type MountPaths, ensureMount, mountPaths } from '../../agents/core/paths.ts';
import { readDecisionLines } from '../../agents/core/spool.ts';
import { TaskStore } from '../../agents/core/store.ts';
import { Task } from '../../agents/core/task.ts';
import { freePortRange } from '../harness/ports.ts';
import { submitPlan } from '../harness/runRig.ts';
import { initSimState, SIM_SANDBOX, simNvidiaSmiPath } from '../../agents/sim/simState.ts';
import type { GpuCheckOptions } from './options.ts';
import { REAL_OVERHEAD_MB, SIM_OVERHEAD_MB, buildCheckPlan, realRunner, simRunner, taskName } from './planText.ts';
import { type PythonInfo, findGpu, findNvidiaSmi, probePython, readSmiGpus } from './preflight.ts';
import { type FinalTask, type GpuCheckReport, buildReport, parseScriptReport } from './report.ts';
import { Sampler } from './sampler.ts';
import type { SmiGpu } from './smi.ts';
import { chooseThresholds } from './thresholds.ts';
import { healthTransitions, sawConstrainedToHealthy } from './transitions.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const PLAN_NAME = 'gpu-check';
const SAMPLE_MS = 500;
/** After the batch ends, how long to wait for the agent to be seen healthy again. */
const SETTLE_MS = 20_000;

export interface GpuCheckOutcome {
  /** 0 PASS, 1 FAIL, 2 the check cannot run here. */
  code: 0 | 1 | 2;
  report: GpuCheckReport | null;
  /** Why the check could not run (code 2). */
  message: string | null;
  /** The mount the rig ran on, when it is kept. */
  kept: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runGpuCheck(opts: GpuCheckOptions, say: (line: string) => void, signal?: AbortSignal): Promise<GpuCheckOutcome> {
  const startedAt = Date.now();
  const deadline = startedAt + opts.timeoutS * 1000;
  let mount: string;
  if (opts.shared !== null) {
    mount = resolve(opts.shared);
    const entries = await readdir(mount).catch(() => [] as string[]);
    if (entries.length) return cannot(`--shared ${opts.shared}: the folder is not empty; gpu-check writes its own config.json there, so give an empty or new folder`, null);
  } else {
    mount = await mkdtemp(join(tmpdir(), 'forge-gpu-check-'));
  }
  const keep = opts.shared !== null || opts.keep;
  const paths = mountPaths(mount);
  await ensureMount(paths);
  try {
    return await check(opts, paths, startedAt, deadline, say, signal, keep ? mount : null);
  } finally {
    if (!keep) await rm(mount, { recursive: true, force: true }).catch(() => {});
  }
}

function cannot(message: string, kept: string | null): GpuCheckOutcome {
  return { code: 2, report: null, message, kept };
}

async function check(
  opts: GpuCheckOptions,
  paths: MountPaths,
  startedAt: number,
  deadline: number,
  say: (line: string) => void,
  signal: AbortSignal | undefined,
  kept: string | null,
): Promise<GpuCheckOutcome> {
  // ---- preflight ----
  let nvidiaSmi: string;
  let smiEnv: Record<string, string> = {};
  const notes: string[] = [];
  if (opts.simulate) {
    await initSimState(paths.sim, opts.gpu + 1);
    nvidiaSmi = simNvidiaSmiPath();
    smiEnv = { FORGE_SIM_DIR: paths.sim };
    notes.push(`simulated: the project's nvidia-smi simulator (state in ${paths.sim}); tasks register simulated memory with scripts/sim-alloc.mjs`);
  } else {
    const found = await findNvidiaSmi(opts.nvidiaSmi);
    if (!found.ok) return cannot(found.message, kept);
    nvidiaSmi = found.value;
  }
  say(`nvidia-smi: ${nvidiaSmi}${opts.simulate ? ' (simulator)' : ''}`);
  const gpuFound = await findGpu(nvidiaSmi, smiEnv, opts.gpu);
  if (!gpuFound.ok) return cannot(gpuFound.message, kept);
  const gpu = gpuFound.value;
  say(`GPU ${gpu.index}: ${gpu.name}, ${gpu.memory_total_mb ?? '?'} MiB, power limit ${gpu.power_limit_w ?? '?'} W${gpu.driver ? `, driver ${gpu.driver}` : ''}`);

  let python: PythonInfo | null = null;
  if (opts.simulate) {
    say(`python: not needed (--simulate runs scripts/sim-alloc.mjs with ${process.execPath})`);
  } else {
    say(`python: probing ${opts.python} for torch (import torch can take a few seconds)`);
    const p = await probePython(opts.python, opts.gpu);
    if (!p.ok) return cannot(p.message, kept);
    python = p.value;
    say(`python: ${python.executable} (Python ${python.version}), torch ${python.torch}, CUDA available`);
  }
  const total = gpu.memory_total_mb;
  const need = opts.sizesMb.reduce((s, n) => s + n + (opts.simulate ? SIM_OVERHEAD_MB : REAL_OVERHEAD_MB), 0);
  if (total && need > total * 0.8) {
    return cannot(`the tasks need about ${need} MiB with their overhead, more than the agent's budget (80% of ${total} MiB): give smaller --sizes`, kept);
  }

  // ---- limits from an idle reading ----
  const idle = await idleReading(nvidiaSmi, smiEnv, opts.gpu, gpu);
  say(`idle: ${idle.memory_used_mb ?? '?'} MiB used, ${idle.power_draw_w ?? '?'} W, ${idle.temperature_c ?? '?'} C`);
  const limits = chooseThresholds(idle, opts.sizesMb, { vramPercent: opts.vramThresholdPercent, powerW: opts.powerThresholdW });
  for (const w of limits.why) say(`threshold: ${w}`);
  for (const w of limits.warnings) say(`warning: ${w}`);

  // ---- the rig's config and the plan ----
  const agentName = `gpu-${opts.gpu}`;
  const port = await freePortRange(1);
  await writeConfig(paths.config, {
    gpus: [{ id: opts.gpu, name: agentName, model: 'none', port }],
    nvidia_smi: nvidiaSmi,
    worker_env: opts.simulate ? { FORGE_SIM_DIR: paths.sim } : {},
    ...(opts.simulate ? { sandbox: SIM_SANDBOX } : {}),
    cycles: { internal_s: 1, external_s: 2 },
    resource_limits: { max_temp_c: limits.max_temp_c, max_vram_percent: limits.max_vram_percent, max_power_w: limits.max_power_w },
  });
  const planDir = join(paths.plans, PLAN_NAME);
  await mkdir(planDir, { recursive: true });
  await cp(join(root, 'plans', PLAN_NAME, 'scripts'), join(planDir, 'scripts'), { recursive: true });
  await writeFile(
    join(planDir, 'plan.md'),
    buildCheckPlan({
      sizesMb: opts.sizesMb,
      seconds: opts.seconds,
      matmul: opts.matmul,
      runner: opts.simulate ? simRunner(process.execPath) : realRunner(python!.executable),
      overheadMb: opts.simulate ? SIM_OVERHEAD_MB : REAL_OVERHEAD_MB,
    }),
  );

  // ---- run ----
  const rigLog = join(paths.logs, 'gpu-check-rig.log');
  say(`rig: starting brain and agent ${agentName} on ${paths.root} (no --simulate; config.json written above; output in ${rigLog})`);
  const rig = startRig(paths.root, rigLog);
  let rigEnded: string | null = null;
  void rig.then((r) => (rigEnded = r.signal ? `signal ${r.signal}` : `exit ${r.exitCode}`));
  const sampler = new Sampler({ paths, gpu: opts.gpu, nvidiaSmi, env: smiEnv, intervalMs: SAMPLE_MS });
  sampler.start();
  const problems: string[] = [];
  let batch: { id: string | null; state: string | null } = { id: null, state: null };

  const waitFor = async <T>(what: string, fn: () => Promise<T | null>, until = deadline, everyMs = 250): Promise<T> => {
    for (;;) {
      const v = await fn();
      if (v !== null) return v;
      if (signal?.aborted) throw new Error(`interrupted while waiting for ${what}`);
      if (rigEnded) throw new Error(`the rig ended (${rigEnded}) while waiting for ${what}; see ${rigLog}:\n${await tail(rigLog)}`);
      if (Date.now() > until) throw new Error(`timed out (--timeout ${opts.timeoutS} s) waiting for ${what}`);
      await sleep(everyMs);
    }
  };

  try {
    const hb = await waitFor(`agent ${agentName}'s first heartbeat`, () => readHeartbeat(paths, opts.gpu));
    say(`rig: agent ${agentName} is up (${hb.health}${hb.health_reasons.length ? `: ${hb.health_reasons.join('; ')}` : ''})`);
    if (hb.health === 'unhealthy') problems.push(`agent ${agentName} is unhealthy: ${hb.health_reasons.join('; ')}`);
    const id = await submitPlan(paths.root, planDir);
    batch = { id, state: 'pending' };
    say(`submitted ${opts.sizesMb.length} task(s) (${opts.sizesMb.map((mb, i) => `${taskName(i)} ${mb} MiB`).join(', ')}, ${opts.seconds} s each) as batch ${id}`);
    let lastLine = '';
    const rec = await waitFor(`batch ${id} to finish`, async () => {
      const r = await readBatchRecord(paths, id);
      const now = sampler.lastHeartbeat();
      const line = now ? `agent ${now.health}, ${now.active.length} task(s) running, ${now.vram_used_mb ?? '?'} MiB used${now.reasons.length ? ` (${now.reasons.join('; ')})` : ''}` : '';
      if (line && line !== lastLine) say(line);
      lastLine = line;
      return r && ['complete', 'failed', 'cancelled'].includes(r.state) ? r : null;
    });
    batch = { id, state: rec.state };
    say(`batch ${id}: ${rec.state}; waiting up to ${SETTLE_MS / 1000} s to see the agent healthy again`);
    const settleUntil = Math.min(deadline, Date.now() + SETTLE_MS);
    await waitFor(
      'the agent to be healthy again',
      async () => {
        const points = sampler.samples.flatMap((s) => (s.heartbeat ? [{ at: s.heartbeat.at, health: s.heartbeat.health, reasons: s.heartbeat.reasons }] : []));
        return sawConstrainedToHealthy(healthTransitions(points)) || Date.now() > settleUntil ? true : null;
      },
      settleUntil + 1000,
    );
  } catch (err) {
    problems.push(errorMessage(err));
  } finally {
    await sampler.stop();
    await stopRig(rig);
  }
  const unknown = sampler.unknownPids();
  if (unknown.length) {
    notes.push(
      `nvidia-smi listed pid(s) ${unknown.join(', ')} that this host's /proc does not have: ` +
        'a container with its own pid namespace, where nvidia-smi shows host pids and no pid can be matched to a worker',
    );
  }

  // The rig is stopped: the agent's last lines may still be in its spool file, not yet merged.
  const logText = (await readDecisionLines(paths).catch(() => [] as string[])).map((l) => l + '\n').join('');
  const tasks = batch.id ? await collectTasks(paths, batch.id) : [];
  const report = buildReport({
    mode: opts.simulate ? 'simulated' : 'real',
    startedAt,
    finishedAt: Date.now(),
    agentName,
    gpu,
    preflight: { nvidia_smi: nvidiaSmi, python, notes },
    idle,
    thresholds: limits,
    batch,
    tasks,
    samples: sampler.samples,
    logText,
    problems,
  });
  return { code: report.verdict === 'PASS' ? 0 : 1, report, message: null, kept };
}

/** Three readings 0.4 s apart, the highest of each figure: the limits must sit above idle noise. */
async function idleReading(nvidiaSmi: string, env: Record<string, string>, index: number, first: SmiGpu): Promise<SmiGpu> {
  const seen: SmiGpu[] = [first];
  for (let i = 0; i < 2; i++) {
    await sleep(400);
    const r = await readSmiGpus(nvidiaSmi, env, index);
    const g = r.ok ? r.value.find((x) => x.index === index) : undefined;
    if (g) seen.push(g);
  }
  const hi = (f: (g: SmiGpu) => number | null) => seen.reduce<number | null>((m, g) => (f(g) !== null && (m === null || f(g)! > m) ? f(g) : m), null);
  return { ...first, memory_used_mb: hi((g) => g.memory_used_mb), power_draw_w: hi((g) => g.power_draw_w), temperature_c: hi((g) => g.temperature_c) };
}

/** The rig as a person starts it, without --simulate: it uses the config.json already on the mount. */
function startRig(shared: string, logFile: string): ResultPromise {
  const fd = openSync(logFile, 'a');
  const rig = execa(process.execPath, ['--import', 'tsx', join(root, 'agents/rig/main.ts'), '--shared', shared], {
    cwd: root,
    env: { ...process.env, RIG_SHARED: shared },
    stdin: 'ignore',
    // execa's types list only descriptors 1-9 (see agents/worker/runShell.ts); any number works.
    stdout: fd as 3,
    stderr: fd as 3,
    reject: false,
    cleanup: true,
  });
  void rig.finally(() => closeSync(fd));
  return rig;
}

async function stopRig(rig: ResultPromise): Promise<void> {
  if (rig.exitCode !== null && rig.exitCode !== undefined) return;
  rig.kill('SIGTERM');
  const force = setTimeout(() => rig.kill('SIGKILL'), 20_000);
  await rig;
  clearTimeout(force);
}

async function tail(file: string, lines = 15): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** The check's tasks as they ended: from the task folders, or the batch's archive once the brain moved them. */
async function collectTasks(paths: MountPaths, batchId: string): Promise<FinalTask[]> {
  const rec = await readBatchRecord(paths, batchId);
  if (!rec) return [];
  const store = new TaskStore(paths);
  const out: FinalTask[] = [];
  for (const id of rec.task_ids) {
    let task: Task | null = null;
    let folder = 'archive';
    for (const f of ['complete', 'failed', 'processing', 'queue', 'private'] as const) {
      const r = await store.read(f, id).catch(() => null);
      if (r?.ok) {
        task = r.task;
        folder = f;
        break;
      }
    }
    if (!task) {
      const text = await readFile(join(paths.tasks, 'archive', batchId, `${id}.json`), 'utf8').catch(() => null);
      const parsed = text === null ? null : Task.safeParse(JSON.parse(text));
      task = parsed?.success ? parsed.data : null;
    }
    if (!task || task.task_class !== 'script') continue;
    const result = task.result;
    const stdoutPath = result?.stdout_path ?? join(task.batch_path, 'logs', `${task.name}.attempt${Math.max(1, task.attempt)}.out`);
    const stdout = await readFile(stdoutPath, 'utf8').catch(() => '');
    out.push({
      name: task.name,
      task_id: task.id,
      outcome: result?.outcome ?? (folder === 'archive' ? 'unknown' : `still in ${folder}`),
      attempts: task.attempts.length,
      result_peak_mb: result?.peak_vram_mb ?? null,
      reason: result?.reason ?? null,
      script: parseScriptReport(stdout),
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}
