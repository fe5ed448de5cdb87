// The chaos checker: a pure function from what a trial left on the mount (snapshot.ts) and
// the trial's own log of kills, garbage and process lives (events.ts) to a verdict. No I/O,
// no clock: the same inputs always give the same verdict, so a failure can be studied from a
// kept mount, and the rules are tested with hand-made inputs.
//
// The rules, per batch and per task:
// - every batch reached `complete` (the plan has no task that fails for good);
// - every task of the batch (foreach children included) is in tasks/archive/<batch>/ exactly
//   once, in no live folder, and ended `success`; anything else is a lost task;
// - what really ran (runs.log) agrees with what the rig recorded (the task's attempts):
//   every run belongs to a recorded attempt, no attempt ran twice, the attempt recorded as
//   the success ran to its END ok, a run killed before its END is recorded as an infra
//   failure. A run beyond the successful one is explained by its attempt's record; a run
//   with no record of its own, or a second run of one attempt, is an unexplained duplicate;
// - no run outlived the rig's decision that it was over (a stray run): once an agent has
//   recorded an attempt as ended (worker died, orphan returned) or has been restarted, the
//   processes of that attempt must be gone. A run of an agent presumed dead while it was in
//   fact alive (its result lands in tasks/late_results/) is not a stray: nobody could stop it;
// - nothing is left in processing/ or any other live folder;
// - every garbage file was quarantined with a .why.txt, rejected (inbox) or, by design,
//   ignored (temporary names; non-JSON names in the inbox), and nothing else was quarantined;
// - no brain or agent exited by itself (a crash).
import { isTempName } from '../../agents/core/atomic.ts';
import type { AttemptRecord, Task } from '../../agents/core/task.ts';
import type { ChaosEvent, GarbageEvent, KillEvent, KillTarget } from './events.ts';
import { type Recovery, recoveryOf } from './recovery.ts';
import { type MountSnapshot, type Run, assembleRuns } from './snapshot.ts';

export type { Recovery };
type StartEvent = Extract<ChaosEvent, { kind: 'start' }>;

export interface ExpectedBatch {
  id: string;
  plan: string;
  /** Task names the batch must end with (plan.ts: expectedTaskNames). */
  names: string[];
}

export interface TrialInput {
  snapshot: MountSnapshot;
  events: ChaosEvent[];
  expected: ExpectedBatch[];
  /** Pids of runs with a START and no END that were still alive when the trial ended. */
  aliveRunPids: number[];
  finishedInTime: boolean;
  /** Where each process's output went, for the problem texts. */
  logDir: string;
}

export interface TrialVerdict {
  ok: boolean;
  problems: string[];
  tasksChecked: number;
  tasksLost: number;
  unexplainedDuplicates: number;
  strayRuns: number;
  /** Runs beyond the successful one, by how the rig recorded them. */
  extraRuns: { killed: number; failedOnPurpose: number; late: number; resultLost: number };
  kills: Record<KillTarget, number>;
  /** Brain kills delivered at a file operation (--brain-ops), and the furthest one into a life. */
  brainOpKills: number;
  deepestBrainOp: number;
  crashes: number;
  garbage: { dropped: number; quarantined: number; rejected: number; ignored: number; unseen: number };
  recoveries: Recovery[];
  longestRecoveryMs: number;
  /** Temporary files left by writers the trial killed (harmless; removed after 10 minutes). */
  leftoverTemps: number;
}

/** How quarantine names a file (core/store.ts): `<ms>-<pid>-<name with unsafe characters replaced>`. */
export function quarantinedAs(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
}

/** What the rig should do with a garbage file, by design. */
export function garbageFate(g: Pick<GarbageEvent, 'folder' | 'garbage' | 'name'>): 'quarantine' | 'reject' | 'ignore' {
  if (g.garbage === 'temp' || isTempName(g.name)) return 'ignore';
  if (g.folder === 'inbox') return g.name.endsWith('.json') ? 'reject' : 'ignore';
  return 'quarantine';
}

/** A brain or agent scans these folders only while a batch is active (brain/scan.ts). */
const SCANNED_WHILE_ACTIVE = new Set(['private', 'complete', 'failed']);
/**
 * timeouts.unreadable_grace_s of a chaos rig: a half-written task file is quarantined only once
 * it has stayed unreadable this long (a torn read of a live file must not be), so short here.
 */
export const CHAOS_UNREADABLE_GRACE_S = 0.5;
/** How long after a drop the brain surely scanned once more (it passes every 0.25 s) and gave a half-written file its grace. */
const SCAN_SLACK_MS = 1000 + CHAOS_UNREADABLE_GRACE_S * 1000;

