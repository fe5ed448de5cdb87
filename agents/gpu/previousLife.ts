// What an agent does at start about the heartbeat it finds: the record of its previous life,
// or of another live agent with the same name, or a forgery. A heartbeat is a file on the
// mount that anyone can write, so it is a hint, never an authority: a process is killed only
// when /proc shows it is provably one of this agent's (its environment carries this agent's
// name and one of the attempts the heartbeat lists, on this host), and never pid 0, 1 or a
// negative one, which kill(2) reads as "the group", "init" and "everything".
import { hostname } from 'node:os';
import { readFile } from 'node:fs/promises';
import type { Heartbeat } from '../core/heartbeat.ts';

export type PreviousLife =
  /** No heartbeat, or our own: nothing to clean. */
  | { kind: 'none' }
  /** A life of this agent on this host whose process is gone: its workers are orphans. */
  | { kind: 'ended'; attempts: Array<{ taskId: string; attempt: number }>; pid: number }
  /** The heartbeat's agent process is alive on this host: a second agent of the same name. */
  | { kind: 'alive_here'; pid: number }
  /** Written on another host (or by an older version that did not say): judged by its seq, later. */
  | { kind: 'elsewhere'; host: string | null; seq: number };

export interface LifeFacts {
  myPid: number;
  myHost: string;
  /** Whether the heartbeat's pid is, on this host, a running GPU agent (not just any process). */
  prevIsLiveAgent: boolean;
}

/** Pure: what the heartbeat found at start means. */
export function judgePreviousLife(prev: Heartbeat | null, f: LifeFacts): PreviousLife {
  if (prev === null || prev.pid === f.myPid) return { kind: 'none' };
  if (prev.hostname !== f.myHost) return { kind: 'elsewhere', host: prev.hostname, seq: prev.seq };
  if (prev.pid > 1 && f.prevIsLiveAgent) return { kind: 'alive_here', pid: prev.pid };
  const attempts = prev.active_tasks.flatMap((a) => (a.attempt === undefined ? [] : [{ taskId: a.task_id, attempt: a.attempt }]));
  return { kind: 'ended', attempts, pid: prev.pid };
}

/** Read once: every heartbeat names it, and the brain's lock keeps its own the same way. */
let host: string | null = null;

export function thisHost(): string {
  host ??= hostname();
  return host;
}

/** True when the pid is a running GPU agent on this host (its command line runs the agent's entry). */
export async function isAgentProcess(pid: number): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmd.split('\0').some((a) => /agents\/gpu\/main\.(ts|js)$/.test(a));
}

/** A second agent of the same name is alive: this one must not start. */
/** The agent must not start (the launcher does not restart it: EXIT_REFUSED). */
export class StartRefused extends Error {
  override name = 'StartRefused';
}

export class AgentNameTaken extends StartRefused {
  override name = 'AgentNameTaken';
}
