// What the simulated nvidia-smi costs, apart from the rig: the wrapper (bin/nvidia-smi)
// appends one byte per call to <sim dir>/smi-calls, h when it served a cached answer with
// builtins, m when it ran node. A benchmark estimates the simulator's CPU as
// hits * hitMs + misses * missMs, with the per-call costs measured on the same machine.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorCode } from '../core/errors.ts';
import { procStatFields } from '../core/pids.ts';
import { GPU_QUERY_FIELDS } from '../gpu/telemetry.ts';
import { SIM_DIR_ENV, initSimState, simNvidiaSmiPath } from './simState.ts';

export const SMI_CALLS_FILE = 'smi-calls';
export const SMI_CACHE_DIR = 'smi-cache';

export interface SmiCalls {
  /** Answered by the wrapper from the cache. */
  hits: number;
  /** Answered by node (no fresh cache, or an answer that is never cached). */
  misses: number;
}

/** The calls counted in `simDir` so far (zero when none were made). */
export async function readSmiCalls(simDir: string): Promise<SmiCalls> {
  let bytes: Buffer;
  try {
    bytes = await readFile(join(simDir, SMI_CALLS_FILE));
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { hits: 0, misses: 0 };
    throw err;
  }
  let hits = 0;
  let misses = 0;
  for (const b of bytes) {
    if (b === 0x68) hits++;
    else if (b === 0x6d) misses++;
  }
  return { hits, misses };
}

export interface SmiCallCost {
  /** CPU ms (user + system, the wrapper and what it runs) of one call served from the cache. */
  hitMs: number;
  /** CPU ms of one call that runs node and refills the cache. */
  missMs: number;
}

/** Linux reports children's times in /proc in USER_HZ, 100 per second on every architecture. */
const USER_HZ = 100;

/** CPU ms of this process's waited-for children so far (cutime + cstime). */
async function childrenCpuMs(): Promise<number> {
  const rest = procStatFields(await readFile('/proc/self/stat', 'utf8'));
  // cutime and cstime are fields 16 and 17; rest starts at field 3.
  return ((Number(rest[13]) + Number(rest[14])) * 1000) / USER_HZ;
}

/**
 * Measures the CPU of one simulated nvidia-smi call on this machine, hit and miss, as the
 * agent calls it (a --query-gpu reading), `calls` times each in a temporary sim folder.
 * Children's times come from /proc/self/stat: process.resourceUsage() counts this process only.
 */
export async function measureSmiCallCost(calls = 200): Promise<SmiCallCost> {
  const dir = await mkdtemp(join(tmpdir(), 'forge-smi-cost-'));
  try {
    await initSimState(dir, 1);
    const smi = simNvidiaSmiPath();
    const args = [`--query-gpu=${GPU_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits', '-i', '0'];
    const env = { ...process.env, [SIM_DIR_ENV]: dir };
    const once = () => {
      const r = spawnSync(smi, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      if (r.status !== 0) throw new Error(`measureSmiCallCost: ${smi} exited ${r.status}: ${String(r.stderr)}`);
    };
    const cache = join(dir, SMI_CACHE_DIR, args.join(' '));
    const measure = async (before: () => Promise<void>): Promise<number> => {
      let cpu = 0;
      for (let i = 0; i < calls; i++) {
        await before();
        const t0 = await childrenCpuMs();
        once();
        cpu += (await childrenCpuMs()) - t0;
      }
      return cpu / calls;
    };
    const missMs = await measure(() => unlink(cache).catch(() => {}));
    // The first calls fill the cache (one made right after a change to the folder is not kept).
    for (let i = 0; i < 3; i++) once();
    const hitMs = await measure(async () => {});
    const counted = await readSmiCalls(dir);
    if (counted.hits < calls) throw new Error(`measureSmiCallCost: only ${counted.hits} of ${calls} calls were served from the cache`);
    return { hitMs, missMs };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
