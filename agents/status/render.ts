// Pure views of a RigSnapshot: the status --json object, the status text, and the watch
// screen for a given width. Nothing here reads files or the clock: snapshot.now is "now".
import { batchOfTaskId, type BatchState, type TaskCounts } from '../core/batch.ts';
import { printable } from '../core/decisionLog.ts';
import type { ActiveTask, Heartbeat } from '../core/heartbeat.ts';
import type { Task } from '../core/task.ts';
import type { GpuView, RigSnapshot } from './snapshot.ts';
import { explainFailure, explainWait, formatMb, indexTasks, type WaitContext } from './waitReason.ts';

// ---------------------------------------------------------------- the derived view

export interface BatchView {
  id: string;
  plan: string;
  state: BatchState;
  tasks: TaskCounts;
  /** false for tasks found in the folders whose batch has no record (yet). */
  has_record: boolean;
}

export interface QueueCounts {
  queued: number;
  processing: number;
  complete: number;
  failed: number;
  /** Extra to the contract: tasks the brain still holds (brain/private_tasks). */
  waiting: number;
}

export interface WaitItem {
  task_id: string;
  batch: string;
  name: string;
  where: 'private' | 'queue' | 'failed';
  task_class: string;
  vram_estimate_mb: number;
  reason: string;
}

export interface FailedItem {
  task_id: string;
  batch: string;
  name: string;
  reason: string;
}

export interface RunningItem {
  task_id: string;
  name: string;
  task_class: string;
  vram_estimate_mb: number | null;
  peak_vram_mb: number | null;
  /** Seconds since the worker started (or the claim), null when unknown. */
  elapsed_s: number | null;
}

export interface StatusView {
  batches: BatchView[];
  queue: QueueCounts;
  /** Every task not running and not finished, with why: queued first, then held, then retries. */
  waiting: WaitItem[];
  failed_for_good: FailedItem[];
  /** Running tasks per agent name: the processing folder, enriched by the heartbeat. */
  running: Map<string, RunningItem[]>;
  /** Tasks in processing/ whose agent is not alive (or unknown); empty without a config. */
  orphaned: Array<{ task_id: string; claimed_by: string | null; elapsed_s: number | null }>;
}

const FINISHED: ReadonlySet<string> = new Set(['complete', 'failed', 'cancelled']);

