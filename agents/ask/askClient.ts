// What `forge ask` needs besides writing the request: whether a brain runs to take it (the way
// `forge status` judges the lease: status/liveness.ts), whether an agent holds the model hot
// (else the answer waits for a load), and the wait for the answer file: polling with backoff,
// since the mount may be a network filesystem that sends no events (a watch on this host only
// makes it sooner).
import { watch } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { readLockOwner } from '../brain/leaseOwner.ts';
import { heldBy } from '../brain/heat.ts';
import { type Config, sameModelName } from '../core/config.ts';
import { readHeartbeats } from '../core/heartbeat.ts';
import type { MountPaths } from '../core/paths.ts';
import { isAlive } from '../core/pids.ts';
import { type AskAnswer, readAnswer, requestsDir } from '../core/request.ts';
import { type BrainView, judgeBrain } from '../status/liveness.ts';

/** The first poll's wait, and the longest: an answer on an idle rig comes in well under a second. */
export const POLL_FIRST_MS = 20;
export const POLL_MAX_MS = 500;

/** Pure: the wait before the next look for the answer: doubling from POLL_FIRST_MS to POLL_MAX_MS, never past the deadline. */
export function nextPollMs(prevMs: number | null, leftMs: number): number {
  const next = prevMs === null ? POLL_FIRST_MS : Math.min(POLL_MAX_MS, prevMs * 2);
  return Math.max(0, Math.min(next, leftMs));
}

/** The brain as status sees it: its lease, and on this host its pid. */
export async function lookAtBrain(paths: MountPaths): Promise<BrainView> {
  const locked = await lstat(`${paths.brainLock}.lock`).then(() => true, () => false);
  const owner = await readLockOwner(paths);
  return judgeBrain({ locked, owner, pid_alive: owner && owner.host === hostname() ? isAlive(owner.pid) : null });
}

/** Pure: the agents (by name) whose heartbeat shows `model` loaded or loading. */
export function agentsHolding(model: string, beats: ReadonlyArray<Parameters<typeof heldBy>[0]>, config: Pick<Config, 'gpus'>): string[] {
  const configured = (agent: string) => config.gpus.find((g) => g.name === agent)?.model ?? null;
  return beats.filter((b) => {
    const held = heldBy(b, configured);
    return held !== null && sameModelName(held, model);
  }).map((b) => b.name);
}

/** The agents that hold `model` hot now, from their heartbeats. */
export async function hotAgents(paths: MountPaths, config: Config, model: string): Promise<string[]> {
  return agentsHolding(model, await readHeartbeats(paths, config.gpus.map((g) => g.id)), config);
}

export type WaitOutcome = { ok: true; answer: AskAnswer } | { ok: false; timedOut: true };

/**
 * Waits for requests/<id>.answer.json until `timeoutMs` has passed: polls with backoff, and
 * looks at once when a watch on requests/ (this host's moves only) says something changed.
 * An answer file that does not read yet (torn by a copy, an NFS cache) is looked at again.
 */
export async function waitForAnswer(paths: MountPaths, id: string, timeoutMs: number, now: () => number = () => performance.now()): Promise<WaitOutcome> {
  const deadline = now() + timeoutMs;
  let wake: (() => void) | null = null;
  let watcher: ReturnType<typeof watch> | null = null;
  try {
    watcher = watch(requestsDir(paths), () => wake?.());
    watcher.on('error', () => {});
  } catch {
    watcher = null; // no events here: polling alone
  }
  try {
    let wait: number | null = null;
    for (;;) {
      const r = await readAnswer(paths, id);
      if (r.ok) return { ok: true, answer: r.value };
      const left = deadline - now();
      if (left <= 0) return { ok: false, timedOut: true };
      wait = nextPollMs(wait, left);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait!);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  } finally {
    watcher?.close();
  }
}
