// Host figures for the heartbeat's `host` field. Never throws: a figure that cannot be read
// (or takes too long) is null, since a missing CPU reading must never stop a heartbeat.
import { cpus } from 'node:os';

export interface HostStats {
  /** Percent of all CPUs busy since the previous reading (the first: since boot). */
  cpu_load_percent: number | null;
  /** MiB the kernel could hand out now without swapping (MemAvailable). */
  mem_available_mb: number | null;
}

/** The part of systeminformation used here: lets tests hand in a failing or fixed source. */
export interface HostStatsSource {
  currentLoad(): Promise<{ currentLoad: number }>;
  mem(): Promise<{ available: number }>;
}

const DEFAULT_TIMEOUT_MS = 2000;

/**
 * CPU load from os.cpus() times, against the previous reading. systeminformation's
 * currentLoad() runs a synchronous shell (`cat /proc/stat | grep cpu`) on every call, which
 * blocks the agent's loop each internal cycle; os.cpus() reads the same counters in-process.
 */
export function cpuLoadMeter(read: () => Array<{ times: Record<'user' | 'nice' | 'sys' | 'idle' | 'irq', number> }> = cpus): () => number {
  let prev = { busy: 0, total: 0 };
  return () => {
    let busy = 0;
    let total = 0;
    for (const c of read()) {
      const t = c.times;
      busy += t.user + t.nice + t.sys + t.irq;
      total += t.user + t.nice + t.sys + t.irq + t.idle;
    }
    const dTotal = total - prev.total;
    const load = dTotal > 0 ? (100 * (busy - prev.busy)) / dTotal : 0;
    prev = { busy, total };
    return Math.min(100, Math.max(0, load));
  };
}

let defaultSource: HostStatsSource | null = null;

/** systeminformation is large: load it on first use, not when the agent imports this file. */
async function loadDefaultSource(): Promise<HostStatsSource> {
  if (defaultSource) return defaultSource;
  const mod = await import('systeminformation');
  const si = (mod.default ?? mod) as Pick<HostStatsSource, 'mem'>;
  const load = cpuLoadMeter();
  defaultSource = { currentLoad: async () => ({ currentLoad: load() }), mem: () => si.mem() };
  return defaultSource;
}

async function settle<T>(read: () => Promise<T>, timeoutMs: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      read(),
      new Promise<null>((resolve) => {
        // Not unref'd: a caller awaiting this reading must get its nulls, even when nothing else is pending.
        timer = setTimeout(() => resolve(null), timeoutMs);
      }),
    ]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

function finiteOrNull(n: unknown, round: (x: number) => number): number | null {
  return typeof n === 'number' && Number.isFinite(n) ? round(n) : null;
}

export async function readHostStats(
  opts: { source?: HostStatsSource; timeoutMs?: number } = {},
): Promise<HostStats> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const source = opts.source ?? (await settle(loadDefaultSource, timeoutMs));
  if (!source) return { cpu_load_percent: null, mem_available_mb: null };
  const [load, mem] = await Promise.all([
    settle(() => source.currentLoad(), timeoutMs),
    settle(() => source.mem(), timeoutMs),
  ]);
  return {
    cpu_load_percent: finiteOrNull(load?.currentLoad, (x) => Math.round(x * 10) / 10),
    mem_available_mb: finiteOrNull(mem?.available, (x) => Math.round(x / (1024 * 1024))),
  };
}