export function summarize(snap: RigSnapshot): StatusView {
  const byId = indexTasks(snap.tasks);
  const alive = snap.gpus.filter((g) => g.alive && g.heartbeat).map((g) => g.heartbeat as Heartbeat);
  const ctx: WaitContext = {
    shared: snap.shared, tasksById: byId, heartbeats: alive, config: snap.config, approvals: new Set(snap.approvals),
  };
  const records = new Map(snap.batches.map((b) => [b.id, b]));

  const batches: BatchView[] = snap.batches.map((rec) => {
    const tasks = FINISHED.has(rec.state) && rec.final_counts ? rec.final_counts : countFromFolders(rec.task_ids, byId);
    return { id: rec.id, plan: rec.plan, state: rec.state, tasks, has_record: true };
  });
  // Tasks whose batch has no record (yet, or any more) still show, grouped by their batch id.
  const orphanBatches = new Map<string, { plan: string; ids: string[] }>();
  for (const [id, { task }] of byId) {
    const b = batchOfTaskId(id);
    if (records.has(b)) continue;
    const entry = orphanBatches.get(b) ?? { plan: task.plan, ids: [] };
    entry.ids.push(id);
    orphanBatches.set(b, entry);
  }
  for (const [id, { plan, ids }] of orphanBatches) {
    const tasks = countFromFolders(ids, byId);
    const state: BatchState = tasks.waiting + tasks.queued + tasks.processing > 0 ? 'running' : tasks.failed > 0 ? 'failed' : 'complete';
    batches.push({ id, plan, state, tasks, has_record: false });
  }
  batches.sort((a, b) => a.id.localeCompare(b.id));

  const waiting: WaitItem[] = [];
  const failedForGood: FailedItem[] = [];
  const item = (t: Task, where: WaitItem['where'], reason: string): WaitItem => ({
    task_id: t.id, batch: batchOfTaskId(t.id), name: t.name, where, task_class: t.task_class, vram_estimate_mb: t.vram_estimate_mb, reason,
  });
  for (const t of byCreation(snap.tasks.queue)) waiting.push(item(t, 'queue', explainWait(t, 'queue', ctx)));
  for (const t of byCreation(snap.tasks.private)) waiting.push(item(t, 'private', explainWait(t, 'private', ctx)));
  for (const t of byCreation(snap.tasks.failed)) {
    const f = explainFailure(t, records.get(batchOfTaskId(t.id)) ?? null, snap.config);
    if (f.for_good) failedForGood.push({ task_id: t.id, batch: batchOfTaskId(t.id), name: t.name, reason: f.reason });
    else waiting.push(item(t, 'failed', f.reason));
  }

  const running = new Map<string, RunningItem[]>();
  const orphaned: StatusView['orphaned'] = [];
  const views = new Map(snap.gpus.map((g) => [g.name, g]));
  for (const t of snap.tasks.processing) {
    const view = t.claimed_by ? views.get(t.claimed_by) : undefined;
    const active = view?.heartbeat?.active_tasks.find((a) => a.task_id === t.id);
    const started = active?.started_at ?? t.claimed_at;
    const entry: RunningItem = {
      task_id: t.id, name: t.name, task_class: t.task_class, vram_estimate_mb: t.vram_estimate_mb,
      peak_vram_mb: active?.peak_vram_mb ?? null, elapsed_s: secondsSince(started, snap.now),
    };
    if (view?.alive || (snap.config === null && t.claimed_by)) push(running, t.claimed_by as string, entry);
    else if (snap.config !== null) orphaned.push({ task_id: t.id, claimed_by: t.claimed_by, elapsed_s: entry.elapsed_s });
  }
  // Work an agent reports that is not (or no longer) a task file in processing/.
  for (const g of snap.gpus) {
    if (!g.alive || !g.heartbeat) continue;
    const have = new Set((running.get(g.name) ?? []).map((r) => r.task_id));
    for (const a of g.heartbeat.active_tasks) {
      if (have.has(a.task_id) || byId.get(a.task_id)?.folder === 'processing') continue;
      push(running, g.name, fromActive(a, snap.now));
    }
  }

  return {
    batches,
    queue: {
      queued: snap.tasks.queue.length,
      processing: snap.tasks.processing.length,
      complete: snap.tasks.complete.length,
      failed: snap.tasks.failed.length,
      waiting: snap.tasks.private.length,
    },
    waiting,
    failed_for_good: failedForGood,
    running,
    orphaned,
  };
}

/** Counts like the brain's (brain/decide.ts countTasks): a listed task not found anywhere counts as waiting. */
function countFromFolders(ids: readonly string[], byId: ReadonlyMap<string, { folder: string }>): TaskCounts {
  const c: TaskCounts = { total: 0, waiting: 0, queued: 0, processing: 0, complete: 0, failed: 0 };
  for (const id of ids) {
    const folder = byId.get(id)?.folder;
    c.total += 1;
    if (!folder || folder === 'private') c.waiting += 1;
    else if (folder === 'queue') c.queued += 1;
    else if (folder === 'processing') c.processing += 1;
    else if (folder === 'complete') c.complete += 1;
    else c.failed += 1;
  }
  return c;
}

function fromActive(a: ActiveTask, now: number): RunningItem {
  return {
    task_id: a.task_id, name: a.task_name, task_class: a.task_class, vram_estimate_mb: a.vram_estimate_mb,
    peak_vram_mb: a.peak_vram_mb, elapsed_s: secondsSince(a.started_at, now),
  };
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function byCreation(tasks: readonly Task[]): Task[] {
  return [...tasks].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
}

function secondsSince(iso: string | null | undefined, now: number): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? Math.max(0, (now - t) / 1000) : null;
}

// ---------------------------------------------------------------- status --json

