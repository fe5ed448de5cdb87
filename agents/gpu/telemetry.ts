// Pure parsers for nvidia-smi's CSV output (`--query-gpu`, `--query-compute-apps`) and its
// failure text. No I/O here: readTelemetry.ts runs the executable and hands the text over.
//
// Both output forms are accepted: `--format=csv,noheader,nounits` (what the agent asks for)
// and `--format=csv` (a header row, values with units: `131.44 W`, `0 MiB`, `0 %`). A field the
// card cannot report (`[N/A]`, `[Not Supported]`, `N/A`, empty) becomes null, never NaN.
// A line that cannot be read becomes a problem; the other lines are still parsed.

/** The `--query-gpu` fields the agent asks for, in this order (as in the real fixtures). */
export const GPU_QUERY_FIELDS = [
  'index',
  'uuid',
  'name',
  'temperature.gpu',
  'power.draw',
  'power.limit',
  'memory.used',
  'memory.total',
  'memory.free',
  'utilization.gpu',
  'clocks.sm',
  'clocks.max.sm',
  'clocks_event_reasons.active',
  'pstate',
] as const;
export type GpuQueryField = (typeof GPU_QUERY_FIELDS)[number];

/** The `--query-compute-apps` fields the agent asks for, in this order. */
export const APP_QUERY_FIELDS = ['pid', 'process_name', 'used_memory', 'gpu_uuid'] as const;
export type AppQueryField = (typeof APP_QUERY_FIELDS)[number];

export interface GpuReading {
  index: number;
  uuid: string;
  name: string;
  temperature_c: number | null;
  power_draw_w: number | null;
  power_limit_w: number | null;
  memory_used_mb: number | null;
  memory_total_mb: number | null;
  memory_free_mb: number | null;
  utilization_percent: number | null;
  clock_sm_mhz: number | null;
  clock_max_sm_mhz: number | null;
  /** clocks_event_reasons.active as a number (NVML's bits all sit far below 2^53, so JSON-safe). */
  throttle_mask: number | null;
  /** Names of the set bits of throttle_mask (see decodeThrottleReasons); [] when none or unknown. */
  throttle_reasons: string[];
  /** P0 (fastest) .. P12, or null. */
  pstate: string | null;
}

export interface ProcReading {
  pid: number;
  process_name: string;
  /** MiB; null where the driver cannot tell (WDDM, some consumer cards). */
  used_memory_mb: number | null;
  gpu_uuid: string;
}

export interface ParsedGpus {
  gpus: GpuReading[];
  problems: string[];
}

export interface ParsedProcs {
  procs: ProcReading[];
  problems: string[];
}

/** NVML's clocks event (throttle) reason bits, nvml.h `nvmlClocksEventReason*`. */
export const THROTTLE_REASON_BITS: ReadonlyArray<readonly [bit: number, name: string]> = [
  [0x1, 'gpu_idle'],
  [0x2, 'applications_clocks_setting'],
  [0x4, 'sw_power_cap'],
  [0x8, 'hw_slowdown'],
  [0x10, 'sync_boost'],
  [0x20, 'sw_thermal_slowdown'],
  [0x40, 'hw_thermal_slowdown'],
  [0x80, 'hw_power_brake_slowdown'],
  [0x100, 'display_clock_setting'],
];

const KNOWN_BITS = THROTTLE_REASON_BITS.reduce((all, [bit]) => all | BigInt(bit), 0n);

/**
 * Names of the reasons set in a clocks event mask (`0x0000000000000004` → ['sw_power_cap']).
 * Bits NVML may add later come out as `unknown_0x...` rather than vanishing.
 * Accepts the hex text nvidia-smi prints, or a number / bigint. Unreadable text → [].
 */
export function decodeThrottleReasons(mask: string | number | bigint | null): string[] {
  const value = toMaskBigInt(mask);
  if (value === null || value === 0n) return [];
  const names: string[] = [];
  for (const [bit, name] of THROTTLE_REASON_BITS) if (value & BigInt(bit)) names.push(name);
  const unknown = value & ~KNOWN_BITS;
  for (let bit = 1n; bit <= unknown; bit <<= 1n) {
    if (unknown & bit) names.push(`unknown_0x${bit.toString(16)}`);
  }
  return names;
}

