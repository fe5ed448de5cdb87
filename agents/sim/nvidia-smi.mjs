// @ts-check
// Forge's simulated nvidia-smi. Plain, dependency-free JavaScript so it starts fast: every GPU
// agent runs it every few seconds. It prints what the real tool prints (see
// test/fixtures/nvidia-smi/h100-80gb) for the flags the rig uses:
//
//   --query-gpu=FIELDS        --query-compute-apps=FIELDS    (any subset/order of known fields)
//   --format=csv[,noheader][,nounits]    -i / --id N[,M|GPU-uuid]    -L / --list-gpus
//   (no flags)                a simplified version of the usual table
//
// State lives in the folder named by FORGE_SIM_DIR (agents/sim/simState.ts writes it):
//   state.json       { "gpus": [ { index, uuid, name, memory_total_mb, base_temp_c, max_temp_c?,
//                                  idle_power_w, power_limit_w, max_sm_clock_mhz,
//                                  overrides: { temperature_c?, power_draw_w?, memory_used_mb?,
//                                               utilization_percent?, throttle_mask?,
//                                               clock_sm_mhz?, fail?: "driver"|"missing"|"na" } } ] }
//   procs/<pid>.json { pid, gpu_index, used_mb, name }: one per simulated GPU process; a file
//                    whose pid is not alive is ignored (so a crashed workload frees its memory).
//
// Figures are derived, deterministically, from the live processes of each GPU:
//   memory used = sum of their used_mb (capped at the total); utilization = 100 with any, else 0;
//   load = util/100 * (0.5 + 0.5 * used/total); temperature = base + (max - base) * load;
//   power = idle + (limit - idle) * load; throttle bits: 0x1 gpu_idle when util is 0, 0x4
//   sw_power_cap at >= 98 % of the power limit, 0x20 sw_thermal_slowdown above max_temp_c;
//   SM clock = max, x0.8 when power-capped, x0.6 when thermally slowed.
// Overrides replace a derived figure and feed the ones computed from it (a memory override
// raises temperature and power; a power override at the limit sets 0x4 and drops the clock).
// fail "driver": the real driver failure text on stdout, exit 9 (for every command, as a dead
// driver fails them all); "missing": the GPU is not listed, and `-i` for it prints
// "No devices were found", exit 6; "na": [N/A] for temperature and power.
//
// A successful answer that does not depend on the time is also written to
// smi-cache/<arguments>, for the sh wrapper (bin/nvidia-smi) to serve without node; see
// "Cache" below for why a cached answer is never stale.

import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const DRIVER_FAILURE =
  "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. " +
  'Make sure that the latest NVIDIA driver is installed and running.\n\n';
const NO_DEVICES = 'No devices were found\n';
const INVALID_ARGS = "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n";
const DEFAULT_DRIVER_VERSION = '550.144.03';
const DEFAULT_CUDA_VERSION = '12.4';
const NA = '[N/A]';

/**
 * @typedef {{ temperature_c?: number, power_draw_w?: number, memory_used_mb?: number,
 *   utilization_percent?: number, throttle_mask?: number | string, clock_sm_mhz?: number,
 *   fail?: 'driver' | 'missing' | 'na' }} Overrides
 * @typedef {{ index: number, uuid: string, name: string, memory_total_mb: number,
 *   base_temp_c: number, max_temp_c?: number, idle_power_w: number, power_limit_w: number,
 *   max_sm_clock_mhz: number, overrides?: Overrides }} SimGpu
 * @typedef {{ gpus: SimGpu[], driver_version?: string, cuda_version?: string }} SimState
 * @typedef {{ pid: number, gpu_index: number, used_mb: number, name: string }} SimProc
 * @typedef {{ gpu: SimGpu, procs: SimProc[], na: boolean, temperature_c: number, power_draw_w: number,
 *   memory_used_mb: number, memory_free_mb: number, utilization_percent: number,
 *   throttle_mask: number, clock_sm_mhz: number, pstate: string }} Derived
 * @typedef {{ header: string, unit?: string, value: (d: Derived, all: Derived[]) => string | number }} Field
 */

