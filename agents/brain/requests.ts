// The I/O around askDecide.ts: each pass the brain takes new questions from requests/, checks
// them and puts each one's llm task straight into queue/ (sealed first, the doorbell rung by the
// store), answers those whose task has ended and archives the task, and, as housekeeping,
// removes old requests with their answers. Nothing of it is held only in memory: a restarted
// brain finds a request's task in the folders (or the archive) and does not queue it twice, and
// finds ended tasks in complete/ and failed/ and answers them.
import { lstat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { DecisionLog } from '../core/decisionLog.ts';
import { errorMessage } from '../core/errors.ts';
import { ObservedAge } from '../core/observedAge.ts';
import type { MountPaths, TaskFolder } from '../core/paths.ts';
import { archiveDir, isInAFolder } from '../core/placeTask.ts';
import { quarantine } from '../core/quarantine.ts';
import {
  ASK_BATCH, type AskAnswer, type AskRequest, answerPath, listRequests, readAnswer, readRequest, requestIdProblem, requestPath, requestsDir, writeAnswer,
} from '../core/request.ts';
import { type SealRecord, addToSeal, readSeal, writeSeal } from '../core/seal.ts';
import type { TaskStore } from '../core/store.ts';
import { type TaskInput, taskId } from '../core/task.ts';
import { UnreadableWatch, fileVersion, statsVersion } from '../core/unreadable.ts';
import { decideFinished, decideRequest, planRequestCleanup, refusalAnswer } from './askDecide.ts';
import type { TaskView } from './decide.ts';
import type { AgedSeen } from './housekeepingPlan.ts';

/** Seal entries kept for the ask pseudo-batch: the newest, as for the rig's own tasks. */
const SEAL_KEEP = 500;

export interface AskDeskOptions {
  paths: MountPaths;
  config: Config;
  clock: Clock;
  store: TaskStore;
  log: DecisionLog;
  say: (line: string) => void;
}

export class AskDesk {
  private readonly o: AskDeskOptions;
  /** Requests queued by this brain and not answered yet, and when each was asked. */
  private readonly queued = new Map<string, string | null>();
  /** Requests that do not parse yet: someone may still be writing one by hand. */
  private readonly torn: UnreadableWatch;
  private readonly answerAges: ObservedAge;
  private seal: SealRecord | null = null;
  private lastCleanup: number;
  /** The ask tasks not ended (queue/, processing/): llm demand for the heat planner. */
  readonly open = new Map<string, TaskView>();

  constructor(o: AskDeskOptions) {
    this.o = o;
    this.torn = new UnreadableWatch(o.config.timeouts.unreadable_grace_s * 1000, () => o.clock.now());
    this.answerAges = new ObservedAge(() => o.clock.now());
    this.lastCleanup = o.clock.now();
  }

  /** One pass: answer the ended tasks, take new requests, and now and then remove old ones. `tasks`: where each ask task is (scan.ts). */
  async step(tasks: ReadonlyMap<string, TaskFolder>): Promise<void> {
    for (const [id, folder] of tasks) {
      if (folder === 'complete' || folder === 'failed') await this.finish(id, folder).catch((err: unknown) => this.o.say(`brain: answering ${id} failed: ${errorMessage(err)}`));
    }
    await this.trackOpen(tasks);
    await this.intake();
    await this.maybeCleanup();
  }

  private async trackOpen(tasks: ReadonlyMap<string, TaskFolder>): Promise<void> {
    for (const id of this.open.keys()) if (!tasks.has(id)) this.open.delete(id);
    for (const [id, folder] of tasks) {
      if (folder !== 'queue' && folder !== 'processing') continue;
      const had = this.open.get(id);
      if (had?.folder === folder) continue;
      const r = await this.o.store.read(folder, id);
      if (r.ok) this.open.set(id, { folder, task: r.task });
    }
  }

  private async finish(id: string, folder: 'complete' | 'failed'): Promise<void> {
    const { store, config, clock, paths } = this.o;
    const r = await store.read(folder, id);
    if (!r.ok) return; // torn or gone for now: the next pass looks again
    const t = r.task;
    const d = decideFinished(t, folder, config, clock.now(), this.queued.get(t.name) ?? null);
    if (d.kind === 'retry') {
      if (await store.move(id, 'failed', 'queue')) await this.note('RETRY', id, `realtime question: ${d.reason}`, d.attempt);
      return;
    }
    let answer = d.answer;
    if (answer.asked_at === null) answer = { ...answer, asked_at: await this.askedAt(t.name) };
    // The answer first: a brain killed before the archive answers again from the same task.
    await writeAnswer(paths, answer);
    await store.archive(id, folder, ASK_BATCH).catch(() => false);
    this.queued.delete(t.name);
    const tokens = answer.output_tokens !== null ? `, ${answer.output_tokens} tokens` : '';
    await this.note('ANSWER', id, answer.ok ? `answered by ${answer.agent ?? '?'} with ${answer.model}${tokens}` : `failed: ${answer.reason}`);
  }

  /** The request's asked_at, for an answer made by a brain that did not queue it. */
  private async askedAt(id: string): Promise<string | null> {
    const r = await readRequest(requestPath(this.o.paths, id));
    return r.ok ? (r.value.asked_at ?? null) : null;
  }

  /** New requests: each one checked, then queued or refused. */
  private async intake(): Promise<void> {
    const { requests, answers } = await listRequests(this.o.paths);
    const dir = requestsDir(this.o.paths);
    this.torn.keepOnly('', new Set(requests.map((id) => join(dir, `${id}.json`))));
    // A request removed by hand while its task runs is still answered (finish); otherwise the map never outgrows requests/.
    const listed = new Set(requests);
    for (const id of this.queued.keys()) if (!listed.has(id) && !this.open.has(taskId(ASK_BATCH, id))) this.queued.delete(id);
    for (const id of requests) {
      if (answers.has(id) || this.queued.has(id)) continue;
      await this.take(id).catch((err: unknown) => this.o.say(`brain: request ${id} not taken: ${errorMessage(err)}`));
    }
  }

  private async take(id: string): Promise<void> {
    const { paths, config, clock } = this.o;
    const file = join(requestsDir(paths), `${id}.json`);
    const idProblem = requestIdProblem(id);
    if (idProblem) return this.refuse(id, file, null, `${idProblem}; name the file requests/<id>.json with a safe id`, false);
    // A brain that queued it and died: its task is in a folder or the archive.
    if (await isInAFolder(paths, taskId(ASK_BATCH, id))) {
      this.queued.set(id, null);
      return;
    }
    const read = await readRequest(file, { missingToo: true });
    if (!read.ok) {
      if (read.missing) return;
      if (read.why === 'not_json' || read.why === 'unreadable') {
        // Perhaps half-written (cat > requests/x.json): refused only once it has stayed so for the grace.
        const version = await fileVersion(file);
        if (version !== null && !this.torn.note(file, version).due) return;
      }
      this.torn.forget(file);
      return this.refuse(id, file, null, `requests/${id}.json: ${read.problem}`, true);
    }
    this.torn.forget(file);
    const d = decideRequest(id, read.value, config, requestsDir(paths), clock.now());
    if (d.kind === 'refuse') return this.refuse(id, file, read.value, d.reason, true);
    await this.queue(d.task, read.value);
  }

  private async queue(task: TaskInput, req: AskRequest): Promise<void> {
    // The seal first: an agent runs no task the brain has not sealed.
    const seal = addToSeal(this.seal ?? (await readSeal(this.o.paths, ASK_BATCH)), ASK_BATCH, requestsDir(this.o.paths), [task]);
    const ids = Object.keys(seal.tasks);
    for (const old of ids.slice(0, Math.max(0, ids.length - SEAL_KEEP))) delete seal.tasks[old];
    await writeSeal(this.o.paths, seal);
    this.seal = seal;
    const written = await this.o.store.write('queue', task);
    this.queued.set(task.name, req.asked_at ?? null);
    this.open.set(written.id, { folder: 'queue', task: written });
    await this.note('ASK', written.id, `model ${written.model}, ${req.prompt.length} characters of prompt, priority 0 (ahead of all batch work)`);
  }

  /** The reason as the answer beside the request (when its id can name one), and the request moved to quarantine/requests/. */
  private async refuse(id: string, file: string, req: AskRequest | null, reason: string, answerable: boolean): Promise<void> {
    const { paths, clock } = this.o;
    if (answerable) await writeAnswer(paths, refusalAnswer(id, reason, req, clock.now()));
    await quarantine(paths, 'requests', file, `${id}.json`, reason);
    await this.note('ANSWER', taskId(ASK_BATCH, id.slice(0, 100).replace(/[^A-Za-z0-9._-]/g, '_')), `refused: ${reason}`);
  }

  private async note(what: 'ASK' | 'ANSWER' | 'RETRY' | 'HOUSEKEEPING', task: string | null, reason: string, attempt?: { n: number; of: number }): Promise<void> {
    await this.o.log.write({ who: 'brain', what, task, reason, attempt: attempt ?? null });
  }

  /** As housekeeping: at most every housekeeping.interval_s, answers older than housekeeping.requests_keep_hours go with their request, output and task. */
  private async maybeCleanup(): Promise<void> {
    const { config, clock } = this.o;
    const hk = config.housekeeping;
    const now = clock.now();
    if (!hk.enabled || now - this.lastCleanup < hk.interval_s * 1000) return;
    this.lastCleanup = now;
    await this.cleanup().catch((err: unknown) => this.o.say(`brain: removing old requests failed: ${errorMessage(err)}`));
  }

  /** Removes the answered requests older than housekeeping.requests_keep_hours; returns their ids. */
  async cleanup(): Promise<string[]> {
    const { paths, clock, config } = this.o;
    const { answers } = await listRequests(paths);
    const seen: AgedSeen[] = [];
    for (const id of answers) {
      if (requestIdProblem(id)) continue; // not a name the brain answers under: a foreign file, left alone
      const r = await readAnswer(paths, id);
      const time = r.ok ? Date.parse(r.value.answered_at) : NaN;
      const st = await lstat(answerPath(paths, id)).catch(() => null);
      const seenMs = st ? this.answerAges.observe(id, statsVersion(st)) : 0;
      seen.push({ name: id, time: Number.isNaN(time) ? null : time, seenMs });
    }
    this.answerAges.keepOnly('', answers);
    const old = planRequestCleanup(seen, clock.now(), config.housekeeping.requests_keep_hours);
    for (const id of old) {
      // The answer last: a request without its answer would be asked again.
      for (const f of [requestPath(paths, id), join(requestsDir(paths), 'outputs', `${id}.json`), join(archiveDir(paths, ASK_BATCH), `${taskId(ASK_BATCH, id)}.json`), answerPath(paths, id)]) {
        await unlink(f).catch(() => {});
      }
      this.answerAges.forget(id);
    }
    if (old.length) await this.note('HOUSEKEEPING', null, `removed ${old.length} answered request(s) from requests/ older than housekeeping.requests_keep_hours (${config.housekeeping.requests_keep_hours} h): ${old.slice(0, 10).join(', ')}${old.length > 10 ? ` and ${old.length - 10} more` : ''}`);
    return old;
  }
}

export type { AskAnswer };