/** The heartbeat's `throttle_status`: names joined with ',', or 'None' (as in the seed). */
export function formatThrottleStatus(names: readonly string[]): string {
  return names.length === 0 ? 'None' : names.join(',');
}

function toMaskBigInt(mask: string | number | bigint | null): bigint | null {
  if (mask === null) return null;
  if (typeof mask === 'bigint') return mask >= 0n ? mask : null;
  if (typeof mask === 'number') return Number.isSafeInteger(mask) && mask >= 0 ? BigInt(mask) : null;
  const text = mask.trim();
  if (!/^0x[0-9a-f]+$/i.test(text)) return null;
  return BigInt(text);
}

// ---------------------------------------------------------------------------------------------
// CSV plumbing shared by both queries

/**
 * Header names nvidia-smi prints differ from some query names (`clocks.sm` prints as
 * `clocks.current.sm [MHz]`, `used_memory` as `used_gpu_memory [MiB]`); these map a printed or
 * alias name back to the name this module uses.
 */
const GPU_FIELD_ALIASES: Record<string, GpuQueryField> = {
  'clocks.current.sm': 'clocks.sm',
  gpu_name: 'name',
  gpu_uuid: 'uuid',
  'clocks_throttle_reasons.active': 'clocks_event_reasons.active',
  'gpu.power.requested_limit': 'power.limit',
};
const APP_FIELD_ALIASES: Record<string, AppQueryField> = {
  used_gpu_memory: 'used_memory',
  name: 'process_name',
};

/** Values meaning "this card cannot say": nvidia-smi prints them in brackets. */
function isNotAvailable(cell: string): boolean {
  return cell === '' || cell === 'N/A' || /^\[.*\]$/.test(cell);
}

interface CsvLine {
  lineNo: number;
  cells: string[];
}

/** Non-empty lines split on commas, cells trimmed; CRLF tolerated. */
function splitCsv(text: string): CsvLine[] {
  const lines: CsvLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '') return;
    lines.push({ lineNo: i + 1, cells: raw.split(',').map((c) => c.trim()) });
  });
  return lines;
}

/** Strips a trailing ` [unit]` from a header cell: `power.draw [W]` → `power.draw`. */
function headerFieldName(cell: string): string {
  return cell.replace(/\s*\[[^\]]*\]\s*$/, '').trim();
}

/**
 * When the first line is a header (its first cell names a field instead of holding a value),
 * returns the field of each column; otherwise null. Unknown columns map to null (ignored).
 */
function readHeader<F extends string>(
  first: CsvLine | undefined,
  known: readonly F[],
  aliases: Record<string, F>,
): (F | null)[] | null {
  if (!first) return null;
  const names = first.cells.map(headerFieldName);
  const resolve = (n: string): F | null => (known as readonly string[]).includes(n) ? (n as F) : (aliases[n] ?? null);
  const mapped = names.map(resolve);
  // A header has at least one recognised name and its first cell is not a number.
  if (/^\d/.test(first.cells[0] ?? '') || mapped.every((f) => f === null)) return null;
  return mapped;
}

/**
 * Lines split on commas can carry more cells than fields when a free-text field (a process
 * path) holds a comma: glue the surplus back into that field. Returns null when the count
 * cannot be made to fit.
 */
function fitCells<F extends string>(cells: string[], columns: readonly (F | null)[], textField: F): string[] | null {
  if (cells.length === columns.length) return cells;
  const at = columns.indexOf(textField);
  if (cells.length < columns.length || at < 0) return null;
  const surplus = cells.length - columns.length;
  return [...cells.slice(0, at), cells.slice(at, at + surplus + 1).join(','), ...cells.slice(at + surplus + 1)];
}

type NumberCell = { ok: true; value: number | null } | { ok: false; problem: string };

/** A number, optionally followed by the unit the header form prints (`W`, `MiB`, `%`, `MHz`). */
function readNumber(cell: string, units: readonly string[]): NumberCell {
  if (isNotAvailable(cell)) return { ok: true, value: null };
  const m = /^(-?\d+(?:\.\d+)?)(?:\s*([A-Za-z%]+))?$/.exec(cell);
  const unit = m?.[2];
  const value = Number(m?.[1]);
  if (!m || (unit !== undefined && !units.includes(unit)) || !Number.isFinite(value)) {
    return { ok: false, problem: `expected a number${units.length ? ` in ${units.join(' or ')}` : ''}, found "${cell}"` };
  }
  return { ok: true, value };
}

