// The layout of the shared mount. Every path to a file on the mount is built here,
// so no other module can make a path leave its folder.
import { resolve, join, sep } from 'node:path';
import { mkdir } from 'node:fs/promises';

export const TASK_FOLDERS = ['private', 'queue', 'processing', 'complete', 'failed'] as const;
export type TaskFolder = (typeof TASK_FOLDERS)[number];

export interface MountPaths {
  root: string;
  config: string;
  plans: string;
  tasks: string;
  folders: Record<TaskFolder, string>;
  brain: string;
  brainState: string;
  brainLock: string;
  batches: string;
  inbox: string;
  inboxRejected: string;
  gpus: string;
  signals: string;
  approvals: string;
  logs: string;
  decisionLog: string;
  trainingSamples: string;
  /** logs/spool/: one file per writer, merged into the logs by the brain (core/spool.ts). */
  spool: string;
  /** logs/spool/decisions/<who>.<host>.<pid>.log: decision lines of the launcher, the agents and doctor. */
  spoolDecisions: string;
  /** logs/spool/samples/<task>.<pid>.<hex>.jsonl: one training sample per file, written whole by rename. */
  spoolSamples: string;
  /** brain/spool_offsets.json: how far the brain has merged each spool file. */
  spoolOffsets: string;
  quarantine: string;
  sim: string;
  /** One small file per writer naming its last task moves (core/doorbell.ts). */
  doorbells: string;
  /** control/{cancel,retry,pause}/<target>: operator controls (core/controls.ts). */
  control: string;
  /** metrics/<process>.prom: Prometheus text, written whole by each process (brain.prom, agent-<name>.prom). */
  metrics: string;
  /** outbox/<time>-<id>.json: events for people, drained by forge forward (core/outbox.ts). */
  outbox: string;
  /** escalations/{tasks,plans}/: records a planner acts on (brain/escalate.ts); not brain/escalations/, the stuck-task steps. */
  escalations: string;
}

/** Names that may be used as one path segment: no separators, no dot-dot, no leading dash or dot. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export function isSafeName(name: string): boolean {
  return SAFE_NAME.test(name) && !name.includes('..');
}

export function assertSafeName(name: string, what: string): string {
  if (!isSafeName(name)) {
    throw new Error(
      `${what} "${name}" is not a safe name: use letters, digits, '.', '_' and '-', starting with a letter or digit`,
    );
  }
  return name;
}

/** Joins a safe name under a folder, and proves the result stays inside it. */
export function childPath(folder: string, name: string, what = 'name'): string {
  assertSafeName(name, what);
  const full = resolve(folder, name);
  if (!full.startsWith(resolve(folder) + sep)) throw new Error(`${what} "${name}" leaves ${folder}`);
  return full;
}

/** Where the mount is: --shared, else RIG_SHARED, else ./shared of the checkout. */
export function resolveShared(flag: string | undefined, env = process.env, cwd = process.cwd()): string {
  return resolve(cwd, flag ?? env.RIG_SHARED ?? 'shared');
}

export function mountPaths(rootDir: string): MountPaths {
  const root = resolve(rootDir);
  const tasks = join(root, 'tasks');
  const brain = join(root, 'brain');
  const logs = join(root, 'logs');
  return {
    root,
    config: join(root, 'config.json'),
    plans: join(root, 'plans'),
    tasks,
    folders: {
      private: join(brain, 'private_tasks'),
      queue: join(tasks, 'queue'),
      processing: join(tasks, 'processing'),
      complete: join(tasks, 'complete'),
      failed: join(tasks, 'failed'),
    },
    brain,
    brainState: join(brain, 'state.json'),
    brainLock: join(brain, 'brain'),
    batches: join(brain, 'batches'),
    inbox: join(brain, 'inbox'),
    inboxRejected: join(brain, 'inbox', 'rejected'),
    gpus: join(root, 'gpus'),
    signals: join(root, 'signals'),
    approvals: join(root, 'approvals'),
    logs,
    decisionLog: join(logs, 'brain_decisions.log'),
    trainingSamples: join(logs, 'training_samples.jsonl'),
    spool: join(logs, 'spool'),
    spoolDecisions: join(logs, 'spool', 'decisions'),
    spoolSamples: join(logs, 'spool', 'samples'),
    spoolOffsets: join(brain, 'spool_offsets.json'),
    quarantine: join(root, 'quarantine'),
    sim: join(root, 'sim'),
    doorbells: join(root, 'doorbells'),
    control: join(root, 'control'),
    metrics: join(root, 'metrics'),
    outbox: join(root, 'outbox'),
    escalations: join(root, 'escalations'),
  };
}

export function gpuDir(paths: MountPaths, gpuId: number): string {
  return join(paths.gpus, `gpu_${gpuId}`);
}

export function heartbeatPath(paths: MountPaths, gpuId: number): string {
  return join(gpuDir(paths, gpuId), 'heartbeat.json');
}

export function planDir(paths: MountPaths, plan: string): string {
  return childPath(paths.plans, plan, 'plan name');
}

export function batchDir(paths: MountPaths, plan: string, batchId: string): string {
  return childPath(join(planDir(paths, plan), 'batches'), batchId, 'batch id');
}

/** Creates every folder of the layout; safe to call on an existing mount. */
export async function ensureMount(paths: MountPaths): Promise<void> {
  const dirs = [
    paths.plans, ...Object.values(paths.folders), paths.batches, paths.inbox, paths.inboxRejected,
    paths.gpus, paths.signals, paths.approvals, paths.logs, paths.spoolDecisions, paths.spoolSamples, paths.quarantine, paths.doorbells, paths.metrics,
    join(paths.control, 'cancel'), join(paths.control, 'retry'), join(paths.control, 'pause'),
    join(paths.outbox, 'sent'), join(paths.outbox, 'delivering'), join(paths.escalations, 'tasks'), join(paths.escalations, 'plans'),
    join(paths.root, 'requests'),
  ];
  await Promise.all(dirs.map((d) => mkdir(d, { recursive: true })));
}
