// logs/brain_decisions.log: one human-readable line per decision, made for tail -f.
// Fields often come from files on the mount (a signal's task id, a reason quoting a file):
// formatDecision makes each one printable, so one line is always exactly one decision.
// The brain is the log's one writer: every other process (the launcher, an agent, doctor),
// possibly on another host, writes its lines into a spool file of its own, which the brain
// appends to the log (core/spool.ts, brain/logMerge.ts). Appends from several NFS clients to
// one file lose or cut lines.
import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { isoTime } from './clock.ts';
import { errorCode } from './errors.ts';
import { kindOf } from './mountRead.ts';
import { type MountPaths, mountPaths } from './paths.ts';
import { quarantine } from './quarantine.ts';
import { decisionSpoolFile } from './spool.ts';

/**
 * Every verb a process writes, one word per meaning. A verb names what happened, in the
 * imperative (START, GIVE_UP), or the state reached (HEALTHY, APPROVED); the same verb means the
 * same thing whoever writes it. Readers (chaos checks, gpu-check, the bench) match on these.
 */
export const DECISION_VERBS = [
  // Any process.
  'START', //            a batch started running (brain), or a process started (agent, rig); an agent's START names its pid and sandbox
  'BAD_FILE', //         a file this process reads was bad or not a regular file; what was done about it
  // The brain: submissions and batches.
  'RECOVER', //          at start: the active batches read back from the mount
  'TAKEOVER', //         at start: the brain lock taken over from another brain, and why
  'SUBMIT', //           a submission accepted as a new batch
  'REJECT', //           a submission refused (its problems; all of them in inbox/rejected/)
  'INFER', //            a task's task_class inferred from its command, and by which rule
  'SEAL', //             a batch with no seal sealed from the tasks found for it
  'FINISH', //           a batch finished: complete or failed, with its counts
  'ARCHIVE', //          a finished batch archived after a restart interrupted its archiving
  'SUMMARY', //          the batch summary written
  'CLEANUP', //          stale temporary files of interrupted writes removed
  'HOUSEKEEPING', //     a merged log rotated, or old archives, late results, quarantined files or sent events removed (counts, and why)
  'CANCEL', //           a batch or task cancelled (control/cancel/): by the brain, or its worker stopped by an agent
  'RETRY_BY_HAND', //    a person's retry (control/retry/): failed tasks given fresh attempts, the batch reopened
  'RESUME_BATCH', //     forge submit --resume: a failed or cancelled batch reopened in place, its unchanged results kept
  'CACHED', //           on a resume: a completed task kept (input key unchanged, outputs present)
  'RERUN', //            on a resume: a task run again with fresh attempts, and why
  'PAUSE', //            a pause seen (control/pause/): the rig, an agent or a batch
  'RESUME', //           that pause removed
  'SCHEDULE', //         a scheduled plan's run submitted (on time, or once for runs missed while the brain was down)
  'SCHEDULE_SKIP', //    runs of a scheduled plan missed while the brain was down, not run (catch_up: false)
  // The brain: tasks.
  'RELEASE', //          a task moved from private/ to queue/ (dependencies complete)
  'RETRY', //            a failed task back to queue/ for another attempt
  'BACKOFF', //          a failed task waits before its retry (exponential backoff)
  'GIVE_UP', //          a task (or a daemon, for the launcher) not tried again: attempts used up or a failure not worth retrying
  'PARK', //             a task held in private/ until a person approves it
  'APPROVED', //         an approval file found: the parked task released
  'NOT_RUN', //          a task that will not run (a dependency failed)
  'SKIP', //             a task that will not run because a gate before it said no: complete, not failed
  'UNSCHEDULABLE', //    a task that needs more VRAM than any GPU has
  'EXPAND', //           a foreach task expanded into one task per item
  'FOREACH_DONE', //     every item of a foreach task complete
  'FOREACH_FAILED', //   a foreach task that could not expand, or some of whose items failed
  'MISSING', //          a task found in no folder: taken back, rebuilt, or reported
  'LEARN', //            a measured VRAM peak learned for the next batch
  'EVALUATE', //         the brain model scored a task's output
  'EVALUATE_SKIPPED', // the brain model was unavailable: the rules accept the output
  'REQUEUE', //          a complete task back to queue/: its output scored below the bar
  // The brain: agents and rig tasks.
  'UNCLAIMED', //        a task in processing/ with no claim recorded, back to queue/
  'AGENT_DEAD', //       an agent's heartbeat stopped: its tasks returned
  'AGENT_BACK', //       a dead agent's heartbeat advancing again
  'STUCK_ABORT', //      a task running too long: abort signal sent to its agent
  'STUCK_KILL', //       a task still running after the abort's grace: kill signal sent
  'MANUAL', //           a stuck task still running after abort and kill: a person must act
  'LOST', //             a task's attempt lost (its agent or file gone): an infra failure
  'HEAT', //             a model load task (load_llm) queued for an agent
  'COOL', //             a model unload task (unload_llm) queued for an agent
  'HEAT_HOLD', //        llm work waits, and why no agent is heated for it (once per reason)
  'META_DONE', //        a rig task (model load or unload) complete, archived
  'META_FAILED', //      a rig task failed, archived
  'ASK', //              a realtime question (requests/) queued as an llm task ahead of all batch work
  'ANSWER', //           a realtime question answered (or refused, or failed), its answer beside the request
  'ESCALATE', //         a record for a planner written (escalations/): a task that gave up, a plan refused
  'OUTBOX_FAILED', //    an event for people could not be written into outbox/ (the decision log still has it)
  // A GPU agent.
  'HEALTHY', //          every figure of the GPU under its limit
  'CONSTRAINED', //      a resource limit reached (temperature, VRAM, power)
  'UNHEALTHY', //        no telemetry (the driver failed): nothing claimed
  'HOT', //              the agent's model resident on the GPU
  'COLD', //             the agent's model not loaded
  'LLM_CLOSED', //       the LLM runtime answers again (circuit closed)
  'LLM_OPEN', //         the LLM runtime failing: calls stopped for a cool-down (circuit open)
  'LLM_HALF_OPEN', //    one probe call let through to the LLM runtime
  'REFUSED', //          a queued task not claimed or not run (claim policy, seal)
  'CLAIM', //            a task claimed: its attempt, of how many
  'DONE', //             a task's attempt succeeded, and how long it ran
  'CLAIM_LOST', //       a claim won by rename but lost when it was recorded
  'LOAD', //             a model being loaded for a task
  'UNLOAD', //           a resident model unloaded to make room for another (a swap)
  'LOAD_WAIT', //        a model load waiting for another GPU's load
  'TASK_FAILED', //      a task's attempt failed on this agent
  'LATE_RESULT', //      a result that came after its task was taken away: kept aside, not applied
  'ORPHAN', //           a task of a previous life of this agent returned
  'STOP', //             stop signal: finish the running tasks, then exit
  'ABORT', //            abort signal: SIGTERM to a task's worker
  'KILL', //             kill signal: SIGKILL to a task's worker group
  'STOP_REFUSED', //     a stop signal file that is not a signal, quarantined
  'ABORT_REFUSED', //    an abort signal file that is not a signal, quarantined
  'KILL_REFUSED', //     a kill signal file that is not a signal, quarantined
  'ABORT_IGNORED', //    an abort signal for a task not running here
  'KILL_IGNORED', //     a kill signal for a task not running here
  'EXIT', //             the agent exits (after its work, or returning running tasks)
  // The launcher and doctor.
  'RESTART', //          a daemon died and is started again (restart N of 3)
  'STOPPED', //          every process of the rig stopped
  'REPAIR', //           a change doctor made on the mount
  // Adapter versions (agents, forge adapters).
  'ADAPTER', //          an agent moving a model to the adapter version now current, waiting for its llm tasks first, or keeping the old one when the new one fails
  'PROMOTE', //          an adapter version made current for a base model (adapters/current.json)
  'ROLLBACK', //         a base model's adapter rolled back to the version before
] as const;