export function checkTrial(input: TrialInput): TrialVerdict {
  const { snapshot: snap, events } = input;
  const problems: string[] = [];
  const v: TrialVerdict = {
    ok: false, problems, tasksChecked: 0, tasksLost: 0, unexplainedDuplicates: 0, strayRuns: 0,
    extraRuns: { killed: 0, failedOnPurpose: 0, late: 0, resultLost: 0 },
    kills: { brain: 0, agent: 0, worker: 0, task: 0 }, brainOpKills: 0, deepestBrainOp: 0, crashes: 0,
    garbage: { dropped: 0, quarantined: 0, rejected: 0, ignored: 0, unseen: 0 },
    recoveries: [], longestRecoveryMs: 0, leftoverTemps: 0,
  };
  const kills = events.filter((e): e is KillEvent => e.kind === 'kill');
  const garbage = events.filter((e): e is GarbageEvent => e.kind === 'garbage');
  for (const k of kills) {
    v.kills[k.target] += 1;
    if (k.atOp === undefined) continue;
    v.brainOpKills += 1;
    v.deepestBrainOp = Math.max(v.deepestBrainOp, k.atOp);
  }
  const runs = assembleRuns(snap.runs);
  const alive = new Set(input.aliveRunPids);
  const finishAt = new Map<string, number>();
  for (const d of snap.decisions) {
    const m = d.who === 'brain' && d.what === 'FINISH' ? /batch=(\S+)/.exec(d.text) : null;
    if (m) finishAt.set(m[1]!, d.t);
  }

  if (!input.finishedInTime) problems.push('not every batch reached a final state before the deadline');
  for (const line of snap.badRunLines) problems.push(`runs.log: a line that does not parse (a torn append?): ${JSON.stringify(line)}`);
  for (const f of snap.unreadable) problems.push(`${f}: an archived task file that is not a valid task`);

  // ---- crashes ----
  for (const e of events) {
    if (e.kind !== 'exit' || e.expected) continue;
    v.crashes += 1;
    const who = e.role === 'brain' ? 'brain' : `gpu-${e.gpu}`;
    problems.push(`${who} (pid ${e.pid}) exited by itself (${e.signal ?? `exit ${e.code}`}) at ${iso(e.t)}; see ${input.logDir}/${who}.log`);
  }

  // ---- batches and tasks ----
  const known = new Set<string>();
  for (const b of input.expected) {
    const rec = snap.batches[b.id] ?? null;
    if (!rec) problems.push(`batch ${b.id}: no batch record`);
    else if (rec.state !== 'complete') problems.push(`batch ${b.id}: ended ${rec.state}, expected complete (failed: ${rec.failed_tasks.join(', ') || 'none'})`);
    const ids = b.names.map((n) => `${b.id}__${n}`);
    for (const id of ids) known.add(id);
    if (rec) {
      const extra = rec.task_ids.filter((id) => !ids.includes(id));
      if (extra.length) problems.push(`batch ${b.id}: tasks the plan does not make: ${extra.join(', ')}`);
    }
    const archived = new Map<string, Task[]>();
    for (const t of snap.archive[b.id] ?? []) archived.set(t.id, [...(archived.get(t.id) ?? []), t]);
    for (const id of ids) {
      v.tasksChecked += 1;
      const copies = archived.get(id) ?? [];
      const live = (Object.entries(snap.folders) as Array<[string, string[]]>).filter(([, ns]) => ns.includes(`${id}.json`)).map(([f]) => f);
      if (copies.length !== 1 || live.length) {
        v.tasksLost += 1;
        // A temporary name is where a writer killed mid-write (or mid-replace) left it.
        const hidden = snap.tempFiles.filter((p) => p.split('/').pop()!.startsWith(`.${id}.json.`));
        const where = [...(copies.length ? [`archive (${copies.length}x)`] : []), ...live.map((f) => `${f}/`), ...hidden.map((p) => `a temporary file only: ${p}`)];
        problems.push(`task ${id}: lost: expected once in tasks/archive/${b.id}/, found ${where.length ? `in ${where.join(' and ')}` : 'nowhere'}`);
      }
      const task = copies[0];
      if (!task) continue;
      if (task.result?.outcome !== 'success') problems.push(`task ${id}: ended ${task.result?.outcome ?? 'without a result'}, expected success (${task.result?.reason ?? ''})`);
      checkRuns(task, runs.filter((r) => r.task === id), input, snap.decisions, snap.lateResults, alive, v);
    }
  }
  for (const r of runs) {
    if (!known.has(r.task)) {
      v.unexplainedDuplicates += 1;
      problems.push(`runs.log: a run of ${r.task} (attempt ${r.attempt}, pid ${r.pid}), which is no task of the batches`);
    }
  }

  // ---- garbage and leftovers ----
  const garbageNames = new Set(garbage.map((g) => `${g.folder}/${g.name}`));
  const lastFinish = Math.max(0, ...finishAt.values());
  const claimedQuarantine = new Set<string>();
  for (const g of garbage) {
    v.garbage.dropped += 1;
    const fate = garbageFate(g);
    const present = (g.folder === 'inbox' ? snap.inbox : snap.folders[g.folder]).includes(g.name);
    if (fate === 'ignore') {
      if (present) v.garbage.ignored += 1;
      else problems.push(`garbage ${g.folder}/${g.name}: should have been left alone (${g.garbage}), but it is gone`);
      continue;
    }
    if (fate === 'reject') {
      if (snap.rejected.includes(g.name) && snap.rejected.includes(`${g.name}.errors.txt`)) v.garbage.rejected += 1;
      else problems.push(`garbage inbox/${g.name}: not moved to brain/inbox/rejected/ with its .errors.txt${present ? ' (still in the inbox)' : ''}`);
      continue;
    }
    const q = snap.quarantine.find((e) => e.where === g.folder && e.name.endsWith(`-${quarantinedAs(g.name)}`) && !claimedQuarantine.has(`${e.where}/${e.name}`));
    if (q) {
      claimedQuarantine.add(`${q.where}/${q.name}`);
      v.garbage.quarantined += 1;
      if (q.why === null) problems.push(`quarantine/${q.where}/${q.name}: no .why.txt beside it`);
      continue;
    }
    // The brain looks at private/, complete/ and failed/ only while a batch runs, and at a
    // task-like name only while that task's batch runs: a drop too close to the end is unseen.
    const until = g.name.endsWith('.json') && g.batch ? (finishAt.get(g.batch) ?? Infinity) : lastFinish;
    if (present && SCANNED_WHILE_ACTIVE.has(g.folder) && until < g.t + SCAN_SLACK_MS) {
      v.garbage.unseen += 1;
      continue;
    }
    problems.push(`garbage ${g.folder}/${g.name} (${g.garbage}): not quarantined${present ? `; still in ${g.folder}/` : '; and gone from its folder'}`);
  }
  for (const q of snap.quarantine) {
    if (!claimedQuarantine.has(`${q.where}/${q.name}`)) problems.push(`quarantine/${q.where}/${q.name}: a file the chaos run did not drop was quarantined: ${(q.why ?? '').trim().replace(/\n/g, ' ')}`);
  }
  for (const n of snap.rejected) {
    const base = n.endsWith('.errors.txt') ? n.slice(0, -'.errors.txt'.length) : n;
    if (!garbageNames.has(`inbox/${base}`)) problems.push(`brain/inbox/rejected/${n}: a submission the chaos run made was rejected`);
  }
  for (const [folder, names] of Object.entries(snap.folders)) {
    for (const n of names) {
      if (isTempName(n) || garbageNames.has(`${folder}/${n}`)) continue;
      if (known.has(n.replace(/\.json$/, ''))) continue; // reported above as a lost task
      problems.push(`${folder}/${n}: left in a live folder`);
    }
  }
  const mine = new Set(garbage.filter((g) => garbageFate(g) === 'ignore').map((g) => g.name));
  v.leftoverTemps = snap.tempFiles.filter((p) => !mine.has(p.split('/').pop()!)).length;

  // ---- recovery ----
  for (const k of kills) v.recoveries.push(recoveryOf(k, runs, snap.decisions));
  for (const r of v.recoveries) {
    if (r.ms !== null) v.longestRecoveryMs = Math.max(v.longestRecoveryMs, r.ms);
  }
  v.ok = problems.length === 0;
  return v;
}

