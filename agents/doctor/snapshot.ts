// What the doctor sees of the mount: one snapshot, read by inspect.ts and judged by the
// rules (rules/*.ts). Plain data, so every rule is tested from a constructed snapshot.
import type { BatchRecord, BrainState } from '../core/batch.ts';
import type { Config, GpuConfig } from '../core/config.ts';
import type { Heartbeat } from '../core/heartbeat.ts';
import type { TaskFolder } from '../core/paths.ts';
import type { Task } from '../core/task.ts';

export interface TaskFileView {
  folder: TaskFolder;
  /** File name inside the folder. */
  name: string;
  /** Path relative to the mount root, e.g. tasks/queue/b1__a.json. */
  rel: string;
  /** The id the name gives (<id>.json); null for a name that is not a task file's. */
  id: string | null;
  /** The parsed task; null when the file is unreadable (see problem) or foreign (id null). */
  task: Task | null;
  problem: string | null;
}

export interface BatchRecordView {
  id: string;
  rel: string;
  /** null when the file exists but is not a valid record (see problem). */
  record: BatchRecord | null;
  problem: string | null;
}

export interface AgentView {
  gpu: GpuConfig;
  /** gpus/gpu_<id>/heartbeat.json, relative to the mount. */
  heartbeatRel: string;
  /** null when absent or unreadable. */
  heartbeat: Heartbeat | null;
  /** Whether the heartbeat's pid runs on the doctor's host; null without a heartbeat. */
  pidAlive: boolean | null;
  /** Why the heartbeat file could not be used (a directory, garbage); null or absent when it reads well or is missing. */
  heartbeatProblem?: string | null;
}

export interface MountFile {
  /** Relative to the mount root. */
  rel: string;
  name: string;
  /** How long ago it was last modified, ms, on the mount's own clock (doctor/mountClock.ts). */
  ageMs: number;
}

export interface LockView {
  rel: string;
  /** How long ago its holder last refreshed it (for the brain's lock: renewed its lease), ms, on the mount's own clock. */
  ageMs: number;
  /** For the brain lock: whether its owner pid runs on this host; null when unknown (another host, no owner file). */
  ownerAlive: boolean | null;
}

export interface MountSnapshot {
  now: number;
  /** null without a valid config.json (see configProblem): agent and signal checks are skipped. */
  config: Config | null;
  configProblem: string | null;
  /** Whether a brain holds brain/brain.lock, and why the doctor thinks so. */
  brain: { running: boolean; why: string };
  state: BrainState | null;
  batches: BatchRecordView[];
  /** Every entry of the five task folders except temporary files and folders. */
  taskFiles: TaskFileView[];
  /** Tasks in tasks/archive/<batch>/, for batch records in a final state. */
  archived: Record<string, Task[]>;
  /** Batch ids of submissions in brain/inbox/ the brain has not taken yet. */
  pendingSubmissions: string[];
  agents: AgentView[];
  /** Temporary files of writers in the rig's folders (all ages). */
  tempFiles: MountFile[];
  /** Every file in signals/ that is not a temporary. */
  signals: MountFile[];
  /** Every file in approvals/ that is not a temporary. */
  approvals: MountFile[];
  lateResults: MountFile[];
  locks: LockView[];
  /** The brain's escalation records (brain/escalations/*.json); problem set when one cannot be read. */
  escalations: Array<{ rel: string; name: string; problem: string | null }>;
  /** Other files the rig reads that cannot be used (brain/state.json), with the quarantine folder they would go to. */
  unreadable?: Array<{ rel: string; where: string; problem: string }>;
  /** Why file ages could not be judged on the mount's own clock (no probe file could be written), so were judged on this host's. */
  clockProblem?: string | null;
}
