// The I/O around monitor.ts: reads heartbeats and processing/, keeps the brain's memory of
// them, and carries out the actions (return a dead agent's tasks, abort/kill signals,
// manual-intervention records).
import { mkdir, unlink } from 'node:fs/promises';
import { relative } from 'node:path';
import { BadFileNotes } from '../core/badFiles.ts';
import type { Clock } from '../core/clock.ts';
import { isoTime } from '../core/clock.ts';
import type { Config } from '../core/config.ts';
import type { DecisionLog, DecisionVerb } from '../core/decisionLog.ts';
import { errorMessage } from '../core/errors.ts';
import { type Heartbeat, readHeartbeatFile } from '../core/heartbeat.ts';
import type { JsonFileRead } from '../core/mountJson.ts';
import { ReadByChange } from '../core/readByChange.ts';
import { TaskCache } from '../core/taskCache.ts';
import { childPath, heartbeatPath, type MountPaths } from '../core/paths.ts';
import { writeOwnJson } from '../core/quarantine.ts';
import { signalPath, writeSignal } from '../core/signals.ts';
import type { TaskStore } from '../core/store.ts';
import { escalationsDir, interventionsDir, readEscalations } from '../core/stuckRecords.ts';
import { closeAttempt, lostResult } from '../core/attempt.ts';
import { type Task, type WorkerResult, holdsOpenClaim, sameClaim } from '../core/task.ts';
import { existsSync } from 'node:fs';
import { announce } from './escalate.ts';
import { type ConstrainedSpell, decideConstrained } from './constrainedWatch.ts';
import { compactTime } from '../core/outbox.ts';
import { type AgentWatch, type Escalation, type MonitorAction, decideMonitor, observeHeartbeats } from './monitor.ts';

export { escalationsDir, interventionsDir } from '../core/stuckRecords.ts';

export class AgentWatcher {
  private watches = new Map<string, AgentWatch>();
  private readonly dead = new Set<string>();
  private readonly firstSeen = new Map<string, number>();
  private constrained = new Map<string, ConstrainedSpell>();
  /** When a check first saw each processing file without a claim of its own (id#attempt), brain clock. */
  private readonly unclaimedSince = new Map<string, number>();
  private readonly paths: MountPaths;
  private readonly config: Config;
  private readonly clock: Clock;
  private readonly store: TaskStore;
  private readonly log: DecisionLog;
  private readonly sayLine: (line: string) => void;
  private readonly badFiles = new BadFileNotes();
  /** Each agent's last heartbeat that read well, and when (brain clock), by GPU id. */
  private readonly lastGood = new Map<number, { beat: Heartbeat; at: number }>();
  /** GPU ids whose heartbeat could not be read for now at the last pass: read once, not again and again, until it reads. */
  private readonly failingBeats = new Set<number>();
  private readonly readBeat: typeof readHeartbeatFile;
  /** Each heartbeat's last good read, by GPU id: one whose stat shows no new version is not read again. */
  private readonly beatReads: ReadByChange<Heartbeat>;
  /**
   * processing/ read by change (taskCache.ts), shared with the brain's scan: the check runs every
   * second and would otherwise read and parse every running task each time.
   */
  readonly processingReads: TaskCache;

  constructor(o: {
    paths: MountPaths; config: Config; clock: Clock; store: TaskStore; log: DecisionLog; say?: (line: string) => void;
    /** How a heartbeat is read (tests inject failures). */
    readHeartbeat?: typeof readHeartbeatFile;
    /** A heartbeat file's version (inode, size, times), or null; default one lstat (tests inject one). */
    versionOf?: (path: string) => Promise<string | null>;
  }) {
    this.paths = o.paths;
    this.config = o.config;
    this.clock = o.clock;
    this.store = o.store;
    this.log = o.log;
    this.sayLine = o.say ?? ((l) => process.stderr.write(l + '\n'));
    this.readBeat = o.readHeartbeat ?? readHeartbeatFile;
    // Read in full at least once per heartbeat period (external_s) and four times per
    // heartbeat_stale_s, whatever a stat says: a network mount's stat may answer from its cache
    // for a minute, and a seq advance seen that late must not make a live agent look dead.
    const { external_s } = o.config.cycles;
    const recheckS = Math.min(external_s, o.config.timeouts.heartbeat_stale_s / 4);
    this.beatReads = new ReadByChange({ maxAgeMs: recheckS * 1000, now: () => o.clock.now(), stat: o.versionOf });
    this.processingReads = new TaskCache(o.store, 'processing', { maxAgeMs: recheckS * 1000, now: () => o.clock.now(), stat: o.versionOf });
  }