/** Prints what the real tool prints on this failure and exits with its code.
 * @param {string} text @param {number} code @returns {never} */
function fail(text, code) {
  // A failure is never cached: its temporary file goes (exit skips finally blocks).
  if (CACHE) dropCache(CACHE.tmp, CACHE.fd);
  process.stdout.write(text);
  process.exit(code);
}

/** @param {string} text */
function explain(text) {
  process.stderr.write(`nvidia-smi (Forge simulator): ${text}\n`);
}

// ---------------------------------------------------------------------------------------------
// State

/** @returns {SimState} */
function loadState() {
  const dir = process.env.FORGE_SIM_DIR;
  if (!dir) {
    explain('FORGE_SIM_DIR is not set; it must name a folder made by initSimState (agents/sim/simState.ts)');
    fail(DRIVER_FAILURE, 9);
  }
  const file = join(/** @type {string} */ (dir), 'state.json');
  /** @type {unknown} */
  let raw;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const e = /** @type {NodeJS.ErrnoException} */ (err);
    explain(e.code === 'ENOENT' ? `no simulated GPUs: ${file} does not exist (run initSimState first)` : `cannot read ${file}: ${e.message}`);
    fail(DRIVER_FAILURE, 9);
  }
  const state = /** @type {SimState} */ (raw);
  if (!state || !Array.isArray(state.gpus)) {
    explain(`${file}: expected {"gpus": [...]}`);
    fail(DRIVER_FAILURE, 9);
  }
  return state;
}

/** @param {number} pid */
function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return /** @type {NodeJS.ErrnoException} */ (err).code === 'EPERM';
  }
}

/** Pids of process files skipped because the pid was not alive (the cache checks they stay so). @type {number[]} */
const DEAD_PIDS = [];

/** @returns {SimProc[]} */
function loadLiveProcs() {
  const dir = join(/** @type {string} */ (process.env.FORGE_SIM_DIR), 'procs');
  /** @type {string[]} */
  let names = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  /** @type {SimProc[]} */
  const procs = [];
  for (const name of names) {
    // Temporary files of an atomic write start with '.' and end with '.tmp'.
    if (!name.endsWith('.json') || name.startsWith('.')) continue;
    try {
      const p = JSON.parse(readFileSync(join(dir, name), 'utf8'));
      // pid 0 or negative would address a process group: never a GPU process.
      if (!Number.isInteger(p.pid) || p.pid <= 0 || !Number.isInteger(p.gpu_index)) continue;
      if (!isAlive(p.pid)) {
        DEAD_PIDS.push(p.pid);
        continue;
      }
      procs.push({
        pid: p.pid,
        gpu_index: p.gpu_index,
        used_mb: typeof p.used_mb === 'number' && p.used_mb > 0 ? Math.round(p.used_mb) : 0,
        name: typeof p.name === 'string' && p.name ? p.name : 'python3',
      });
    } catch {
      // Removed while we read it, or not JSON: not a process we can show.
    }
  }
  return procs.sort((a, b) => a.gpu_index - b.gpu_index || a.pid - b.pid);
}

// ---------------------------------------------------------------------------------------------
// Derived figures

/** @param {unknown} v @returns {number | undefined} */
function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** @param {number} x @param {number} lo @param {number} hi */
function clamp(x, lo, hi) {
  return Math.min(hi, Math.max(lo, x));
}

/** @param {unknown} v @returns {number | undefined} */
function maskOverride(v) {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^(0x)?[0-9a-f]+$/i.test(v)) return parseInt(v.replace(/^0x/i, ''), 16);
  return undefined;
}