export interface StatusJson {
  batches: Array<{ id: string; plan: string; state: BatchState; tasks: TaskCounts }>;
  gpus: Heartbeat[];
  queue: QueueCounts;
  // Extras beyond the contract:
  agents: Array<{ name: string; gpu_id: number; alive: boolean; heartbeat_age_s: number | null }>;
  waiting: Array<{ task_id: string; where: WaitItem['where']; reason: string }>;
  failed_for_good: Array<{ task_id: string; reason: string }>;
  interventions: RigSnapshot['interventions'];
  /** Files on the mount that could not be used, with why: one entry per bad file, never a crash. */
  bad_files: RigSnapshot['bad_files'];
  brain: { active_batches: string[]; updated_at: string; brain_pid: number | null; inbox_pending: number } | null;
  config_problem: string | null;
  generated_at: string;
}

export function toStatusJson(snap: RigSnapshot, view: StatusView = summarize(snap)): StatusJson {
  return {
    batches: view.batches.map((b) => ({ id: b.id, plan: b.plan, state: b.state, tasks: { ...b.tasks } })),
    gpus: snap.gpus.filter((g) => g.heartbeat).map((g) => g.heartbeat as Heartbeat),
    queue: view.queue,
    agents: snap.gpus.map((g) => ({
      name: g.name, gpu_id: g.id, alive: g.alive, heartbeat_age_s: g.age_s === null ? null : Math.round(g.age_s),
    })),
    waiting: view.waiting.map((w) => ({ task_id: w.task_id, where: w.where, reason: w.reason })),
    failed_for_good: view.failed_for_good.map((f) => ({ task_id: f.task_id, reason: f.reason })),
    interventions: snap.interventions,
    bad_files: snap.bad_files,
    brain: snap.brain ? { ...snap.brain, inbox_pending: snap.inbox_pending } : null,
    config_problem: snap.config_problem,
    generated_at: new Date(snap.now).toISOString(),
  };
}

// ---------------------------------------------------------------- shared formatting