  private beats: Heartbeat[] = [];
  private maxBudget: number | null = null;

  /** Heartbeats of the agents the brain holds alive, as of the last check. */
  aliveBeats(): Heartbeat[] {
    return this.beats.filter((b) => !this.dead.has(b.name) && !b.stopping);
  }

  /** The largest VRAM budget any agent has reported (MB); null until one has. */
  maxBudgetMb(): number | null {
    return this.maxBudget;
  }

  /** Agents the brain currently holds to be dead. */
  deadAgents(): ReadonlySet<string> {
    return this.dead;
  }

  async check(): Promise<void> {
    const now = this.clock.now();
    const beats = await this.readBeats(now);
    this.watches = observeHeartbeats(this.watches, beats, now);
    this.beats = beats;
    await this.tellConstrained(beats, now);
    for (const b of beats) {
      if (!b.vram_total_mb) continue;
      const budget = Math.floor((b.vram_total_mb * this.config.resource_limits.vram_budget_percent) / 100);
      this.maxBudget = Math.max(this.maxBudget ?? 0, budget);
    }
    const { processing, notReady } = await this.readProcessing();
    const keys = new Set<string>();
    for (const t of processing) {
      const key = `${t.id}#${t.attempt}`;
      keys.add(key);
      if (!this.firstSeen.has(key)) this.firstSeen.set(key, now);
    }
    // A file that read torn this time is still there: its timings are kept for the next look.
    const kept = (k: string) => keys.has(k) || notReady.has(k.slice(0, k.lastIndexOf('#')));
    for (const k of this.firstSeen.keys()) if (!kept(k)) this.firstSeen.delete(k);
    // A claim takes the queued file into processing/ by one rename and then writes the new
    // token (store.claimRecorded). A file still without its token (attempt 0, or an attempt
    // already recorded as over) after heartbeat_stale_s lost its claimer between the two (its
    // taken file put back by a lister): nothing ran; release it again.
    const staleMs = this.config.timeouts.heartbeat_stale_s * 1000;
    // Timed from the first check that saw the file unclaimed, not from firstSeen: that may date
    // from the task's previous stay in processing/ under the same attempt number, and would
    // release a claim that is milliseconds old.
    const unclaimedNow = new Set<string>();
    for (const t of processing) {
      if (holdsOpenClaim(t)) continue;
      const key = `${t.id}#${t.attempt}`;
      unclaimedNow.add(key);
      const since = this.unclaimedSince.get(key);
      if (since === undefined) this.unclaimedSince.set(key, now);
      if (since === undefined || now - since < staleMs) continue;
      this.unclaimedSince.delete(key);
      const r = await this.store.replace('processing', t.id, (cur) => (sameClaim(cur, t) ? cur : null), 'queue');
      if (r.ok) await this.say('UNCLAIMED', t.id, `in processing/ for ${Math.round((now - since) / 1000)} s without a claim of its own: its claimer died between the claim's rename and its write; back to queue/`);
    }
    for (const k of this.unclaimedSince.keys()) if (!unclaimedNow.has(k) && !notReady.has(k.slice(0, k.lastIndexOf('#')))) this.unclaimedSince.delete(k);
    const escalations = await this.readEscalations();
    const actions = decideMonitor(
      { watches: this.watches, dead: this.dead, beats, processing, firstSeen: this.firstSeen, escalations, agentNames: this.config.gpus.map((g) => g.name), now },
      this.config,
    );
    const byId = new Map(processing.map((t) => [t.id, t]));
    for (const a of actions) {
      // One action that fails (a file in the way, a full disk) must not stop the others.
      try {
        await this.apply(a, byId, escalations, now);
      } catch (err) {
        this.sayLine(`brain: ${a.kind}${'task' in a ? ` of ${a.task}` : ''} failed: ${errorMessage(err)}`);
      }
    }
  }