export type DecisionVerb = (typeof DECISION_VERBS)[number];

export interface Decision {
  /** Who decided: brain, gpu-1, rig. */
  who: string;
  /** What, as one upper-case verb from DECISION_VERBS. */
  what: DecisionVerb;
  task?: string | null;
  batch?: string | null;
  attempt?: { n: number; of: number } | null;
  reason?: string | null;
}

/** Longest who, what, batch or task in a line (characters): safe names are at most 200. */
export const MAX_FIELD_CHARS = 200;
/** Longest reason in a line (characters): a worker's stderr tail or a list of problems fits. */
export const MAX_REASON_CHARS = 2000;

// Characters that end a line or change how the rest of it looks: C0 and C1 controls, the
// Unicode line and paragraph separators, and the bidirectional overrides.
const LINE_BREAK = /\r\n|[\r\n\u2028\u2029\u0085]/g;
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  const n = c.codePointAt(0)!;
  return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

/**
 * Text made safe to print on one line: line breaks shown as ⏎, tabs as spaces, every other
 * control character escaped (\x1b), and cut to `max` characters with an ellipsis.
 */
export function printable(text: string, max = MAX_REASON_CHARS): string {
  const flat = text.replace(LINE_BREAK, '⏎').replace(/\t/g, ' ').replace(CONTROL, escapeChar);
  const chars = [...flat];
  return chars.length <= max ? flat : chars.slice(0, max - 1).join('') + '…';
}

/** One field of the line's head (who, what, batch, task): printable, and without spaces, which separate the fields. */
function token(text: string): string {
  return printable(text, MAX_FIELD_CHARS).replace(/\s/g, '␠');
}

export function formatDecision(d: Decision, nowMs: number): string {
  const parts = [isoTime(nowMs), token(d.who).padEnd(6), token(d.what)];
  if (d.batch) parts.push(`batch=${token(d.batch)}`);
  if (d.task) parts.push(`task=${token(d.task)}`);
  if (d.attempt) parts.push(`attempt ${d.attempt.n} of ${d.attempt.of}`);
  let line = parts.join(' ');
  // A multi-line reason (a stderr tail) reads as one line with its breaks marked.
  if (d.reason) line += ` — ${printable(d.reason.trim().replace(/[ \t]*(\r\n|[\r\n])[ \t]*/g, '\n'))}`;
  return line;
}

