// gpus/gpu_<id>/heartbeat.json: the seed's format plus a sequence number that grows with
// every write, so liveness never depends on file times (NFS attribute caching, clock skew).
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as z from './zod.ts';
import { errorCode } from './errors.ts';
import { type JsonFileRead, readJsonFile } from './mountJson.ts';
import type { RetryOptions } from './mountRead.ts';
import { type MountPaths, heartbeatPath } from './paths.ts';
import { writeOwnJson } from './quarantine.ts';

export const ActiveTask = z.object({
  worker_id: z.string(),
  task_id: z.string(),
  task_class: z.string(),
  task_name: z.string(),
  vram_estimate_mb: z.number(),
  peak_vram_mb: z.nullable(z.number()),
  pid: z.nullable(z.number()),
  started_at: z.string(),
  attempt: z.optional(z.number().check(z.int())),
  /** The task's own process group (the worker starts it in a new one), for cleanup. */
  task_pgid: z.optional(z.nullable(z.number().check(z.int()))),
});
export type ActiveTask = z.infer<typeof ActiveTask>;

export const Heartbeat = z.object({
  gpu_id: z.number().check(z.int()),
  name: z.string(),
  state: z.enum(['hot', 'cold', 'loading', 'stopping']),
  model_loaded: z.boolean(),
  last_updated: z.string(),
  temperature_c: z.nullable(z.number()),
  power_draw_w: z.nullable(z.number()),
  vram_used_mb: z.nullable(z.number()),
  vram_total_mb: z.nullable(z.number()),
  vram_percent: z.nullable(z.number()),
  gpu_util_percent: z.nullable(z.number()),
  clock_mhz: z.nullable(z.number()),
  throttle_status: z.string(),
  claimed_vram_mb: z.number(),
  budget_available_mb: z.number(),
  active_workers: z.number().check(z.int()),
  active_tasks: z.array(ActiveTask),
  stats: z.object({ tasks_completed: z.number().check(z.int()), tasks_failed: z.number().check(z.int()) }),
  // Additions to the seed's format:
  /** Grows by one with every write of this file. */
  seq: z.number().check(z.int(), z.gte(0)),
  /** Process id of the agent, and when it started (a new life restarts seq at 0). */
  pid: z.number().check(z.int()),
  started_at: z.string(),
  /** healthy, or constrained with reasons (temperature, VRAM, power), or unhealthy (driver failed). */
  health: z.enum(['healthy', 'constrained', 'unhealthy']),
  health_reasons: z.array(z.string()),
  /** Task classes this agent would claim now. */
  accepts: z.array(z.string()),
  /** State of the agent's LLM runtime circuit: closed (fine), open (failing, no llm work), half_open (probing). */
  llm_circuit: z._default(z.enum(['closed', 'open', 'half_open']), 'closed'),
  llm_reason: z._default(z.nullable(z.string()), null),
  /** Host figures from systeminformation. */
  host: z._default(z.nullable(z.object({ cpu_load_percent: z.nullable(z.number()), mem_available_mb: z.nullable(z.number()) })), null),
  /** Agent stopping or stopped. */
  stopping: z._default(z.boolean(), false),
  /** The host the agent runs on (os.hostname()): pids mean something only there. */
  hostname: z._default(z.nullable(z.string()), null),
  /** The model resident on the card, or being loaded; null when none. */
  model: z._default(z.nullable(z.string()), null),
  /** Its resident size as the runtime reports it (KV cache of every request slot included), MB; 0 when none. */
  model_mb: z._default(z.number().check(z.gte(0)), 0),
  /** The runtime's protocol, and how many requests it serves at once. */
  runtime: z._default(z.enum(['ollama', 'openai']), 'ollama'),
  num_parallel: z._default(z.number().check(z.int(), z.gte(1)), 1),
  /** The runtime loads and unloads models on request (ollama); false: it serves the one model it was started with. */
  swappable: z._default(z.boolean(), true),
  /** How long this agent's latest load of each model took, ms. */
  load_ms: z._default(z.record(z.string(), z.number().check(z.gte(0))), {}),
  /** llm tasks it runs now. */
  running_llm: z._default(z.number().check(z.int(), z.gte(0)), 0),
});
export type Heartbeat = z.infer<typeof Heartbeat>;
export type HeartbeatInput = z.input<typeof Heartbeat>;