/** Compares a task's real runs with its recorded attempts (see the rules at the top). */
function checkRuns(task: Task, runs: Run[], input: TrialInput, decisions: MountSnapshot['decisions'], late: string[], alive: Set<number>, v: TrialVerdict): void {
  const p = v.problems;
  const byAttempt = new Map<number, AttemptRecord>(task.attempts.map((a) => [a.attempt, a]));
  if (task.executor !== 'worker' || task.foreach !== null) {
    for (const r of runs) {
      v.unexplainedDuplicates += 1;
      p.push(`task ${task.id}: run by ${task.executor}, yet a worker run of it is in runs.log (attempt ${r.attempt}, pid ${r.pid})`);
    }
    return;
  }
  const successes = task.attempts.filter((a) => a.outcome === 'success');
  if (successes.length > 1) {
    v.unexplainedDuplicates += successes.length - 1;
    p.push(`task ${task.id}: ${successes.length} attempts recorded as success (${successes.map((a) => a.attempt).join(', ')})`);
  }
  const seen = new Map<number, number>();
  for (const r of runs) seen.set(r.attempt, (seen.get(r.attempt) ?? 0) + 1);
  for (const [attempt, n] of seen) {
    if (n > 1) {
      v.unexplainedDuplicates += n - 1;
      p.push(`task ${task.id}: attempt ${attempt} ran ${n} times (pids ${runs.filter((r) => r.attempt === attempt).map((r) => r.pid).join(', ')}): two processes ran one claim`);
    }
  }
  for (const s of successes) {
    if (!runs.some((r) => r.attempt === s.attempt && r.end?.status === 'ok')) {
      p.push(`task ${task.id}: attempt ${s.attempt} is recorded as success, but no run of it reached END ok`);
    }
  }
  for (const r of runs) {
    const rec = byAttempt.get(r.attempt);
    const what = `task ${task.id}: attempt ${r.attempt} (pid ${r.pid})`;
    if (!rec) {
      v.unexplainedDuplicates += 1;
      p.push(`${what} ran (${r.end ? `END ${r.end.status}` : 'no END'}) but has no attempt record: a run the rig does not know of`);
      continue;
    }
    if (rec.outcome === 'success') continue;
    const isLate = late.some((n) => n.startsWith(`${task.id}.attempt${r.attempt}.`));
    if (!r.end) {
      if (alive.has(r.pid)) {
        // Still running after its batch ended (the stray check below reports it).
      } else if (rec.failure_kind !== 'infra') {
        p.push(`${what} was killed before its END, yet recorded as ${rec.outcome} (${rec.failure_kind ?? 'no kind'}), not as an infra failure`);
      }
      v.extraRuns.killed += 1;
    } else if (r.end.status === 'fail') {
      v.extraRuns.failedOnPurpose += 1;
    } else if (isLate) {
      v.extraRuns.late += 1;
    } else {
      v.extraRuns.resultLost += 1;
    }
    const stray = strayReason(r, rec, decisions, input.events, alive);
    if (stray) {
      v.strayRuns += 1;
      p.push(`${what}: stray run: ${stray}`);
    }
  }
}