/** One line of the log read back, as formatDecision wrote it. */
export interface DecisionLine {
  t: number;
  who: string;
  /** As written: a line from another version of Forge may carry a verb DecisionVerb lacks. */
  what: string;
  task: string | null;
  text: string;
}

/** The time, who, what and task of a line formatDecision wrote; null for any other line. */
export function parseDecisionLine(line: string): DecisionLine | null {
  const m = /^(\S+) (\S+)\s+(\S+)((?: (?:batch|task)=\S+)*)/.exec(line);
  if (!m) return null;
  const t = Date.parse(m[1]!);
  if (Number.isNaN(t)) return null;
  const task = /task=(\S+)/.exec(m[4] ?? '')?.[1] ?? null;
  return { t, who: m[2]!, what: m[3]!, task, text: line };
}

// O_NONBLOCK: a FIFO in the log's place fails the open (no reader) instead of blocking the
// writer for ever; O_NOFOLLOW: a symlink there is not followed to some other file.
const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK | constants.O_NOFOLLOW;

/** The append in progress per file, in this process: the next one starts when it ends. */
const appending = new Map<string, Promise<void>>();

/**
 * Appends `text` (whole lines) to a log that only this process writes: the brain's
 * logs/brain_decisions.log and logs/training_samples.jsonl, or a writer's own spool file.
 * Appends to one file from this process run one after another, so a long text that takes
 * several write calls is never interleaved with another line. Anything but a regular file in
 * the log's place (a FIFO, a directory, a symlink) is moved to quarantine/logs/ once and the
 * log started again; a missing folder (a mount made before it existed) is made.
 */
export function appendToOwnLog(paths: MountPaths, file: string, text: string): Promise<void> {
  const previous = appending.get(file) ?? Promise.resolve();
  const mine = previous.then(() => appendOnce(paths, file, text, { quarantined: false, madeDir: false, reopened: false }));
  const settled = mine.catch(() => {});
  appending.set(file, settled);
  void settled.then(() => {
    if (appending.get(file) === settled) appending.delete(file);
  });
  return mine;
}

async function appendOnce(paths: MountPaths, file: string, text: string, tried: { quarantined: boolean; madeDir: boolean; reopened: boolean }): Promise<void> {
  let handle;
  let kind: string | null = null;
  try {
    handle = await open(file, APPEND, 0o644);
    const st = await handle.stat();
    if (!st.isFile()) kind = kindOf(st.mode);
    else await handle.appendFile(text);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT' && !handle && !tried.madeDir) {
      await mkdir(dirname(file), { recursive: true });
      return appendOnce(paths, file, text, { ...tried, madeDir: true });
    }
    // ESTALE: another NFS client removed the file after the open (the brain retires an idle
    // spool file): the open creates it again.
    if (code === 'ESTALE' && !tried.reopened) return appendOnce(paths, file, text, { ...tried, reopened: true });
    if (tried.quarantined || (code !== 'ENXIO' && code !== 'EISDIR' && code !== 'ELOOP')) throw err;
    kind = code === 'ENXIO' ? 'a FIFO' : code === 'EISDIR' ? 'a directory' : 'a symlink';
  } finally {
    await handle?.close().catch(() => {});
  }
  if (kind === null) return;
  if (tried.quarantined) throw new Error(`${file} is ${kind}, not a regular file: decisions cannot be logged`);
  await quarantine(paths, 'logs', file, basename(file), `${file} was ${kind}, not a regular file: moved aside and the log started again`);
  await appendOnce(paths, file, text, { ...tried, quarantined: true });
}

export class DecisionLog {
  /** Where this log's lines go: logs/brain_decisions.log, or the writer's spool file. */
  readonly file: string;
  private readonly now: () => number;
  private readonly paths: MountPaths;

  /**
   * Writes straight into `file` (<shared>/logs/brain_decisions.log): the brain's mode, as the
   * log's one writer. Every other process uses DecisionLog.spool.
   */
  constructor(file: string, now: () => number = Date.now, paths: MountPaths = mountPaths(dirname(dirname(file)))) {
    this.file = file;
    this.now = now;
    this.paths = paths;
  }

  /**
   * A writer other than the brain (the launcher, an agent, doctor): its lines go to its own
   * file, logs/spool/decisions/<who>.<host>.<pid>.log, and reach logs/brain_decisions.log
   * when the brain merges them.
   */
  static spool(paths: MountPaths, who: string, now: () => number = Date.now): DecisionLog {
    return new DecisionLog(decisionSpoolFile(paths, who), now, paths);
  }

  /** One append per line, after this process's previous one to the same file. */
  async write(d: Decision): Promise<string> {
    const line = formatDecision(d, this.now());
    await appendToOwnLog(this.paths, this.file, line + '\n');
    return line;
  }
}