/** @param {SimGpu} gpu @param {SimProc[]} allProcs @returns {Derived} */
function derive(gpu, allProcs) {
  const ov = gpu.overrides ?? {};
  const procs = allProcs.filter((p) => p.gpu_index === gpu.index);
  const total = gpu.memory_total_mb;
  const used = Math.round(num(ov.memory_used_mb) ?? Math.min(total, procs.reduce((s, p) => s + p.used_mb, 0)));
  const util = Math.round(num(ov.utilization_percent) ?? (procs.length > 0 ? 100 : 0));
  const memFraction = total > 0 ? clamp(used / total, 0, 1) : 0;
  const load = clamp(util / 100, 0, 1) * (0.5 + 0.5 * memFraction);
  const maxTemp = num(gpu.max_temp_c) ?? gpu.base_temp_c + 45;
  const temp = Math.round(num(ov.temperature_c) ?? gpu.base_temp_c + (maxTemp - gpu.base_temp_c) * load);
  const power = num(ov.power_draw_w) ?? gpu.idle_power_w + (gpu.power_limit_w - gpu.idle_power_w) * load;
  const na = ov.fail === 'na';
  let mask = 0;
  if (util === 0) mask |= 0x1;
  if (!na && power >= gpu.power_limit_w * 0.98) mask |= 0x4;
  if (!na && temp > maxTemp) mask |= 0x20;
  mask = maskOverride(ov.throttle_mask) ?? mask;
  const factor = mask & (0x20 | 0x40) ? 0.6 : mask & (0x4 | 0x8 | 0x80) ? 0.8 : 1;
  return {
    gpu,
    procs,
    na,
    temperature_c: temp,
    power_draw_w: power,
    memory_used_mb: used,
    memory_free_mb: Math.max(0, total - used),
    utilization_percent: util,
    throttle_mask: mask,
    clock_sm_mhz: Math.round(num(ov.clock_sm_mhz) ?? gpu.max_sm_clock_mhz * factor),
    pstate: 'P0',
  };
}

// ---------------------------------------------------------------------------------------------
// Fields: canonical name → printed header, unit and value. Aliases the real tool accepts too.

