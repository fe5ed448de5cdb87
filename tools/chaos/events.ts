// The chaos run's own log: what it started, killed, dropped and submitted, with times (ms
// since the epoch, this host's clock, the same clock the rig and the step script use). The
// checker reads it beside the mount's contents.

export type Role = 'brain' | 'agent';
export type KillTarget = 'brain' | 'agent' | 'worker' | 'task';
export const KILL_TARGETS: readonly KillTarget[] = ['brain', 'agent', 'worker', 'task'];

/** Where garbage goes: the task folders by their store name, and the brain's inbox. */
export type GarbageFolder = 'queue' | 'processing' | 'complete' | 'failed' | 'private' | 'inbox';
export const GARBAGE_FOLDERS: readonly GarbageFolder[] = ['queue', 'processing', 'complete', 'failed', 'private', 'inbox'];

/**
 * random: random bytes under a foreign name; readme: a person's README.txt; half-task: the
 * first half of a task's JSON under a task-like name; alien: valid JSON that is not a task;
 * temp: a half-written temporary file as a writer killed mid-write leaves it.
 */
export type GarbageKind = 'random' | 'readme' | 'half-task' | 'alien' | 'temp';
export const GARBAGE_KINDS: readonly GarbageKind[] = ['random', 'readme', 'half-task', 'alien', 'temp'];

/** A task a kill interrupted (from the agent's heartbeat at the time of the kill). */
export interface HitTask {
  task_id: string;
  attempt: number;
  /** The worker's pid and its task's process group, as the heartbeat gave them. */
  worker_pid: number | null;
  task_pgid: number | null;
}

export type ChaosEvent =
  | { t: number; kind: 'start'; role: Role; gpu: number | null; pid: number }
  | { t: number; kind: 'exit'; role: Role; gpu: number | null; pid: number; code: number | null; signal: string | null; expected: boolean }
  | {
      t: number; kind: 'kill'; target: KillTarget; pid: number; gpu: number | null; agent: string | null; hit: HitTask[];
      /** Set for a brain killed at its N-th file commit (--brain-ops), not at a moment. */
      atOp?: number;
    }
  | { t: number; kind: 'garbage'; folder: GarbageFolder; name: string; garbage: GarbageKind; batch: string | null }
  | { t: number; kind: 'submit'; batch: string; plan: string };

export type KillEvent = Extract<ChaosEvent, { kind: 'kill' }>;
export type GarbageEvent = Extract<ChaosEvent, { kind: 'garbage' }>;
