// What a starting agent does about its previous life. A restarted agent kills that life's
// workers (freeing GPU memory) and returns their tasks at once instead of after the stale
// timeout. The heartbeat it reads is only a hint (anyone can write the mount): a process is
// killed only when its environment proves it ran one of this agent's attempts on this host.
// A heartbeat whose agent still runs here, or whose seq still moves on another host, means a
// second agent of the same name: refused.
import { type Clock, isoTime } from '../core/clock.ts';
import { closeAttempt, lostResult } from '../core/attempt.ts';
import type { Config, GpuConfig } from '../core/config.ts';
import { type Heartbeat, readHeartbeat, waitForHeartbeats } from '../core/heartbeat.ts';
import { type MountPaths, heartbeatPath } from '../core/paths.ts';
import type { TaskStore } from '../core/store.ts';
import { holdsOpenClaim } from '../core/task.ts';
import { type PreviousLife, AgentNameTaken, isAgentProcess, judgePreviousLife, thisHost } from './previousLife.ts';
import { processesOfAttempts } from './procGroup.ts';
import type { AgentLog } from './runtimeWatch.ts';
import { killGroup } from './spawnWorker.ts';

export interface ReclaimContext {
  paths: MountPaths;
  config: Config;
  gpu: GpuConfig;
  store: TaskStore;
  clock: Clock;
  log: AgentLog;
}

/** Cleans up after the previous life (throws AgentNameTaken for a live namesake); returns the seq this life's heartbeats start at. */
export async function reclaimOrphans(c: ReclaimContext): Promise<number> {
  const name = c.gpu.name;
  const prev = await readHeartbeat(c.paths, c.gpu.id);
  const life = judgePreviousLife(prev, { myPid: process.pid, myHost: thisHost(), prevIsLiveAgent: prev ? await isAgentProcess(prev.pid) : false });
  if (life.kind === 'alive_here') {
    throw new AgentNameTaken(`agent ${name} already runs on this host (pid ${life.pid}, heartbeat ${heartbeatPath(c.paths, c.gpu.id)}); stop it first, or give this GPU another name in config.json`);
  }
  if (life.kind === 'elsewhere' && prev && !prev.stopping) await refuseLiveNamesake(c, prev);
  if (life.kind === 'none' || !prev) return prev ? prev.seq + 1 : 0;
  await endPreviousLife(c, life, prev);
  return prev.seq + 1;
}

/**
 * A heartbeat written on another host: alive there if its seq still moves. Watched on our own
 * clock for three external cycles (it writes once per cycle); a moving seq is a live namesake.
 */
async function refuseLiveNamesake(c: ReclaimContext, prev: Heartbeat): Promise<void> {
  const id = c.gpu.id;
  const moved = await waitForHeartbeats(c.paths, [id], c.config.cycles.external_s * 3000, (hb) => hb.seq !== prev.seq || hb.pid !== prev.pid);
  if (moved.has(id)) {
    throw new AgentNameTaken(`agent ${c.gpu.name} is alive on ${prev.hostname ?? 'another host'} (its heartbeat seq moved past ${prev.seq}); stop it first, or give this GPU another name in config.json`);
  }
}

/** Finishes the previous life's half-done moves, kills its processes and returns the tasks it still held as lost (infra). */
async function endPreviousLife(c: ReclaimContext, life: Exclude<PreviousLife, { kind: 'none' | 'alive_here' }>, prev: Heartbeat): Promise<void> {
  const name = c.gpu.name;
  const ended = life.kind === 'ended' ? life : { pid: prev.pid, attempts: [] };
  // Task moves the previous life left half done (killed between a take and its publish).
  await c.store.recoverInterrupted(ended.pid);
  // Every process of the previous life is an orphan whose result nobody will read, whether
  // or not the brain has already returned its task: end them all. Its attempts are the ones
  // its heartbeat lists and its claims in processing/: a claim is written before its worker
  // starts, while the heartbeat is written at most once a second and may lag the last ones.
  const orphans = await processesOfAttempts(name, [...ended.attempts, ...(await claimsHeld(c.store, name))]);
  for (const pid of orphans) killGroup(pid, 'SIGKILL');
  const where = life.kind === 'elsewhere' ? ` on ${prev.hostname ?? 'another host'}` : '';
  const killed = orphans.length ? `; killed its processes ${orphans.join(', ')}` : '';
  const reason = `agent ${name} restarted; its previous life (pid ${ended.pid}${where}) ended with the task running${killed}`;
  for (const id of await c.store.list('processing')) {
    const r = await c.store.replace('processing', id, (t) => {
      // Another agent's claim between its rename and its write still names us: not ours.
      if (t.claimed_by !== name || !holdsOpenClaim(t)) return null;
      const now = isoTime(c.clock.now());
      return closeAttempt(t, lostResult(t, t.attempt, reason, now, now), { agent: name });
    }, 'failed');
    if (r.ok) await c.log('ORPHAN', id, `returned: ${r.task.result?.reason ?? ''}`);
  }
}

/** The open claims of `agent` in processing/ (task and attempt), as the files say. */
async function claimsHeld(store: TaskStore, agent: string): Promise<Array<{ taskId: string; attempt: number }>> {
  const out: Array<{ taskId: string; attempt: number }> = [];
  for (const id of await store.list('processing')) {
    const r = await store.read('processing', id);
    if (r.ok && r.task.claimed_by === agent && holdsOpenClaim(r.task)) out.push({ taskId: id, attempt: r.task.attempt });
  }
  return out;
}
