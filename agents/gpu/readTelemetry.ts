// Runs nvidia-smi (the real one, or the simulator: whichever executable the config names)
// and turns its output into one snapshot of one GPU. Every way the tool can fail (missing
// executable, non-zero exit, hang, no such GPU) comes back as { ok: false, reason }: the agent
// reports itself unhealthy with that reason instead of crashing.
import { readdir, readFile } from 'node:fs/promises';
import { procStatFields } from '../core/pids.ts';
import { runTool } from './toolRun.ts';
import {
  APP_QUERY_FIELDS,
  GPU_QUERY_FIELDS,
  type GpuReading,
  type ProcReading,
  detectDriverFailure,
  parseComputeAppsCsv,
  parseGpuCsv,
} from './telemetry.ts';

export type TelemetrySnapshot =
  | {
      ok: true;
      gpu: GpuReading;
      /** Compute processes on this GPU only (matched by uuid). */
      procs: ProcReading[];
      /** Epoch milliseconds when the reading finished. */
      at: number;
      /** Lines or fields that could not be read (the rest was): worth a log line, not unhealthy. */
      problems: string[];
    }
  | { ok: false; reason: string; at: number };

export interface ReadTelemetryOptions {
  /** Extra environment, merged over process.env (e.g. FORGE_SIM_DIR for the simulator). */
  env?: NodeJS.ProcessEnv;
  /** Milliseconds each nvidia-smi run may take; default 5000 (a real query takes ~25 ms). */
  timeoutMs?: number;
  /**
   * Whether to list compute processes too (default true). An agent with no worker running has
   * none to measure: skipping the second run halves an idle agent's nvidia-smi cost.
   */
  apps?: boolean;
}

export const DEFAULT_TELEMETRY_TIMEOUT_MS = 5000;

interface RunOutcome {
  stdout: string;
  /** Set when the run failed: why, in words. */
  failure: string | null;
}

async function runNvidiaSmi(nvidiaSmi: string, args: string[], opts: ReadTelemetryOptions): Promise<RunOutcome> {
  const timeout = opts.timeoutMs ?? DEFAULT_TELEMETRY_TIMEOUT_MS;
  const command = [nvidiaSmi, ...args].join(' ');
  // A hung nvidia-smi (a GPU falling off the bus) may ignore SIGTERM: SIGKILL a second later.
  const result = await runTool(nvidiaSmi, args, { timeoutMs: timeout, killAfterMs: 1000, ...(opts.env ? { env: opts.env } : {}) });
  const { stdout, stderr } = result;
  if (result.timedOut) {
    return { stdout, failure: `${command}: no answer within ${timeout} ms (driver hung or GPU lost?)` };
  }
  if (result.startError === 'ENOENT') {
    return { stdout, failure: `${command}: executable "${nvidiaSmi}" not found (set nvidia_smi in config.json to its path)` };
  }
  if (result.startError === 'EACCES') {
    return { stdout, failure: `${command}: "${nvidiaSmi}" is not executable (permission denied)` };
  }
  if (result.startError !== null) {
    return { stdout, failure: `${command}: could not run: ${result.startError}` };
  }
  if (result.signal) {
    return { stdout, failure: `${command}: killed by ${result.signal}` };
  }
  const failure = detectDriverFailure(stdout, stderr, result.exitCode);
  if (failure === null) return { stdout, failure: null };
  const exit = result.exitCode === 0 ? '' : ` (exit code ${result.exitCode})`;
  // stderr often says more than the driver line (the simulator explains a missing state there).
  const extra = stderr.split(/\r?\n/).find((l) => l.trim() !== '' && !failure.includes(l.trim()));
  return { stdout, failure: `${command}: ${failure}${exit}${extra ? `; ${extra.trim()}` : ''}` };
}

/**
 * Reads one GPU: `--query-gpu` for that index and (unless opts.apps is false) `--query-compute-apps`
 * for every process, kept when its gpu_uuid is this GPU's. Both run at once; each has its own timeout.
 */
