// Pure readings of a finished batch's timeline, from the times the files hold: the worker's
// own started_at / finished_at (in its result), the agent's claimed_at, the brain's RELEASE
// line and the time the agent wrote the result into the task file.
import type { Task } from '../../agents/core/task.ts';
import { median, p95 } from './stats.ts';

export interface Spread {
  median_ms: number | null;
  p95_ms: number | null;
}

export function spread(values: readonly number[]): Spread {
  return { median_ms: median(values), p95_ms: p95(values) };
}

const ms = (iso: string | null | undefined): number | null => (iso ? Date.parse(iso) : null);

/** The worker's own start and end of a task's last attempt. */
export function workerTimes(t: Task): { started: number; finished: number } | null {
  const s = ms(t.result?.started_at);
  const f = ms(t.result?.finished_at);
  return s === null || f === null ? null : { started: s, finished: f };
}

export interface HopParts {
  /** finished_at(N) -> started_at(N+1): the whole hop. */
  hop: number[];
  /** finished_at(N) -> the agent's result write of N: worker exit, result read, task file written. */
  flush: number[];
  /** That write -> RELEASE of N+1: rename to complete/, the brain noticing, its pass, the release rename. */
  release: number[];
  /** RELEASE of N+1 -> claimed_at(N+1): an agent noticing queue/, its claim scan and rename. */
  claim: number[];
  /** claimed_at(N+1) -> started_at(N+1): the processing/ write, spawning the worker, its boot. */
  start: number[];
}

/** The hops of a chain, in order: `names[i+1]` depends on `names[i]`. */
export function chainHops(
  names: readonly string[],
  tasks: ReadonlyMap<string, Task>,
  writtenAt: ReadonlyMap<string, number>,
  releasedAt: ReadonlyMap<string, number>,
): HopParts {
  const parts: HopParts = { hop: [], flush: [], release: [], claim: [], start: [] };
  for (let i = 0; i + 1 < names.length; i++) {
    const prev = tasks.get(names[i]!);
    const next = tasks.get(names[i + 1]!);
    if (!prev || !next) continue;
    const p = workerTimes(prev);
    const n = workerTimes(next);
    const claimed = ms(next.claimed_at);
    const written = writtenAt.get(prev.name);
    const released = releasedAt.get(next.name);
    if (!p || !n) continue;
    parts.hop.push(n.started - p.finished);
    if (written !== undefined && released !== undefined && claimed !== null) {
      parts.flush.push(written - p.finished);
      parts.release.push(released - written);
      parts.claim.push(claimed - released);
      parts.start.push(n.started - claimed);
    }
  }
  return parts;
}

export interface Gaps {
  /** An agent's previous task's end (worker finished_at) -> its next claim. */
  toClaim: number[];
  /** The same end -> the next worker's own start. */
  toStart: number[];
}

/**
 * Per agent, the time with no worker of its own running: for tasks run one at a time, the
 * previous task's finished_at to the next claimed_at (and to the next worker's start).
 */
export function agentGaps(tasks: Iterable<Task>): Gaps {
  const byAgent = new Map<string, Task[]>();
  for (const t of tasks) {
    if (!t.claimed_by || !workerTimes(t) || !t.claimed_at) continue;
    byAgent.set(t.claimed_by, [...(byAgent.get(t.claimed_by) ?? []), t]);
  }
  const gaps: Gaps = { toClaim: [], toStart: [] };
  for (const list of byAgent.values()) {
    list.sort((a, b) => Date.parse(a.claimed_at!) - Date.parse(b.claimed_at!));
    for (let i = 0; i + 1 < list.length; i++) {
      const end = workerTimes(list[i]!)!.finished;
      gaps.toClaim.push(Date.parse(list[i + 1]!.claimed_at!) - end);
      gaps.toStart.push(workerTimes(list[i + 1]!)!.started - end);
    }
  }
  return gaps;
}

export interface Window {
  tasks: number;
  /** First claim to last worker end, seconds. */
  seconds: number;
  tasksPerS: number;
  /** Most workers running at the same moment. */
  peakConcurrency: number;
}

/** Throughput over the busy window: first claim to last finish. */
export function busyWindow(tasks: Iterable<Task>): Window {
  const list = [...tasks].filter((t) => t.claimed_at && workerTimes(t));
  const first = Math.min(...list.map((t) => Date.parse(t.claimed_at!)));
  const last = Math.max(...list.map((t) => workerTimes(t)!.finished));
  const events = list.flatMap((t) => {
    const w = workerTimes(t)!;
    return [[w.started, 1], [w.finished, -1]] as Array<[number, number]>;
  }).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, d] of events) peak = Math.max(peak, (now += d));
  const seconds = (last - first) / 1000;
  return { tasks: list.length, seconds, tasksPerS: seconds > 0 ? list.length / seconds : 0, peakConcurrency: peak };
}
