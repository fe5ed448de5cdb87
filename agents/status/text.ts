// npm run status: the rig as text, one section after another, from a snapshot and its view.
import { scheduleLines } from './schedules.ts';
import { printable } from '../core/decisionLog.ts';
import type { RigSnapshot } from './snapshot.ts';
import {
  bar, countsText, formatDuration, gpuDeadText, healthText, interventionLines, num, pad, progress, runningText,
} from './format.ts';
import { NO_BRAIN, brainIsDown } from './liveness.ts';
import { FINISHED, type StatusView, summarize } from './view.ts';
import { formatMb } from './waitReason.ts';

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

function headerLines(snap: RigSnapshot, view: StatusView): string[] {
  const out = [`Forge rig at ${snap.shared} — ${new Date(snap.now).toISOString()}`, view.brain.text];
  if (snap.config_problem) out.push(`config: ${snap.config_problem}`);
  if (snap.inbox_pending > 0) out.push(`inbox: ${snap.inbox_pending} submission(s) not yet taken by the brain`);
  return [...out, ...interventionLines(snap)];
}

/** The active batches and the last few finished ones, each with a bar and its counts. */
function batchLines(view: StatusView): string[] {
  const out = ['', 'Batches'];
  const active = view.batches.filter((b) => !FINISHED.has(b.state));
  const finished = view.batches.filter((b) => FINISHED.has(b.state));
  const shownFinished = finished.slice(-FINISHED_BATCHES_SHOWN);
  if (view.batches.length === 0) out.push('  (none)');
  for (const b of [...shownFinished, ...active]) {
    const p = progress(b.tasks);
    const pct = p.fraction === null ? '' : ` ${Math.round(p.fraction * 100)}%`;
    out.push(`  ${b.id}  ${b.plan}  ${b.state}  ${bar(p.fraction, 10)} ${p.done}/${b.tasks.total} done${pct}`);
    out.push(`      ${countsText(b.tasks)}${b.has_record ? '' : '  (no batch record)'}`);
    for (const f of b.failures.slice(0, 3)) out.push(`      failed: ${f.task_id}: ${f.reason}`);
    if (b.failures.length > 3) out.push(`      ... and ${b.failures.length - 3} more failed`);
  }
  if (finished.length > shownFinished.length) out.push(`  ... and ${finished.length - shownFinished.length} older finished batches`);
  return out;
}

/** Each agent: down with why, or its readings and what it runs. */
function gpuLines(snap: RigSnapshot, view: StatusView): string[] {
  const out = ['', 'GPUs'];
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
  return out;
}

function queueLines(view: StatusView): string[] {
  const q = view.queue;
  return ['', `Queue: waiting ${q.waiting} · queued ${q.queued} · processing ${q.processing} · complete ${q.complete} · failed ${q.failed}`];
}

function orphanedLines(view: StatusView): string[] {
  if (!view.orphaned.length) return [];
  const who = brainIsDown(view.brain) ? `${NO_BRAIN} to reclaim these` : 'the brain reclaims these';
  const out = ['', `In processing/ without a live agent (${view.orphaned.length}): ${who}`];
  for (const o of view.orphaned.slice(0, STATUS_LIST_CAP)) {
    out.push(`  ${o.task_id}  claimed by ${o.claimed_by ?? '?'} ${formatDuration(o.elapsed_s)} ago`);
  }
  if (view.orphaned.length > STATUS_LIST_CAP) out.push(`  ... and ${view.orphaned.length - STATUS_LIST_CAP} more`);
  return out;
}

/** Every task not running, with why, in columns. */
function waitingLines(view: StatusView): string[] {
  const out = ['', `Not running (${view.waiting.length})`];
  if (view.waiting.length === 0) out.push('  (none)');
  const idWidth = Math.min(48, Math.max(0, ...view.waiting.slice(0, STATUS_LIST_CAP).map((w) => w.task_id.length)));
  const whereWord = { private: 'waiting', queue: 'queued', failed: 'failed' } as const;
  for (const w of view.waiting.slice(0, STATUS_LIST_CAP)) {
    const est = w.task_class === 'script' ? ` ${formatMb(w.vram_estimate_mb)}` : '';
    out.push(`  ${pad(w.task_id, idWidth)}  ${pad(whereWord[w.where], 7)}  ${pad(w.task_class + est, 12)}  ${w.reason}`);
  }
  if (view.waiting.length > STATUS_LIST_CAP) out.push(`  ... and ${view.waiting.length - STATUS_LIST_CAP} more`);
  return out;
}

function failedLines(view: StatusView): string[] {
  if (!view.failed_for_good.length) return [];
  const out = ['', `Failed for good (${view.failed_for_good.length})`];
  for (const f of view.failed_for_good.slice(0, STATUS_LIST_CAP)) out.push(`  ${f.task_id}  ${f.reason}`);
  if (view.failed_for_good.length > STATUS_LIST_CAP) out.push(`  ... and ${view.failed_for_good.length - STATUS_LIST_CAP} more`);
  return out;
}

/** Tasks a gate's "no" skipped: one line per gate, then the tasks (capped). */
function skippedLines(view: StatusView): string[] {
  if (!view.skipped.length) return [];
  const out = ['', `Skipped: a gate said no (${view.skipped.length})`];
  for (const k of view.skipped.slice(0, STATUS_LIST_CAP)) out.push(`  ${k.task_id}  skipped  ${k.reason}`);
  if (view.skipped.length > STATUS_LIST_CAP) out.push(`  ... and ${view.skipped.length - STATUS_LIST_CAP} more`);
  return out;
}

/** What is paused, and why nothing of it moves; what is cancelled. */
function controlLines(snap: RigSnapshot): string[] {
  const c = snap.controls;
  if (!c) return [];
  const out: string[] = [];
  if (c.paused.includes('rig')) out.push('PAUSED: the rig (no agent claims anything new; running work finishes) — forge resume rig');
  const others = c.paused.filter((p) => p !== 'rig');
  if (others.length) out.push(`paused: ${others.join(', ')} (nothing new of them is claimed or released) — forge resume NAME`);
  if (c.cancelled.length) out.push(`cancelled: ${c.cancelled.slice(0, 10).join(', ')}${c.cancelled.length > 10 ? ` and ${c.cancelled.length - 10} more` : ''}`);
  return out;
}

export function renderStatus(snap: RigSnapshot, view: StatusView = summarize(snap)): string {
  const bad = badFileLines(snap, BAD_FILES_SHOWN);
  const out = [
    ...headerLines(snap, view),
    ...controlLines(snap),
    ...batchLines(view),
    ...gpuLines(snap, view),
    ...queueLines(view),
    ...orphanedLines(view),
    ...waitingLines(view),
    ...failedLines(view),
    ...skippedLines(view),
    ...scheduleLines(snap.schedules ?? []),
    ...(bad.length ? ['', ...bad] : []),
  ];
  // Names, reasons and paths come from files on the mount: no control character reaches the terminal.
  return out.map((l) => printable(l, Infinity)).join('\n') + '\n';
}