  /** Carries out one of the monitor's actions. */
  private async apply(a: MonitorAction, byId: Map<string, Task>, escalations: Map<string, Escalation>, now: number): Promise<void> {
    switch (a.kind) {
      case 'agent_dead': {
        if (!this.dead.has(a.agent)) {
          this.dead.add(a.agent);
          await this.say('AGENT_DEAD', null, `${a.agent}: ${a.reason}; returning ${a.tasks.length} task(s)`);
          await this.tell({ type: 'agent_dead', key: [a.agent, compactTime(now)], time: now, agent: a.agent, message: `agent ${a.agent} presumed dead: ${a.reason}; ${a.tasks.length} task(s) returned for retry` });
        }
        for (const id of a.tasks) await this.returnTask(byId.get(id)!, a.agent, `agent ${a.agent} presumed dead (${a.reason})`);
        break;
      }
      case 'agent_back':
        this.dead.delete(a.agent);
        await this.say('AGENT_BACK', null, `${a.agent}: heartbeat advancing again`);
        break;
      case 'abort':
      case 'kill': {
        // One abort/kill file per agent at a time: wait while an earlier one is unread.
        if (existsSync(signalPath(this.paths, a.agent, a.kind))) break;
        await writeSignal(this.paths, a.agent, a.kind, a.task);
        const t = byId.get(a.task)!;
        const prev = escalations.get(a.task);
        const e: Escalation = prev && prev.attempt === t.attempt ? { ...prev } : { task_id: a.task, attempt: t.attempt, agent: a.agent, abort_at: null, kill_at: null, manual_at: null };
        if (a.kind === 'abort') e.abort_at = now;
        else e.kill_at = now;
        await mkdir(escalationsDir(this.paths), { recursive: true });
        await this.writeOwn('escalations', childPath(escalationsDir(this.paths), `${a.task}.json`, 'task id'), e);
        await this.say(a.kind === 'abort' ? 'STUCK_ABORT' : 'STUCK_KILL', a.task, `${a.reason}; ${a.kind} signal to ${a.agent}`);
        break;
      }
      case 'manual': {
        const prev = escalations.get(a.task)!;
        await this.writeOwn('escalations', childPath(escalationsDir(this.paths), `${a.task}.json`, 'task id'), { ...prev, manual_at: now });
        await mkdir(interventionsDir(this.paths), { recursive: true });
        await this.writeOwn('interventions', childPath(interventionsDir(this.paths), `${a.task}.json`, 'task id'), {
          task_id: a.task, agent: a.agent, since: isoTime(now), reason: a.reason,
        });
        await this.say('MANUAL', a.task, a.reason);
        await this.tell({ type: 'intervention_needed', key: [a.task, `a${prev.attempt}`], time: now, task: a.task, agent: a.agent, message: `task ${a.task} on ${a.agent} is stuck and did not stop after abort and kill: ${a.reason}` });
        break;
      }
      case 'clear_escalation':
        await unlink(childPath(escalationsDir(this.paths), `${a.task}.json`, 'task id')).catch(() => {});
        await unlink(childPath(interventionsDir(this.paths), `${a.task}.json`, 'task id')).catch(() => {});
        break;
    }
  }

  /** Returns a dead agent's task: the attempt recorded as lost (infra), then one rename to failed/ for the retry path. */
  private async returnTask(t: Task, agent: string, reason: string): Promise<void> {
    const now = isoTime(this.clock.now());
    const result = lostResult(t, t.attempt, reason, t.claimed_at ?? now, now);
    const r = await this.store.replace('processing', t.id, (cur) =>
      // An attempt already recorded is over: the file is another agent's claim between its rename and its write.
      cur.claimed_by !== agent || !sameClaim(cur, t) || !holdsOpenClaim(cur) ? null : closeAttempt(cur, result, { agent }),
      'failed');
    if (r.ok) await this.say('LOST', t.id, reason);
  }

