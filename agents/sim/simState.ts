// The simulated GPUs' state, read by the simulated nvidia-smi (nvidia-smi.mjs, whose header
// explains how figures are derived). Tests, the rig's --simulate mode and simulated workloads
// drive it through these functions:
//
//   <dir>/state.json        the GPUs and their overrides
//   <dir>/procs/<pid>.json  one file per simulated GPU process: { pid, gpu_index, used_mb, name }
//
// The simulator finds <dir> in the environment variable FORGE_SIM_DIR (SIM_DIR_ENV).
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as z from '../core/zod.ts';
import { isTempName, writeJsonAtomic } from '../core/atomic.ts';
import { projectRoot } from '../core/entry.ts';
import { errorCode } from '../core/errors.ts';

export const SIM_DIR_ENV = 'FORGE_SIM_DIR';

/**
 * The sandbox setting of every simulated rig: off. A simulated GPU process registers itself
 * as <dir>/procs/<pid>.json by its pid, outside any batch folder; inside the sandbox that
 * folder is read-only and the pid is its pid namespace's, not the host's the agent matches.
 * Simulated rigs therefore run shell tasks uncontained (the worker says so on stderr).
 */
export const SIM_SANDBOX = { mode: 'off' } as const;

export const SimOverrides = z.object({
  temperature_c: z.optional(z.number()),
  power_draw_w: z.optional(z.number()),
  memory_used_mb: z.optional(z.number().check(z.gte(0))),
  utilization_percent: z.optional(z.number().check(z.gte(0), z.lte(100))),
  /** The clocks event reason bits (e.g. 0x4 sw_power_cap, 0x20 sw_thermal_slowdown). */
  throttle_mask: z.optional(z.number().check(z.int(), z.gte(0))),
  clock_sm_mhz: z.optional(z.number().check(z.gte(0))),
  /**
   * driver: every nvidia-smi run prints the driver failure and exits 9; missing: this GPU is
   * not listed ("No devices were found", exit 6, for -i); na: temperature and power are [N/A].
   */
  fail: z.optional(z.enum(['driver', 'missing', 'na'])),
});
export type SimOverrides = z.infer<typeof SimOverrides>;

export const SimGpu = z.object({
  index: z.number().check(z.int(), z.gte(0)),
  uuid: z.string(),
  name: z.string(),
  memory_total_mb: z.number().check(z.int(), z.positive()),
  /** Celsius when idle. */
  base_temp_c: z.number(),
  /** Celsius at full load; above it the simulator sets sw_thermal_slowdown. Default base + 45. */
  max_temp_c: z.optional(z.number()),
  idle_power_w: z.number().check(z.gte(0)),
  power_limit_w: z.number().check(z.positive()),
  max_sm_clock_mhz: z.number().check(z.positive()),
  overrides: z._default(SimOverrides, {}),
});
export type SimGpu = z.infer<typeof SimGpu>;

export const SimState = z.object({
  gpus: z.array(SimGpu),
  driver_version: z.optional(z.string()),
  cuda_version: z.optional(z.string()),
});
export type SimState = z.infer<typeof SimState>;

export const SimProc = z.object({
  pid: z.number().check(z.int(), z.positive()),
  gpu_index: z.number().check(z.int(), z.gte(0)),
  /** MiB this process holds on the GPU. */
  used_mb: z.number().check(z.gte(0)),
  /** Shown as process_name, e.g. python3 or ollama. */
  name: z.string(),
});
export type SimProc = z.infer<typeof SimProc>;

export interface InitSimOptions {
  /** MiB per GPU; default 6144 (a GTX 1060 6GB, the rig's card). */
  memory_total_mb?: number;
  name?: string;
  base_temp_c?: number;
  max_temp_c?: number;
  idle_power_w?: number;
  power_limit_w?: number;
  max_sm_clock_mhz?: number;
}

/**
 * A GTX 1060 6GB. At full load it reaches 80 C and 120 W: under the default resource limits
 * (85 C, 140 W), so simulated agents are constrained only when a test or person overrides.
 */
export const SIM_GPU_DEFAULTS: Required<InitSimOptions> = {
  memory_total_mb: 6144,
  name: 'NVIDIA GeForce GTX 1060 6GB',
  base_temp_c: 35,
  max_temp_c: 80,
  idle_power_w: 8,
  power_limit_w: 120,
  max_sm_clock_mhz: 1911,
};

export function simStatePath(dir: string): string {
  return join(dir, 'state.json');
}

export function simProcsDir(dir: string): string {
  return join(dir, 'procs');
}

function simProcPath(dir: string, pid: number): string {
  return join(simProcsDir(dir), `${pid}.json`);
}

/** The folder holding the `nvidia-smi` wrapper: put it first on PATH to swap the tool. */
export function simBinDir(): string {
  // From the project root, not this file: bundled, this code lives under dist/.
  return join(projectRoot, 'agents', 'sim', 'bin');
}