/** @param {Date} d */
function timestamp(d) {
  const p = (/** @type {number} */ n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** @param {number} index */
function busId(index) {
  return `00000000:${(index + 1).toString(16).toUpperCase().padStart(2, '0')}:00.0`;
}

const NOW = new Date();
/** @type {SimState} */
let STATE = { gpus: [] };

/** @type {Record<string, Field>} */
const GPU_FIELDS = {
  timestamp: { header: 'timestamp', value: () => timestamp(NOW) },
  driver_version: { header: 'driver_version', value: () => STATE.driver_version ?? DEFAULT_DRIVER_VERSION },
  count: { header: 'count', value: (_d, all) => all.length },
  index: { header: 'index', value: (d) => d.gpu.index },
  uuid: { header: 'uuid', value: (d) => d.gpu.uuid },
  name: { header: 'name', value: (d) => d.gpu.name },
  'pci.bus_id': { header: 'pci.bus_id', value: (d) => busId(d.gpu.index) },
  'temperature.gpu': { header: 'temperature.gpu', value: (d) => (d.na ? NA : d.temperature_c) },
  'fan.speed': { header: 'fan.speed', unit: '%', value: (d) => Math.round(30 + 0.5 * d.utilization_percent) },
  'power.draw': { header: 'power.draw', unit: 'W', value: (d) => (d.na ? NA : d.power_draw_w.toFixed(2)) },
  'power.limit': { header: 'power.limit', unit: 'W', value: (d) => (d.na ? NA : d.gpu.power_limit_w.toFixed(2)) },
  'enforced.power.limit': { header: 'enforced.power.limit', unit: 'W', value: (d) => (d.na ? NA : d.gpu.power_limit_w.toFixed(2)) },
  'memory.total': { header: 'memory.total', unit: 'MiB', value: (d) => d.gpu.memory_total_mb },
  'memory.used': { header: 'memory.used', unit: 'MiB', value: (d) => d.memory_used_mb },
  'memory.free': { header: 'memory.free', unit: 'MiB', value: (d) => d.memory_free_mb },
  'utilization.gpu': { header: 'utilization.gpu', unit: '%', value: (d) => d.utilization_percent },
  'utilization.memory': { header: 'utilization.memory', unit: '%', value: (d) => (d.utilization_percent ? 40 : 0) },
  'clocks.sm': { header: 'clocks.current.sm', unit: 'MHz', value: (d) => d.clock_sm_mhz },
  'clocks.max.sm': { header: 'clocks.max.sm', unit: 'MHz', value: (d) => d.gpu.max_sm_clock_mhz },
  'clocks_event_reasons.active': {
    header: 'clocks_event_reasons.active',
    value: (d) => `0x${d.throttle_mask.toString(16).padStart(16, '0')}`,
  },
  pstate: { header: 'pstate', value: (d) => d.pstate },
};
/** @type {Record<string, string>} */
const GPU_ALIASES = {
  gpu_name: 'name',
  gpu_uuid: 'uuid',
  gpu_bus_id: 'pci.bus_id',
  'clocks.current.sm': 'clocks.sm',
  'clocks_throttle_reasons.active': 'clocks_event_reasons.active',
  'gpu.power.requested_limit': 'power.limit',
  'gpu.power.current_limit': 'enforced.power.limit',
};

/**
 * @typedef {{ proc: SimProc, d: Derived }} AppRow
 * @type {Record<string, { header: string, unit?: string, value: (r: AppRow) => string | number }>}
 */
const APP_FIELDS = {
  timestamp: { header: 'timestamp', value: () => timestamp(NOW) },
  gpu_name: { header: 'gpu_name', value: (r) => r.d.gpu.name },
  gpu_bus_id: { header: 'gpu_bus_id', value: (r) => busId(r.d.gpu.index) },
  gpu_uuid: { header: 'gpu_uuid', value: (r) => r.d.gpu.uuid },
  pid: { header: 'pid', value: (r) => r.proc.pid },
  process_name: { header: 'process_name', value: (r) => r.proc.name },
  used_memory: { header: 'used_gpu_memory', unit: 'MiB', value: (r) => r.proc.used_mb },
};
/** @type {Record<string, string>} */
const APP_ALIASES = { name: 'process_name', used_gpu_memory: 'used_memory' };

/**
 * @param {string} list @param {Record<string, unknown>} known @param {Record<string, string>} aliases
 * @returns {string[]}
 */
function resolveFields(list, known, aliases) {
  const out = [];
  for (const raw of list.split(',')) {
    const f = raw.trim();
    const canonical = Object.hasOwn(known, f) ? f : aliases[f];
    if (!canonical) fail(`Field "${f}" is not a valid field to query.\n\n`, 2);
    out.push(/** @type {string} */ (canonical));
  }
  return out;
}

/**
 * @param {{ header: string, unit?: string }[]} cols @param {(string | number)[][]} rows
 * @param {{ header: boolean, units: boolean }} fmt @returns {string}
 */
function printCsv(cols, rows, fmt) {
  const lines = [];
  if (fmt.header) lines.push(cols.map((c) => (c.unit ? `${c.header} [${c.unit}]` : c.header)).join(', '));
  for (const row of rows) {
    lines.push(
      row
        .map((v, i) => {
          const unit = cols[i]?.unit;
          const text = String(v);
          return fmt.units && unit && !text.startsWith('[') ? `${text} ${unit}` : text;
        })
        .join(', '),
    );
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

// ---------------------------------------------------------------------------------------------
// The usual table (simplified)

/** @param {Derived[]} all @returns {string} */
function printTable(all) {
  const bar = `+${'-'.repeat(89)}+`;
  const split = `+${'-'.repeat(41)}+${'-'.repeat(24)}+${'-'.repeat(22)}+`;
  const row = (/** @type {string} */ a, /** @type {string} */ b, /** @type {string} */ c) =>
    `|${a.padEnd(41)}|${b.padStart(24)}|${c.padStart(22)}|`;
  const drv = STATE.driver_version ?? DEFAULT_DRIVER_VERSION;
  const cuda = STATE.cuda_version ?? DEFAULT_CUDA_VERSION;
  const out = [
    `${NOW.toDateString().slice(0, 10)} ${NOW.toTimeString().slice(0, 8)} ${NOW.getFullYear()}       `,
    bar,
    `| ${`NVIDIA-SMI ${drv}`.padEnd(34)}${`Driver Version: ${drv}`.padEnd(31)}${`CUDA Version: ${cuda}`.padEnd(23)}|`,
    split,
    '| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |',
    '| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |',
    '|                                         |                        |               MIG M. |',
    `|${'='.repeat(41)}+${'='.repeat(24)}+${'='.repeat(22)}|`,
  ];
  for (const d of all) {
    const temp = d.na ? ' N/A' : `${d.temperature_c}C`.padStart(4);
    const pwr = d.na ? 'N/A /  N/A' : `${Math.round(d.power_draw_w)}W / ${String(Math.round(d.gpu.power_limit_w)).padStart(4)}W`;
    out.push(
      row(`${String(d.gpu.index).padStart(4)}  ${d.gpu.name.slice(0, 30).padEnd(31)}On  `, `${busId(d.gpu.index)} Off `, 'N/A '),
      row(` N/A  ${temp}    ${d.pstate}${pwr.padStart(24)} `, `${d.memory_used_mb}MiB / ${String(d.gpu.memory_total_mb).padStart(6)}MiB `, `${`${d.utilization_percent}%`.padStart(6)}      Default `),
      row('', '', 'N/A '),
      split,
    );
  }
  out.push(
    '',
    bar,
    `| ${'Processes:'.padEnd(88)}|`,
    '|  GPU   GI   CI              PID   Type   Process name                        GPU Memory |',
    '|        ID   ID                                                               Usage      |',
    `|${'='.repeat(89)}|`,
  );
  const procs = all.flatMap((d) => d.procs.map((p) => ({ p, d })));
  if (procs.length === 0) out.push(`|  ${'No running processes found'.padEnd(87)}|`);
  for (const { p, d } of procs) {
    out.push(
      `|${String(d.gpu.index).padStart(5)}   N/A  N/A ${String(p.pid).padStart(15)}      C   ${p.name.slice(0, 32).padEnd(32)}${`${p.used_mb}MiB`.padStart(14)} |`,
    );
  }
  out.push(bar);
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Cache
//
// The wrapper serves smi-cache/<key> when the file's mtime is strictly after those of the sim
// folder, state.json and procs/, and the pids it lists are as alive (or dead) as they were.
// Why that is never stale: the temporary file is created (mtime N0) before the state is
// stat'ed, and the answer is kept only if the folder, state.json and procs/ were last changed
// before N0 and are unchanged (inode, mtime, ctime, size) once the file is written (mtime Tc).
// So a change during the read is seen (its mtime is at least N0, not the one stat'ed), and a
// change after it carries an mtime of at least Tc: the wrapper then runs node. The wrapper
// compares strictly, so timestamps coarser than the writes (a second, a clock tick) only
// cost hits. On a network or FUSE mount a client may cache a folder's mtime for seconds:
// only local file systems get a cache.

const CACHE_TAG = 'forge-smi-cache 1';
/** The cache file being written by this call, if any. @type {CacheWrite | null} */
let CACHE = null;
/** Local file systems (statfs magic numbers): ext2/3/4, tmpfs, xfs, btrfs, overlayfs, zfs. */
const LOCAL_FS = new Set([0xef53, 0x01021994, 0x58465342, 0x9123683e, 0x794c7630, 0x2fc12fc1]);

/** The wrapper's key: the arguments joined by spaces (each non-empty, of these characters). @param {string[]} argv */
function cacheKey(argv) {
  if (argv.length === 0 || !argv.every((a) => /^[A-Za-z0-9._,=-]+$/.test(a))) return null;
  const key = argv.join(' ');
  return key.startsWith('.') || key.length > 250 ? null : key;
}

/** @param {string} path */
function identity(path) {
  const s = statSync(path, { bigint: true });
  return { ino: s.ino, mtime: s.mtimeNs, ctime: s.ctimeNs, size: s.size };
}

/** @typedef {{ dir: string, key: string, tmp: string, fd: number, watched: string[], before: string }} CacheWrite */

/**
 * Before the state is read: the temporary file and the watched paths' identities, or null
 * when this answer cannot be cached. @param {string} key @returns {CacheWrite | null}
 */
function startCache(key) {
  const sim = /** @type {string} */ (process.env.FORGE_SIM_DIR);
  const dir = join(sim, 'smi-cache');
  const tmp = join(dir, `.${process.pid}.${Date.now()}.tmp`);
  let fd = -1;
  try {
    if (!LOCAL_FS.has(Number(statfsSync(sim).type))) return null;
    mkdirSync(dir, { recursive: true });
    fd = openSync(tmp, 'wx', 0o644);
    const n0 = fstatSync(fd, { bigint: true }).mtimeNs;
    const watched = [sim, join(sim, 'state.json'), join(sim, 'procs')];
    const ids = watched.map(identity);
    if (ids.some((id) => id.mtime >= n0)) throw new Error('changed too recently to tell');
    return { dir, key, tmp, fd, watched, before: JSON.stringify(ids, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) };
  } catch {
    dropCache(tmp, fd);
    return null;
  }
}

/** @param {string} tmp @param {number} fd */
function dropCache(tmp, fd) {
  try {
    if (fd >= 0) closeSync(fd);
  } catch {}
  try {
    unlinkSync(tmp);
  } catch {}
}

/** After a successful answer: keeps it if nothing watched changed meanwhile. @param {CacheWrite} c @param {string} out @param {number[]} live */
function finishCache(c, out, live) {
  try {
    const lines = out === '' ? [] : out.slice(0, -1).split('\n');
    // The wrapper reads whole lines: an answer not ending in a newline is not cached.
    if (out !== '' && !out.endsWith('\n')) throw new Error('no final newline');
    const text = [CACHE_TAG, live.join(' '), DEAD_PIDS.join(' '), String(lines.length), ...lines, 'end', ''].join('\n');
    writeSync(c.fd, text);
    closeSync(c.fd);
    c.fd = -1;
    const after = JSON.stringify(c.watched.map(identity), (_k, v) => (typeof v === 'bigint' ? String(v) : v));
    if (after !== c.before) throw new Error('changed while read');
    // Whole or not at all: a reader sees the old file or the new one.
    renameSync(c.tmp, join(c.dir, c.key));
  } catch {
    dropCache(c.tmp, c.fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Command line

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {{ queryGpu?: string, queryApps?: string, format?: string, id?: string, list: boolean, help: boolean }} */
  const a = { list: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = /** @type {string} */ (argv[i]);
    const eq = arg.indexOf('=');
    const key = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const take = () => (arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : (argv[++i] ?? fail(INVALID_ARGS, 2)));
    if (key === '--query-gpu') a.queryGpu = take();
    else if (key === '--query-compute-apps') a.queryApps = take();
    else if (key === '--format') a.format = take();
    else if (key === '-i' || key === '--id') a.id = take();
    else if (key === '-L' || key === '--list-gpus') a.list = true;
    else if (key === '-h' || key === '--help') a.help = true;
    else fail(INVALID_ARGS, 2);
  }
  return a;
}

/** @param {string | undefined} format */
function parseFormat(format) {
  if (format === undefined) fail(`"--format" must be given with a query, e.g. --format=csv,noheader,nounits\n${INVALID_ARGS}`, 2);
  const parts = /** @type {string} */ (format).split(',').map((s) => s.trim());
  if (parts[0] !== 'csv' || parts.slice(1).some((p) => p !== 'noheader' && p !== 'nounits')) {
    fail(`Invalid format "${format}": use csv, optionally with noheader and nounits.\n`, 2);
  }
  return { header: !parts.includes('noheader'), units: !parts.includes('nounits') };
}

function main() {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  if (args.help) {
    process.stdout.write(
      'Forge simulated nvidia-smi. Supports: --query-gpu=FIELDS, --query-compute-apps=FIELDS,\n' +
        '--format=csv[,noheader][,nounits], -i/--id N[,M], -L/--list-gpus, and no flags (a table).\n' +
        'State: $FORGE_SIM_DIR/state.json and $FORGE_SIM_DIR/procs/<pid>.json.\n',
    );
    return;
  }
  // Arguments are checked before the state is read, as the real tool checks them first.
  if (args.queryGpu !== undefined && args.queryApps !== undefined) fail(INVALID_ARGS, 2);
  const query = args.queryGpu ?? args.queryApps;
  const fmt = query === undefined ? null : parseFormat(args.format);
  if (query === undefined && args.format !== undefined) fail(INVALID_ARGS, 2);
  const gpuFields =
    args.queryGpu === undefined
      ? null
      : resolveFields(args.queryGpu, GPU_FIELDS, GPU_ALIASES).map((f) => /** @type {Field} */ (GPU_FIELDS[f]));
  const appFields =
    args.queryApps === undefined
      ? null
      : resolveFields(args.queryApps, APP_FIELDS, APP_ALIASES).map((f) => /** @type {(typeof APP_FIELDS)[string]} */ (APP_FIELDS[f]));

  // The time is printed in a timestamp field and atop the table: such answers are not cached.
  const timed = (gpuFields ?? appFields ?? []).some((f) => f.header === 'timestamp') || (!fmt && !args.list);
  const key = timed || !process.env.FORGE_SIM_DIR ? null : cacheKey(argv);
  CACHE = key === null ? null : startCache(key);
  const out = answer(args, fmt, gpuFields, appFields);
  process.stdout.write(out);
  if (CACHE) finishCache(CACHE, out, LIVE_PIDS);
}

/** Pids of the live processes counted in this answer. @type {number[]} */
const LIVE_PIDS = [];

/**
 * @param {ReturnType<typeof parseArgs>} args @param {{ header: boolean, units: boolean } | null} fmt
 * @param {Field[] | null} gpuFields @param {(typeof APP_FIELDS)[string][] | null} appFields @returns {string}
 */
function answer(args, fmt, gpuFields, appFields) {
  STATE = loadState();
  if (STATE.gpus.some((g) => g.overrides?.fail === 'driver')) fail(DRIVER_FAILURE, 9);
  const present = STATE.gpus.filter((g) => g.overrides?.fail !== 'missing').sort((a, b) => a.index - b.index);
  let chosen = present;
  if (args.id !== undefined) {
    chosen = [];
    for (const w of args.id.split(',').map((s) => s.trim())) {
      const g = present.find((p) => String(p.index) === w || p.uuid === w);
      if (!g) fail(NO_DEVICES, 6);
      if (!chosen.includes(g)) chosen.push(g);
    }
  }
  if (chosen.length === 0) fail(NO_DEVICES, 6);
  const procs = loadLiveProcs();
  LIVE_PIDS.push(...procs.map((p) => p.pid));
  const derived = chosen.map((g) => derive(g, procs));

  if (fmt && gpuFields) return printCsv(gpuFields, derived.map((d) => gpuFields.map((f) => f.value(d, derived))), fmt);
  if (fmt && appFields) return printCsv(appFields, derived.flatMap((d) => d.procs.map((proc) => appFields.map((f) => f.value({ proc, d })))), fmt);
  if (args.list) return derived.map((d) => `GPU ${d.gpu.index}: ${d.gpu.name} (UUID: ${d.gpu.uuid})`).join('\n') + '\n';
  return printTable(derived);
}

main();