  /**
   * The configured agents' heartbeats that read well. One that is garbage (a directory, a
   * FIFO, not a heartbeat) counts as absent and is reported once in the decision log.
   *
   * One that cannot be read for now (ESTALE, EIO, or gone from view after it was seen: the
   * mount's blips, each read again a few times first) is no verdict: the agent's last good
   * heartbeat stands in until a pass reads it again. Its seq does not move, so an agent whose
   * heartbeat stays unreadable is judged dead after heartbeat_stale_s like any silent one,
   * and the stand-in is dropped then.
   */
  private async readBeats(now: number): Promise<Heartbeat[]> {
    const staleMs = this.config.timeouts.heartbeat_stale_s * 1000;
    // Read at once, so the retries of one failing file do not add up over the agents; one that
    // already failed at the last pass is read once, so a lasting failure does not slow every pass.
    const reads = await Promise.all(this.config.gpus.map((g) => this.readBeatByChange(g.id)));
    const beats: Heartbeat[] = [];
    for (const [i, g] of this.config.gpus.entries()) {
      const rel = relative(this.paths.root, heartbeatPath(this.paths, g.id));
      const r = reads[i]!;
      this.failingBeats.delete(g.id);
      if (r.ok) {
        beats.push(r.value);
        this.lastGood.set(g.id, { beat: r.value, at: now });
        this.badFiles.clear(rel);
        continue;
      }
      if (r.missing || r.transient) {
        const last = this.lastGood.get(g.id);
        if (last && now - last.at < staleMs) beats.push(last.beat);
        else this.lastGood.delete(g.id);
        if (r.transient || last) this.failingBeats.add(g.id);
        if (r.missing) this.badFiles.clear(rel);
        continue;
      }
      this.lastGood.delete(g.id);
      await this.reportBad(rel, r.problem, `treated as no heartbeat; ${g.name} moves it aside on its next write`);
    }
    return beats;
  }

  /**
   * One heartbeat: its last good read when its stat shows the same version (core/readByChange.ts),
   * else read. A heartbeat that failed at the last pass is read once, without retries.
   */
  private async readBeatByChange(id: number): Promise<JsonFileRead<Heartbeat>> {
    const key = String(id);
    if (this.failingBeats.has(id)) {
      this.beatReads.forget(key);
      return this.readBeat(this.paths, id, { giveUpMs: 0 });
    }
    const look = await this.beatReads.look(key, heartbeatPath(this.paths, id));
    if (!look.changed) return { ok: true, value: look.value };
    const r = await this.readBeat(this.paths, id, { missingToo: this.lastGood.has(id) });
    if (r.ok) this.beatReads.noteRead(key, look.version, r.value);
    else this.beatReads.forget(key);
    return r;
  }

  /** The tasks in processing/ that read well, and the ids of those that did not this time (torn, not yet given up on). */
  private async readProcessing(): Promise<{ processing: Task[]; notReady: Set<string> }> {
    const processing: Task[] = [];
    const notReady = new Set<string>();
    const ids = await this.store.list('processing');
    this.processingReads.keepOnly(ids);
    for (const id of ids) {
      const r = await this.processingReads.outcome(id);
      if (r.ok) processing.push(r.task);
      else if (r.reason === 'not_ready') notReady.add(id);
    }
    return { processing, notReady };
  }

  /** The brain's escalation records; one it cannot read is skipped, reported once, and left to the doctor. */
  private async readEscalations(): Promise<Map<string, Escalation>> {
    const out = new Map<string, Escalation>();
    const { records, bad } = await readEscalations(this.paths);
    for (const e of records) out.set(e.task_id, e);
    for (const b of bad) await this.reportBad(b.rel, b.problem, 'skipped (npm run doctor moves it to quarantine/)');
    return out;
  }

  private async reportBad(rel: string, problem: string, consequence: string): Promise<void> {
    if (this.badFiles.first(rel, problem)) await this.say('BAD_FILE', null, `${rel}: ${problem}; ${consequence}`);
  }

  /** Writes one of the brain's own records; something in its place that blocks the write is moved aside and said so. */
  private async writeOwn(where: string, file: string, value: unknown): Promise<void> {
    const moved = await writeOwnJson(this.paths, where, file, value);
    if (moved) await this.say('BAD_FILE', null, moved);
  }

  /** An agent constrained longer than outbox.constrained_after_s: told once per stretch. */
  private async tellConstrained(beats: Heartbeat[], now: number): Promise<void> {
    const d = decideConstrained(this.constrained, beats, now, this.config.outbox.constrained_after_s * 1000);
    this.constrained = d.spells;
    for (const c of d.alerts) {
      const mins = Math.round((now - c.since) / 60_000);
      await this.tell({ type: 'gpu_constrained', key: [c.agent, compactTime(c.since)], time: now, agent: c.agent, message: `agent ${c.agent} constrained for ${mins} min: ${c.reasons.join(', ') || 'no reason given'}; it takes only cpu and meta tasks meanwhile` });
    }
  }

  private tell(e: Parameters<typeof announce>[1]): Promise<void> {
    return announce(this.paths, e, (problem) => this.say('OUTBOX_FAILED', e.task ?? null, problem));
  }

  private say(what: DecisionVerb, task: string | null, reason: string): Promise<string> {
    return this.log.write({ who: 'brain', what, task, reason });
  }
}