/**
 * Written by its agent only. Returns what was in the heartbeat's place and had to be moved
 * away (a directory there would fail every write and make the agent look dead), or null.
 */
/** Heartbeats are padded to a whole number of these bytes. */
export const HEARTBEAT_BLOCK = 8192;

export async function writeHeartbeat(paths: MountPaths, hb: HeartbeatInput): Promise<string | null> {
  const file = heartbeatPath(paths, hb.gpu_id);
  const valid = Heartbeat.parse(hb);
  // One size from beat to beat (see padTo): a reader on another NFS client whose cached size
  // is a beat old still reads it whole, so its seq is seen to move. Not synced: readers never
  // see half of it either way (atomic.ts), and only a crash of the machine that holds the file
  // can lose a beat. If that machine is the agent's, its workers died with it (the next life
  // finds no orphans to kill) and the next life writes the file anew; if it is a file server,
  // the live agent rewrites it within a cycle, and a heartbeat that cannot be read is no
  // verdict for the brain until its seq has been still for heartbeat_stale_s.
  const o = { padTo: HEARTBEAT_BLOCK, sync: false };
  try {
    return await writeOwnJson(paths, 'gpus', file, valid, o);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
    await mkdir(dirname(file), { recursive: true });
    return writeOwnJson(paths, 'gpus', file, valid, o);
  }
}

/**
 * One heartbeat, or what is wrong with it. A read that fails for a reason that passes on a
 * shared mount (ESTALE: the agent's rename replaced it under this client; EIO) is read again
 * for a few tries over up to READ_GIVE_UP_MS, then reported `transient`: not readable yet.
 * A heartbeat that is not there is read again only with retry.missingToo (an agent seen
 * before): most missing heartbeats are agents that never started.
 */
export function readHeartbeatFile(paths: MountPaths, gpuId: number, retry: RetryOptions = {}): Promise<JsonFileRead<Heartbeat>> {
  return readJsonFile(heartbeatPath(paths, gpuId), Heartbeat, 'a heartbeat', { retry });
}

/** Reads one heartbeat; null when absent or unreadable (an agent that never started, a torn NFS read, garbage). Never throws. */
export async function readHeartbeat(paths: MountPaths, gpuId: number): Promise<Heartbeat | null> {
  const r = await readHeartbeatFile(paths, gpuId);
  return r.ok ? r.value : null;
}

export async function readHeartbeats(paths: MountPaths, gpuIds: number[]): Promise<Heartbeat[]> {
  const all = await Promise.all(gpuIds.map((id) => readHeartbeat(paths, id)));
  return all.filter((h): h is Heartbeat => h !== null);
}

/**
 * Watches heartbeats for up to ms, every 200 ms: the ids whose heartbeat `moved` says has moved
 * (seq advanced, a new pid). Liveness judged between two observations on the reader's own
 * clock, never by a file's time or another host's clock.
 */
export async function waitForHeartbeats(paths: MountPaths, ids: Iterable<number>, ms: number, moved: (hb: Heartbeat, id: number) => boolean): Promise<Set<number>> {
  const waiting = new Set(ids);
  const out = new Set<number>();
  const end = Date.now() + ms;
  while (waiting.size && Date.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(200, Math.max(1, end - Date.now()))));
    for (const id of waiting) {
      const hb = await readHeartbeat(paths, id);
      if (hb && moved(hb, id)) {
        waiting.delete(id);
        out.add(id);
      }
    }
  }
  return out;
}