/** Absolute path of the simulated `nvidia-smi` executable (for config.json's nvidia_smi). */
export function simNvidiaSmiPath(): string {
  return join(simBinDir(), 'nvidia-smi');
}

/** A stable, well-formed GPU uuid per (folder, index), so reruns on one folder agree. */
function simUuid(dir: string, index: number): string {
  const h = createHash('sha1').update(`${resolve(dir)}:${index}`).digest('hex');
  return `GPU-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Creates (or replaces) the state of `count` idle GPUs with indexes 0..count-1, and removes
 * process files whose pid is gone (a pid reused later must not inherit old memory).
 */
export async function initSimState(dir: string, count: number, opts: InitSimOptions = {}): Promise<SimState> {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`initSimState: count must be a whole number >= 1, got ${count}`);
  const spec = { ...SIM_GPU_DEFAULTS, ...opts };
  await mkdir(simProcsDir(dir), { recursive: true });
  const state = SimState.parse({
    gpus: Array.from({ length: count }, (_, index) => ({
      index,
      uuid: simUuid(dir, index),
      name: spec.name,
      memory_total_mb: spec.memory_total_mb,
      base_temp_c: spec.base_temp_c,
      max_temp_c: spec.max_temp_c,
      idle_power_w: spec.idle_power_w,
      power_limit_w: spec.power_limit_w,
      max_sm_clock_mhz: spec.max_sm_clock_mhz,
      overrides: {},
    })),
  });
  await writeJsonAtomic(simStatePath(dir), state);
  for (const proc of await listSimProcs(dir)) {
    if (!isPidAlive(proc.pid)) await removeSimProc(dir, proc.pid);
  }
  return state;
}

export async function readSimState(dir: string): Promise<SimState> {
  const file = simStatePath(dir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') throw new Error(`${file}: no simulated GPU state; call initSimState first`, { cause: err });
    throw err;
  }
  const parsed = SimState.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${file}: not a simulated GPU state: ${parsed.error.message}`);
  return parsed.data;
}

/** Per key: a value sets the override, null removes it, undefined (or absent) leaves it. */
export type OverridesPatch = { [K in keyof SimOverrides]?: SimOverrides[K] | null };

/**
 * Changes one GPU's overrides (read, modify, atomic write). Only tests and the rig call this,
 * one at a time, so the read-modify-write needs no lock. Returns the GPU as written.
 */
export async function setGpuOverrides(dir: string, index: number, patch: OverridesPatch): Promise<SimGpu> {
  const state = await readSimState(dir);
  const gpu = state.gpus.find((g) => g.index === index);
  if (!gpu) {
    throw new RangeError(`setGpuOverrides: no simulated GPU ${index} in ${simStatePath(dir)} (have ${state.gpus.map((g) => g.index).join(', ')})`);
  }
  const next: Record<string, unknown> = { ...gpu.overrides };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete next[key];
    else if (value !== undefined) next[key] = value;
  }
  gpu.overrides = SimOverrides.parse(next);
  await writeJsonAtomic(simStatePath(dir), state);
  return gpu;
}

/** Removes every override of one GPU (back to derived figures). */
export async function clearGpuOverrides(dir: string, index: number): Promise<SimGpu> {
  const state = await readSimState(dir);
  const gpu = state.gpus.find((g) => g.index === index);
  if (!gpu) throw new RangeError(`clearGpuOverrides: no simulated GPU ${index} in ${simStatePath(dir)}`);
  gpu.overrides = {};
  await writeJsonAtomic(simStatePath(dir), state);
  return gpu;
}

/** Declares that `pid` holds `used_mb` MiB on GPU `gpu_index` (call again to change it). */
export async function registerSimProc(dir: string, proc: SimProc): Promise<void> {
  const p = SimProc.parse(proc);
  await mkdir(simProcsDir(dir), { recursive: true });
  await writeJsonAtomic(simProcPath(dir, p.pid), p);
}

/** Forgets a process; a missing file is fine (already removed, or never registered). */
export async function removeSimProc(dir: string, pid: number): Promise<void> {
  try {
    await unlink(simProcPath(dir, pid));
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}

/** Every registered process file, alive or not (the simulator shows only live ones). */
export async function listSimProcs(dir: string): Promise<SimProc[]> {
  let names: string[];
  try {
    names = await readdir(simProcsDir(dir));
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return [];
    throw err;
  }
  const procs: SimProc[] = [];
  for (const name of names) {
    if (isTempName(name) || !name.endsWith('.json')) continue;
    try {
      const parsed = SimProc.safeParse(JSON.parse(await readFile(join(simProcsDir(dir), name), 'utf8')));
      if (parsed.success) procs.push(parsed.data);
    } catch {
      // Removed while we listed, or not JSON: skip it, as the simulator does.
    }
  }
  return procs.sort((a, b) => a.pid - b.pid);
}

/** Same liveness test as the simulator: signal 0; EPERM means it exists but is not ours. */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM';
  }
}
