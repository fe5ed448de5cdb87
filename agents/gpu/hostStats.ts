// Host figures for the heartbeat's `host` field. Never throws: a figure that cannot be read
// (or takes too long) is null, since a missing CPU reading must never stop a heartbeat.

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

/** systeminformation is large: load it on first use, not when the agent imports this file. */
async function loadSystemInformation(): Promise<HostStatsSource> {
  const mod = await import('systeminformation');
  return (mod.default ?? mod) as HostStatsSource;
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
  const source = opts.source ?? (await settle(loadSystemInformation, timeoutMs));
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
