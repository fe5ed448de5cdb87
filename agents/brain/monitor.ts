// The brain's watch over agents and running tasks: a pure function of the heartbeats (judged by
// their sequence number on the brain's own clock, never by file times), the tasks in
// processing/, what the brain remembers, and the time.
import type { Config } from '../core/config.ts';
import type { Heartbeat } from '../core/heartbeat.ts';
import type { Task } from '../core/task.ts';

/** What the brain remembers of each agent's heartbeat: the last seq and when (brain clock) it last moved. */
export interface AgentWatch {
  seq: number;
  pid: number;
  changedAt: number;
}

/** A stuck task's escalation, persisted so a restarted brain continues it. */
export interface Escalation {
  task_id: string;
  attempt: number;
  agent: string;
  abort_at: number | null;
  kill_at: number | null;
  manual_at: number | null;
}

export type MonitorAction =
  | { kind: 'agent_dead'; agent: string; reason: string; tasks: string[] }
  | { kind: 'agent_back'; agent: string }
  | { kind: 'abort'; task: string; agent: string; reason: string }
  | { kind: 'kill'; task: string; agent: string; reason: string }
  | { kind: 'manual'; task: string; agent: string; reason: string }
  | { kind: 'clear_escalation'; task: string };

/** Updates the memory of heartbeats: a new seq (or a new life) moves changedAt to now. */
export function observeHeartbeats(prev: ReadonlyMap<string, AgentWatch>, beats: Heartbeat[], now: number): Map<string, AgentWatch> {
  const next = new Map(prev);
  for (const hb of beats) {
    const p = prev.get(hb.name);
    if (!p || p.seq !== hb.seq || p.pid !== hb.pid) next.set(hb.name, { seq: hb.seq, pid: hb.pid, changedAt: now });
  }
  return next;
}

/** How long a task may sit in processing before it counts as stuck: its own timeout (the worker enforces it) plus grace, at least stuck_task_s. Loads are never stuck before model_load_s. */
export function stuckAfterMs(task: Task, config: Config): number {
  const t = config.timeouts;
  const own = task.timeout_s + t.abort_grace_s;
  const floor = task.type === 'load_llm' ? Math.max(t.stuck_task_s, t.model_load_s) : t.stuck_task_s;
  return Math.max(floor, own) * 1000;
}

export interface MonitorInput {
  watches: ReadonlyMap<string, AgentWatch>;
  /** Agents the brain has declared dead (so it says so once). */
  dead: ReadonlySet<string>;
  beats: Heartbeat[];
  processing: Task[];
  /** When the brain first saw each processing task (by id and attempt), brain clock. */
  firstSeen: ReadonlyMap<string, number>;
  escalations: ReadonlyMap<string, Escalation>;
  agentNames: string[];
  now: number;
}

export function decideMonitor(m: MonitorInput, config: Config): MonitorAction[] {
  const out: MonitorAction[] = [];
  const staleMs = config.timeouts.heartbeat_stale_s * 1000;
  const graceMs = config.timeouts.abort_grace_s * 1000;
  const beatOf = new Map(m.beats.map((b) => [b.name, b]));

  for (const name of m.agentNames) {
    const w = m.watches.get(name);
    const hb = beatOf.get(name);
    const silentFor = w ? m.now - w.changedAt : null;
    const isDead = w !== undefined && silentFor !== null && silentFor >= staleMs && !hb?.stopping;
    if (isDead && !m.dead.has(name)) {
      const tasks = m.processing.filter((t) => t.claimed_by === name).map((t) => t.id);
      out.push({ kind: 'agent_dead', agent: name, tasks, reason: `heartbeat seq ${w!.seq} has not advanced for ${Math.round(silentFor! / 1000)} s (limit ${config.timeouts.heartbeat_stale_s} s)` });
    } else if (!isDead && m.dead.has(name)) {
      out.push({ kind: 'agent_back', agent: name });
    } else if (isDead) {
      // Tasks claimed by an agent already declared dead (a late rename): return them too.
      const tasks = m.processing.filter((t) => t.claimed_by === name).map((t) => t.id);
      if (tasks.length) out.push({ kind: 'agent_dead', agent: name, tasks, reason: 'agent is dead' });
    }
  }

  const inProcessing = new Set(m.processing.map((t) => `${t.id}#${t.attempt}`));
  for (const [id, e] of m.escalations) {
    if (!inProcessing.has(`${id}#${e.attempt}`)) out.push({ kind: 'clear_escalation', task: id });
  }
  for (const t of m.processing) {
    const agent = t.claimed_by ?? '?';
    if (m.dead.has(agent)) continue;
    const seen = m.firstSeen.get(`${t.id}#${t.attempt}`);
    if (seen === undefined) continue;
    const limit = stuckAfterMs(t, config);
    const e = m.escalations.get(t.id);
    const esc = e && e.attempt === t.attempt ? e : null;
    if (!esc) {
      if (m.now - seen >= limit) out.push({ kind: 'abort', task: t.id, agent, reason: `in processing for ${Math.round((m.now - seen) / 1000)} s (limit ${Math.round(limit / 1000)} s)` });
    } else if (esc.kill_at === null && esc.abort_at !== null && m.now - esc.abort_at >= graceMs) {
      out.push({ kind: 'kill', task: t.id, agent, reason: `still running ${config.timeouts.abort_grace_s} s after the abort signal` });
    } else if (esc.manual_at === null && esc.kill_at !== null && m.now - esc.kill_at >= graceMs) {
      out.push({ kind: 'manual', task: t.id, agent, reason: `still in processing ${config.timeouts.abort_grace_s} s after the kill signal: needs a person (check ${agent}, then npm run doctor -- --repair)` });
    }
  }
  return out;
}
