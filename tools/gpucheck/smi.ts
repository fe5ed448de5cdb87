// gpu-check's own reading of nvidia-smi: two small queries parsed here, apart from the
// agent's parsers (agents/gpu/telemetry.ts), so the check compares the agent against the
// tool's text, not against the agent's own reading of it. Pure: the I/O is in preflight.ts
// and sampler.ts.

/** `--query-gpu=` fields gpu-check asks for, in this order. */
export const CHECK_GPU_FIELDS = [
  'index', 'uuid', 'name', 'driver_version', 'temperature.gpu', 'power.draw', 'power.limit',
  'memory.used', 'memory.total', 'utilization.gpu',
] as const;

/** `--query-compute-apps=` fields: the pid and its memory, nothing else (the query). */
export const CHECK_APP_FIELDS = ['pid', 'used_memory'] as const;

export function gpuQueryArgs(gpu?: number): string[] {
  const args = [`--query-gpu=${CHECK_GPU_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];
  return gpu === undefined ? args : [...args, '-i', String(gpu)];
}

export function appQueryArgs(): string[] {
  return [`--query-compute-apps=${CHECK_APP_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];
}

export interface SmiGpu {
  index: number;
  uuid: string;
  name: string;
  driver: string | null;
  temperature_c: number | null;
  power_draw_w: number | null;
  power_limit_w: number | null;
  memory_used_mb: number | null;
  memory_total_mb: number | null;
  utilization_percent: number | null;
}

export interface SmiApp {
  pid: number;
  /** MiB; null where the driver cannot tell. */
  used_mb: number | null;
}

/** `[N/A]`, `[Not Supported]`, `N/A` and empty cells become null. */
function num(cell: string | undefined): number | null {
  if (cell === undefined) return null;
  const t = cell.trim();
  if (t === '' || t === 'N/A' || /^\[.*\]$/.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

function text(cell: string | undefined): string | null {
  const t = (cell ?? '').trim();
  return t === '' || t === 'N/A' || /^\[.*\]$/.test(t) ? null : t;
}

function lines(out: string): string[][] {
  return out
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => l.split(',').map((c) => c.trim()));
}

/** Lines of `gpuQueryArgs()` output; a line with the wrong number of cells is skipped. */
export function parseSmiGpus(out: string): SmiGpu[] {
  const gpus: SmiGpu[] = [];
  for (const c of lines(out)) {
    if (c.length !== CHECK_GPU_FIELDS.length) continue;
    const index = num(c[0]);
    if (index === null) continue;
    gpus.push({
      index,
      uuid: c[1] ?? '',
      name: c[2] ?? '',
      driver: text(c[3]),
      temperature_c: num(c[4]),
      power_draw_w: num(c[5]),
      power_limit_w: num(c[6]),
      memory_used_mb: num(c[7]),
      memory_total_mb: num(c[8]),
      utilization_percent: num(c[9]),
    });
  }
  return gpus;
}

/** Lines of `appQueryArgs()` output (nothing at all when no process uses a GPU). */
export function parseSmiApps(out: string): SmiApp[] {
  const apps: SmiApp[] = [];
  for (const c of lines(out)) {
    const pid = num(c[0]);
    if (pid === null || !Number.isInteger(pid)) continue;
    apps.push({ pid, used_mb: num(c[1]) });
  }
  return apps;
}