// ---------------------------------------------------------------------------------------------
// --query-gpu

const GPU_NUMBER_UNITS: Partial<Record<GpuQueryField, readonly string[]>> = {
  // Printed without a unit even in the header form.
  'temperature.gpu': [],
  'power.draw': ['W'],
  'power.limit': ['W'],
  'memory.used': ['MiB'],
  'memory.total': ['MiB'],
  'memory.free': ['MiB'],
  'utilization.gpu': ['%'],
  'clocks.sm': ['MHz'],
  'clocks.max.sm': ['MHz'],
};

/**
 * Parses `nvidia-smi --query-gpu=...` output: one line per GPU. Without a header the columns
 * are taken to be `fields` (default GPU_QUERY_FIELDS); with one, the header decides.
 */
export function parseGpuCsv(text: string, fields: readonly GpuQueryField[] = GPU_QUERY_FIELDS): ParsedGpus {
  const problems: string[] = [];
  const gpus: GpuReading[] = [];
  const lines = splitCsv(text);
  const header = readHeader(lines[0], GPU_QUERY_FIELDS, GPU_FIELD_ALIASES);
  const columns: readonly (GpuQueryField | null)[] = header ?? fields;
  for (const required of ['index', 'uuid'] as const) {
    if (!columns.includes(required)) {
      return { gpus, problems: [`line ${lines[0]?.lineNo ?? 1}: no "${required}" column; cannot tell the GPUs apart`] };
    }
  }
  for (const line of header ? lines.slice(1) : lines) {
    const where = `line ${line.lineNo}`;
    const cells = fitCells(line.cells, columns, 'name');
    if (!cells) {
      problems.push(`${where}: expected ${columns.length} comma-separated fields, found ${line.cells.length}: "${line.cells.join(', ')}"`);
      continue;
    }
    const raw = new Map<GpuQueryField, string>();
    columns.forEach((f, i) => f && raw.set(f, cells[i] ?? ''));
    const indexText = raw.get('index') ?? '';
    const uuid = raw.get('uuid') ?? '';
    if (!/^\d+$/.test(indexText)) {
      problems.push(`${where}: index: expected a GPU index (0, 1, ...), found "${indexText}"; line skipped`);
      continue;
    }
    if (isNotAvailable(uuid)) {
      problems.push(`${where}: uuid: expected GPU-..., found "${uuid}"; line skipped`);
      continue;
    }
    const num = (f: GpuQueryField): number | null => {
      const cell = raw.get(f);
      if (cell === undefined) return null;
      const r = readNumber(cell, GPU_NUMBER_UNITS[f] ?? []);
      if (r.ok) return r.value;
      problems.push(`${where}: ${f}: ${r.problem}`);
      return null;
    };
    const maskText = raw.get('clocks_event_reasons.active');
    let throttle_mask: number | null = null;
    if (maskText !== undefined && !isNotAvailable(maskText)) {
      const value = toMaskBigInt(maskText);
      if (value === null || value > BigInt(Number.MAX_SAFE_INTEGER)) {
        problems.push(`${where}: clocks_event_reasons.active: expected a hex mask like 0x0000000000000004, found "${maskText}"`);
      } else {
        throttle_mask = Number(value);
      }
    }
    const name = raw.get('name');
    const pstate = raw.get('pstate');
    gpus.push({
      index: Number(indexText),
      uuid,
      name: name === undefined || isNotAvailable(name) ? '' : name,
      temperature_c: num('temperature.gpu'),
      power_draw_w: num('power.draw'),
      power_limit_w: num('power.limit'),
      memory_used_mb: num('memory.used'),
      memory_total_mb: num('memory.total'),
      memory_free_mb: num('memory.free'),
      utilization_percent: num('utilization.gpu'),
      clock_sm_mhz: num('clocks.sm'),
      clock_max_sm_mhz: num('clocks.max.sm'),
      throttle_mask,
      throttle_reasons: decodeThrottleReasons(throttle_mask),
      pstate: pstate === undefined || isNotAvailable(pstate) ? null : pstate,
    });
  }
  return { gpus, problems };
}