/** 42s, 3m05s, 2h03m, 3d04h. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '?';
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

/** A bar of `width` cells: [██████░░░░]. Unknown fractions show as blanks. */
export function bar(fraction: number | null, width: number): string {
  if (width <= 0) return '';
  if (fraction === null || !Number.isFinite(fraction)) return `[${'·'.repeat(width)}]`;
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

/** Cuts a line to `width` characters (code points), marking the cut with an ellipsis. */
export function fit(line: string, width: number): string {
  const chars = [...line];
  if (chars.length <= width) return line;
  if (width <= 1) return chars.slice(0, Math.max(0, width)).join('');
  return chars.slice(0, width - 1).join('') + '…';
}

function pad(s: string, n: number): string {
  const len = [...s].length;
  return len >= n ? s : s + ' '.repeat(n - len);
}

function num(n: number | null, unit: string): string {
  return n === null ? '?' : `${Math.round(n)}${unit}`;
}

function healthText(h: Heartbeat): string {
  if (h.health === 'healthy') return 'healthy';
  return h.health_reasons.length ? `${h.health}: ${h.health_reasons.join(', ')}` : h.health;
}

function progress(c: TaskCounts): { done: number; fraction: number | null } {
  const done = c.complete + c.failed;
  return { done, fraction: c.total > 0 ? done / c.total : null };
}

function countsText(c: TaskCounts): string {
  return `waiting ${c.waiting} · queued ${c.queued} · running ${c.processing} · complete ${c.complete} · failed ${c.failed}`;
}

function gpuDeadText(g: GpuView): string {
  if (!g.heartbeat) return 'no heartbeat (agent not started?)';
  return `heartbeat stale: last ${formatDuration(g.age_s)} ago, seq ${g.heartbeat.seq} (agent down?)`;
}

function runningText(r: RunningItem): string {
  const est = r.vram_estimate_mb !== null && r.task_class !== 'cpu' && r.task_class !== 'meta' ? `, est ${formatMb(r.vram_estimate_mb)}` : '';
  const peak = r.peak_vram_mb !== null ? `, peak ${formatMb(r.peak_vram_mb)}` : '';
  return `${r.task_id} (${r.task_class}${est}${peak}) for ${formatDuration(r.elapsed_s)}`;
}

// ---------------------------------------------------------------- status (text)

/** Most tasks the waiting list names before "... and N more". */
export const STATUS_LIST_CAP = 50;
/** Finished batches shown besides the active ones. */
const FINISHED_BATCHES_SHOWN = 5;

/** Most bad files a screen names before "... and N more". */
const BAD_FILES_SHOWN = 20;

/** Files the look could not use (a FIFO in queue/, a directory for a heartbeat, garbage): one line each. */
function badFileLines(snap: RigSnapshot, cap: number): string[] {
  if (!snap.bad_files.length) return [];
  const shown = snap.bad_files.slice(0, cap).map((b) => `  ? ${b.path}: ${b.problem}`);
  const more = snap.bad_files.length > cap ? [`  ... and ${snap.bad_files.length - cap} more (status --json lists them all)`] : [];
  return [`Unreadable files (${snap.bad_files.length}): npm run doctor says what to do`, ...shown, ...more];
}

/** Stuck tasks that need a person, first on every screen. */
function interventionLines(snap: RigSnapshot): string[] {
  if (!snap.interventions.length) return [];
  return [
    `NEEDS A PERSON: ${snap.interventions.length} stuck task(s)`,
    ...snap.interventions.map((i) => `  ! ${i.task_id} on ${i.agent} since ${i.since}: ${i.reason}`),
  ];
}

export function renderStatus(snap: RigSnapshot, view: StatusView = summarize(snap)): string {
  const out: string[] = [];
  out.push(`Forge rig at ${snap.shared} — ${new Date(snap.now).toISOString()}`);
  if (snap.config_problem) out.push(`config: ${snap.config_problem}`);
  if (snap.inbox_pending > 0) out.push(`inbox: ${snap.inbox_pending} submission(s) not yet taken by the brain`);
  out.push(...interventionLines(snap));

  out.push('', 'Batches');
  const active = view.batches.filter((b) => !FINISHED.has(b.state));
  const finished = view.batches.filter((b) => FINISHED.has(b.state));
  const shownFinished = finished.slice(-FINISHED_BATCHES_SHOWN);
  if (view.batches.length === 0) out.push('  (none)');
  for (const b of [...shownFinished, ...active]) {
    const p = progress(b.tasks);
    const pct = p.fraction === null ? '' : ` ${Math.round(p.fraction * 100)}%`;
    out.push(`  ${b.id}  ${b.plan}  ${b.state}  ${bar(p.fraction, 10)} ${p.done}/${b.tasks.total} done${pct}`);
    out.push(`      ${countsText(b.tasks)}${b.has_record ? '' : '  (no batch record)'}`);
  }
  if (finished.length > shownFinished.length) out.push(`  ... and ${finished.length - shownFinished.length} older finished batches`);

  out.push('', 'GPUs');
  if (snap.gpus.length === 0) out.push('  (none known: no config)');
  const maxPower = snap.config?.resource_limits.max_power_w ?? null;
  for (const g of snap.gpus) {
    const h = g.heartbeat;
    if (!h || !g.alive) {
      out.push(`  ${g.name}  down  ${gpuDeadText(g)}`);
      continue;
    }
    const mem = `${num(h.vram_used_mb, '')}/${num(h.vram_total_mb, '')} MB`;
    const power = `${num(h.power_draw_w, '')}${maxPower !== null ? `/${maxPower}` : ''} W`;
    const tasks = view.running.get(g.name) ?? [];
    out.push(`  ${g.name}  ${h.state}  ${healthText(h)}  heartbeat ${formatDuration(g.age_s)} ago (seq ${h.seq})`);
    out.push(
      `      ${num(h.temperature_c, 'C')} · mem ${mem} · power ${power} · util ${num(h.gpu_util_percent, '%')}` +
        ` · budget free ${formatMb(h.budget_available_mb)} · ${tasks.length} running`,
    );
    if (h.llm_circuit !== 'closed') out.push(`      LLM runtime ${h.llm_circuit}${h.llm_reason ? `: ${h.llm_reason}` : ''}`);
    for (const r of tasks) out.push(`      running ${runningText(r)}`);
  }

  const q = view.queue;
  out.push('', `Queue: waiting ${q.waiting} · queued ${q.queued} · processing ${q.processing} · complete ${q.complete} · failed ${q.failed}`);

  if (view.orphaned.length) {
    out.push('', `In processing/ without a live agent (${view.orphaned.length}): the brain reclaims these`);
    for (const o of view.orphaned.slice(0, STATUS_LIST_CAP)) {
      out.push(`  ${o.task_id}  claimed by ${o.claimed_by ?? '?'} ${formatDuration(o.elapsed_s)} ago`);
    }
    if (view.orphaned.length > STATUS_LIST_CAP) out.push(`  ... and ${view.orphaned.length - STATUS_LIST_CAP} more`);
  }

  out.push('', `Not running (${view.waiting.length})`);
  if (view.waiting.length === 0) out.push('  (none)');
  const idWidth = Math.min(48, Math.max(0, ...view.waiting.slice(0, STATUS_LIST_CAP).map((w) => w.task_id.length)));
  const whereWord = { private: 'waiting', queue: 'queued', failed: 'failed' } as const;
  for (const w of view.waiting.slice(0, STATUS_LIST_CAP)) {
    const est = w.task_class === 'script' ? ` ${formatMb(w.vram_estimate_mb)}` : '';
    out.push(`  ${pad(w.task_id, idWidth)}  ${pad(whereWord[w.where], 7)}  ${pad(w.task_class + est, 12)}  ${w.reason}`);
  }
  if (view.waiting.length > STATUS_LIST_CAP) out.push(`  ... and ${view.waiting.length - STATUS_LIST_CAP} more`);

  if (view.failed_for_good.length) {
    out.push('', `Failed for good (${view.failed_for_good.length})`);
    for (const f of view.failed_for_good.slice(0, STATUS_LIST_CAP)) out.push(`  ${f.task_id}  ${f.reason}`);
    if (view.failed_for_good.length > STATUS_LIST_CAP) out.push(`  ... and ${view.failed_for_good.length - STATUS_LIST_CAP} more`);
  }
  const bad = badFileLines(snap, BAD_FILES_SHOWN);
  if (bad.length) out.push('', ...bad);
  // Names, reasons and paths come from files on the mount: no control character reaches the terminal.
  return out.map((l) => printable(l, Infinity)).join('\n') + '\n';
}

// ---------------------------------------------------------------- watch (screen)

export interface WatchOptions {
  /** Terminal columns; every line is cut to fit. */
  width: number;
  /** Terminal rows; the body is cut so the footer stays on screen. Unlimited when absent. */
  height?: number;
  intervalMs?: number;
}

const WATCH_DECISIONS = 8;
const WATCH_REASON_GROUPS = 5;

export function renderWatch(snap: RigSnapshot, opts: WatchOptions, view: StatusView = summarize(snap)): string {
  const width = Math.max(1, Math.floor(opts.width) || 100);
  const barW = width >= 110 ? 10 : width >= 90 ? 8 : width >= 70 ? 5 : 0;
  const body: string[] = [];
  const clock = new Date(snap.now).toISOString();
  body.push(`Forge — ${snap.shared}`);
  if (snap.config_problem) body.push(`config: ${snap.config_problem}`);
  body.push(...interventionLines(snap));
  if (snap.bad_files.length) body.push(`${snap.bad_files.length} unreadable file(s) on the mount: npm run status lists them`);

  body.push('GPUs');
  if (snap.gpus.length === 0) body.push('  (none known: no config)');
  const maxPower = snap.config?.resource_limits.max_power_w ?? null;
  for (const g of snap.gpus) {
    const h = g.heartbeat;
    if (!h || !g.alive) {
      body.push(` ${pad(g.name, 7)} down  ${gpuDeadText(g)}`);
      continue;
    }
    const memFrac = h.vram_used_mb !== null && h.vram_total_mb ? h.vram_used_mb / h.vram_total_mb : null;
    const powFrac = h.power_draw_w !== null && maxPower ? h.power_draw_w / maxPower : null;
    const mem = `mem ${barW ? bar(memFrac, barW) + ' ' : ''}${num(h.vram_used_mb, '')}/${num(h.vram_total_mb, '')} MB`;
    const pow = `pwr ${barW ? bar(powFrac, barW) + ' ' : ''}${num(h.power_draw_w, '')}${maxPower !== null ? `/${maxPower}` : ''} W`;
    const health = h.health === 'healthy' ? 'healthy' : `${h.health.toUpperCase()}`;
    const llm = h.llm_circuit === 'closed' ? '' : `  llm ${h.llm_circuit}`;
    const head = ` ${pad(g.name, 7)} ${pad(h.state, 5)} ${pad(health, 11)} ${pad(num(h.temperature_c, 'C'), 4)}`;
    const tail = `hb ${formatDuration(g.age_s)} #${h.seq}${llm}`;
    const one = `${head} ${mem}  ${pow}  ${tail}`;
    // Narrow screens get the gauges on a line of their own rather than cut off.
    if ([...one].length <= width) body.push(one);
    else body.push(`${head} ${tail}`, `    ${mem}  ${pow}`);
    if (h.health !== 'healthy' && h.health_reasons.length) body.push(`    ! ${h.health_reasons.join(', ')}`);
    for (const r of view.running.get(g.name) ?? []) body.push(`    ▸ ${runningText(r)}`);
  }

  const q = view.queue;
  body.push(`Queue   waiting ${q.waiting} · queued ${q.queued} · running ${q.processing} · complete ${q.complete} · failed ${q.failed}`);

  body.push('Batches');
  const active = view.batches.filter((b) => !FINISHED.has(b.state));
  const recent = view.batches.filter((b) => FINISHED.has(b.state)).slice(-3);
  if (active.length + recent.length === 0) body.push('  (none)');
  for (const b of [...recent, ...active]) {
    const p = progress(b.tasks);
    const failed = b.tasks.failed ? ` (${b.tasks.failed} failed)` : '';
    body.push(` ${b.id} ${b.plan} ${pad(b.state, 9)} ${bar(p.fraction, Math.max(barW, 5) * 2)} ${p.done}/${b.tasks.total}${failed}`);
  }

  if (view.waiting.length) {
    body.push(`Waiting (${view.waiting.length})`);
    const groups = new Map<string, number>();
    for (const w of view.waiting) groups.set(w.reason, (groups.get(w.reason) ?? 0) + 1);
    const sorted = [...groups].sort((a, b) => b[1] - a[1]);
    for (const [reason, n] of sorted.slice(0, WATCH_REASON_GROUPS)) body.push(` ${String(n).padStart(3)}× ${reason}`);
    if (sorted.length > WATCH_REASON_GROUPS) body.push(`      ... and ${sorted.length - WATCH_REASON_GROUPS} more reasons`);
  }

  body.push('Decisions');
  const decisions = snap.decisions.slice(-WATCH_DECISIONS);
  if (decisions.length === 0) body.push('  (none yet)');
  // Decision lines start with an ISO time; the time of day is enough on screen.
  for (const d of decisions) body.push(' ' + d.replace(/^\d{4}-\d{2}-\d{2}T(\d{2}:\d{2}:\d{2})(\.\d+)?Z?/, '$1'));

  const refresh = opts.intervalMs ? ` · refresh ${opts.intervalMs} ms` : '';
  const footer = `${clock.slice(0, 19).replace('T', ' ')}Z${refresh} · q or Ctrl-C to quit`;
  const room = opts.height ? Math.max(0, Math.floor(opts.height) - 1) : body.length;
  const shown = body.length > room ? [...body.slice(0, Math.max(0, room - 1)), `… ${body.length - room + 1} more lines`].slice(0, room) : body;
  return [...shown, footer].map((l) => fit(printable(l, Infinity), width)).join('\n');
}