/**
 * Why a run outlived the rig's decision that its attempt was over, or null. The deadline is
 * the earliest moment a live agent knew the attempt was over and could end its processes:
 * when that agent recorded the failure itself (finished_at), or when a new life of the agent
 * that claimed it started (its START line; the previous life's processes are orphans then).
 */
export function strayReason(r: Run, rec: AttemptRecord, decisions: MountSnapshot['decisions'], events: ChaosEvent[], alive: Set<number>): string | null {
  if (alive.has(r.pid) && !r.end) return `still running when the trial ended, after the batch reached its final state (attempt recorded as ${rec.outcome}: ${short(rec.reason)})`;
  if (!r.end) return null;
  const end = r.end;
  const claimed = Date.parse(rec.claimed_at);
  // The life that claimed it: the last one started before the claim (its START line may come
  // a little after its first claim, so lives are told apart by pid).
  const gpu = /^gpu-(\d+)$/.exec(rec.agent)?.[1];
  const lives = events.filter((e): e is StartEvent => e.kind === 'start' && e.role === 'agent' && String(e.gpu) === gpu && e.t <= claimed);
  const claimer = lives.length ? lives[lives.length - 1]!.pid : null;
  const restart = decisions.find((d) => d.who === rec.agent && d.what === 'START' && d.t > claimed && d.t < end.t && startPid(d.text) !== claimer);
  if (restart) {
    return `ran on until ${iso(end.t)} (END ${end.status}), after ${rec.agent} restarted at ${iso(restart.t)}: the new life left its previous life's process running (attempt recorded as ${rec.outcome}: ${short(rec.reason)})`;
  }
  // Recorded by the agent itself (not by the brain on a presumed-dead agent's behalf).
  const byAgent = !/presumed dead/.test(rec.reason ?? '');
  const finished = rec.finished_at ? Date.parse(rec.finished_at) : NaN;
  if (byAgent && !Number.isNaN(finished) && end.t > finished) {
    return `ran on until ${iso(end.t)} (END ${end.status}), after ${rec.agent} recorded the attempt as ${rec.outcome} at ${rec.finished_at} (${short(rec.reason)}); its retry could run beside it`;
  }
  return null;
}

/** The pid in an agent's START line: `START — pid 1234, GPU 0, ...`. */
function startPid(text: string): number | null {
  const m = /START — pid (\d+)/.exec(text);
  return m ? Number(m[1]) : null;
}

/** The first line of a recorded reason, cut short: reasons may quote a whole stderr tail. */
function short(text: string | null, max = 120): string {
  const line = (text ?? '').split('\n')[0]!;
  return line.length > max ? `${line.slice(0, max)}...` : line;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