// ---------------------------------------------------------------------------------------------
// --query-compute-apps

/**
 * Parses `nvidia-smi --query-compute-apps=...` output: one line per process holding a compute
 * context. No process at all prints nothing (noheader) or only the header: both give [].
 */
export function parseComputeAppsCsv(text: string, fields: readonly AppQueryField[] = APP_QUERY_FIELDS): ParsedProcs {
  const problems: string[] = [];
  const procs: ProcReading[] = [];
  const lines = splitCsv(text);
  const header = readHeader(lines[0], APP_QUERY_FIELDS, APP_FIELD_ALIASES);
  const columns: readonly (AppQueryField | null)[] = header ?? fields;
  for (const required of ['pid', 'gpu_uuid'] as const) {
    if (!columns.includes(required)) {
      return { procs, problems: [`line ${lines[0]?.lineNo ?? 1}: no "${required}" column; cannot place the processes`] };
    }
  }
  for (const line of header ? lines.slice(1) : lines) {
    const where = `line ${line.lineNo}`;
    const cells = fitCells(line.cells, columns, 'process_name');
    if (!cells) {
      problems.push(`${where}: expected ${columns.length} comma-separated fields, found ${line.cells.length}: "${line.cells.join(', ')}"`);
      continue;
    }
    const raw = new Map<AppQueryField, string>();
    columns.forEach((f, i) => f && raw.set(f, cells[i] ?? ''));
    const pidText = raw.get('pid') ?? '';
    const gpuUuid = raw.get('gpu_uuid') ?? '';
    if (!/^\d+$/.test(pidText)) {
      problems.push(`${where}: pid: expected a process id, found "${pidText}"; line skipped`);
      continue;
    }
    if (isNotAvailable(gpuUuid)) {
      problems.push(`${where}: gpu_uuid: expected GPU-..., found "${gpuUuid}"; line skipped`);
      continue;
    }
    let used: number | null = null;
    const usedText = raw.get('used_memory');
    if (usedText !== undefined) {
      const r = readNumber(usedText, ['MiB']);
      if (r.ok) used = r.value;
      else problems.push(`${where}: used_memory: ${r.problem}`);
    }
    const name = raw.get('process_name');
    procs.push({
      pid: Number(pidText),
      process_name: name === undefined || isNotAvailable(name) ? '' : name,
      used_memory_mb: used,
      gpu_uuid: gpuUuid,
    });
  }
  return { procs, problems };
}

// ---------------------------------------------------------------------------------------------
// Failure text

/**
 * What nvidia-smi prints when it cannot read the GPUs (on stdout, mostly, with a non-zero exit):
 * exit 9 no driver, 6 no such device, 12 no NVML library, 18 driver/library mismatch, 15 GPU lost.
 */
const FAILURE_PATTERNS: readonly RegExp[] = [
  /NVIDIA-SMI has failed/i,
  /couldn't communicate with the NVIDIA driver/i,
  /No devices were found/i,
  /Failed to initialize NVML/i,
  /Driver\/library version mismatch/i,
  /couldn't find libnvidia-ml/i,
  /Unable to determine the device handle/i,
  /GPU is lost/i,
  /Unknown Error/i,
  /Insufficient Permissions/i,
];

/**
 * The reason nvidia-smi could not report, or null when it did. Known failure text is found on
 * stdout or stderr whatever the exit code; any other non-zero exit (or a spawn failure, exit
 * code null) gives a reason built from the exit code and the first line of output.
 */
export function detectDriverFailure(stdout: string, stderr: string, exitCode: number | null | undefined): string | null {
  const lines = `${stdout}\n${stderr}`
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  for (const line of lines) {
    // A CSV data line may carry a bracketed marker like [Unknown Error] in one field: that is a
    // missing value, handled by the parser, not a failed run.
    if (line.includes(',') && /^\d/.test(line)) continue;
    if (FAILURE_PATTERNS.some((p) => p.test(line))) return line;
  }
  if (exitCode === 0) return null;
  const first = lines[0];
  const code = exitCode === null || exitCode === undefined ? 'no exit code' : `exit code ${exitCode}`;
  return first ? `nvidia-smi failed (${code}): ${first}` : `nvidia-smi failed (${code}) and printed nothing`;
}