export async function readGpuTelemetry(
  nvidiaSmi: string,
  gpuIndex: number,
  opts: ReadTelemetryOptions = {},
): Promise<TelemetrySnapshot> {
  const gpuArgs = [`--query-gpu=${GPU_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits', '-i', String(gpuIndex)];
  const appArgs = [`--query-compute-apps=${APP_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];
  const noApps: RunOutcome = { stdout: '', failure: null };
  const [gpuRun, appRun] = await Promise.all([
    runNvidiaSmi(nvidiaSmi, gpuArgs, opts),
    opts.apps === false ? noApps : runNvidiaSmi(nvidiaSmi, appArgs, opts),
  ]);
  const at = Date.now();
  if (gpuRun.failure) return { ok: false, reason: `GPU ${gpuIndex}: ${gpuRun.failure}`, at };
  const parsedGpus = parseGpuCsv(gpuRun.stdout);
  const gpu = parsedGpus.gpus.find((g) => g.index === gpuIndex);
  if (!gpu) {
    const seen = parsedGpus.gpus.map((g) => g.index);
    const detail = parsedGpus.problems.length ? `; ${parsedGpus.problems.join('; ')}` : '';
    return {
      ok: false,
      reason: `GPU ${gpuIndex}: nvidia-smi reported no GPU with index ${gpuIndex} (found: ${seen.length ? seen.join(', ') : 'none'})${detail}`,
      at,
    };
  }
  if (appRun.failure) return { ok: false, reason: `GPU ${gpuIndex}: ${appRun.failure}`, at };
  const parsedApps = parseComputeAppsCsv(appRun.stdout);
  return {
    ok: true,
    gpu,
    procs: parsedApps.procs.filter((p) => p.gpu_uuid === gpu.uuid),
    at,
    problems: [
      ...parsedGpus.problems.map((p) => `query-gpu ${p}`),
      ...parsedApps.problems.map((p) => `query-compute-apps ${p}`),
    ],
  };
}

/**
 * VRAM of each worker in MiB: the sum over the compute processes that are the worker's pid or
 * one of its descendants (a worker's shell often runs the python that holds the memory).
 * Pass `descendantsOf` (e.g. from readProcessTree) to count children; without it only the
 * listed pids match, so then pass every pid of the worker's process group.
 * A worker with no matching process (or only ones whose memory is unknown) is absent.
 * Caveat: pids from a container with its own pid namespace will not match the host's.
 */
export function matchWorkerVram(
  procs: readonly ProcReading[],
  pids: readonly number[],
  descendantsOf?: (pid: number) => Iterable<number>,
): Map<number, number> {
  const byPid = new Map<number, number>();
  for (const p of procs) {
    if (p.used_memory_mb === null) continue;
    byPid.set(p.pid, (byPid.get(p.pid) ?? 0) + p.used_memory_mb);
  }
  const out = new Map<number, number>();
  for (const pid of pids) {
    const family = new Set<number>([pid, ...(descendantsOf ? descendantsOf(pid) : [])]);
    let total = 0;
    let seen = false;
    for (const member of family) {
      const mb = byPid.get(member);
      if (mb !== undefined) {
        total += mb;
        seen = true;
      }
    }
    if (seen) out.set(pid, total);
  }
  return out;
}

export interface ProcessTree {
  /** Every descendant of pid (children, grandchildren, ...), not pid itself. */
  descendantsOf(pid: number): number[];
}

/**
 * A snapshot of the host's process tree from /proc (Linux). Where /proc cannot be read the
 * tree is empty, and matchWorkerVram then matches the listed pids only.
 */
export async function readProcessTree(procRoot = '/proc'): Promise<ProcessTree> {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = await readdir(procRoot);
  } catch {
    entries = [];
  }
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (e) => {
        try {
          const stat = await readFile(`${procRoot}/${e}/stat`, 'utf8');
          const ppid = Number(procStatFields(stat)[1]);
          if (!Number.isInteger(ppid)) return;
          const list = children.get(ppid) ?? [];
          list.push(Number(e));
          children.set(ppid, list);
        } catch {
          // The process ended while we looked: not part of anyone's tree any more.
        }
      }),
  );
  return {
    descendantsOf(pid: number): number[] {
      const out: number[] = [];
      const stack = [...(children.get(pid) ?? [])];
      const seen = new Set<number>([pid]);
      while (stack.length) {
        const next = stack.pop() as number;
        if (seen.has(next)) continue;
        seen.add(next);
        out.push(next);
        stack.push(...(children.get(next) ?? []));
      }
      return out;
    },
  };
}
