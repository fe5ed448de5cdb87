// npm run watch: one frame of the live screen for a terminal's width and height, from a
// snapshot and its view. Pure; scripts/watch.ts redraws it.
import { printable } from '../core/decisionLog.ts';
import type { GpuView, RigSnapshot } from './snapshot.ts';
import { bar, fit, formatDuration, gpuDeadText, interventionLines, num, pad, progress, runningText } from './format.ts';
import { FINISHED, type StatusView, summarize } from './view.ts';

export interface WatchOptions {
  /** Terminal columns; every line is cut to fit. */
  width: number;
  /** Terminal rows; the body is cut so the footer stays on screen. Unlimited when absent. */
  height?: number;
  intervalMs?: number;
}

const WATCH_DECISIONS = 8;
const WATCH_REASON_GROUPS = 5;

/** Cells of a gauge bar for the screen's width: none on narrow screens. */
function barWidth(width: number): number {
  return width >= 110 ? 10 : width >= 90 ? 8 : width >= 70 ? 5 : 0;
}

/** One agent: down with why, or a line of readings (two on a narrow screen), its health reasons and what it runs. */
function gpuLines(g: GpuView, view: StatusView, maxPower: number | null, width: number): string[] {
  const h = g.heartbeat;
  if (!h || !g.alive) return [` ${pad(g.name, 7)} down  ${gpuDeadText(g)}`];
  const barW = barWidth(width);
  const out: string[] = [];
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
  if ([...one].length <= width) out.push(one);
  else out.push(`${head} ${tail}`, `    ${mem}  ${pow}`);
  if (h.health !== 'healthy' && h.health_reasons.length) out.push(`    ! ${h.health_reasons.join(', ')}`);
  for (const r of view.running.get(g.name) ?? []) out.push(`    ▸ ${runningText(r)}`);
  return out;
}

/** Active batches and the last three finished ones, one line each. */
function batchLines(view: StatusView, width: number): string[] {
  const out = ['Batches'];
  const active = view.batches.filter((b) => !FINISHED.has(b.state));
  const recent = view.batches.filter((b) => FINISHED.has(b.state)).slice(-3);
  if (active.length + recent.length === 0) out.push('  (none)');
  for (const b of [...recent, ...active]) {
    const p = progress(b.tasks);
    const failed = (b.tasks.failed ? ` (${b.tasks.failed} failed)` : '') + (b.tasks.skipped ? ` (${b.tasks.skipped} skipped)` : '');
    out.push(` ${b.id} ${b.plan} ${pad(b.state, 9)} ${bar(p.fraction, Math.max(barWidth(width), 5) * 2)} ${p.done}/${b.tasks.total}${failed}`);
  }
  return out;
}

/** Waiting tasks counted by reason, the most common reasons first. */
function waitingLines(view: StatusView): string[] {
  if (!view.waiting.length) return [];
  const out = [`Waiting (${view.waiting.length})`];
  const groups = new Map<string, number>();
  for (const w of view.waiting) groups.set(w.reason, (groups.get(w.reason) ?? 0) + 1);
  const sorted = [...groups].sort((a, b) => b[1] - a[1]);
  for (const [reason, n] of sorted.slice(0, WATCH_REASON_GROUPS)) out.push(` ${String(n).padStart(3)}× ${reason}`);
  if (sorted.length > WATCH_REASON_GROUPS) out.push(`      ... and ${sorted.length - WATCH_REASON_GROUPS} more reasons`);
  return out;
}

function decisionLines(snap: RigSnapshot): string[] {
  const decisions = snap.decisions.slice(-WATCH_DECISIONS);
  if (decisions.length === 0) return ['Decisions', '  (none yet)'];
  // Decision lines start with an ISO time; the time of day is enough on screen.
  return ['Decisions', ...decisions.map((d) => ' ' + d.replace(/^\d{4}-\d{2}-\d{2}T(\d{2}:\d{2}:\d{2})(\.\d+)?Z?/, '$1'))];
}

function bodyLines(snap: RigSnapshot, view: StatusView, width: number): string[] {
  const body = [`Forge — ${snap.shared}`];
  if (snap.config_problem) body.push(`config: ${snap.config_problem}`);
  body.push(view.brain.text);
  body.push(...interventionLines(snap));
  if (snap.bad_files.length) body.push(`${snap.bad_files.length} unreadable file(s) on the mount: npm run status lists them`);
  body.push('GPUs');
  if (snap.gpus.length === 0) body.push('  (none known: no config)');
  const maxPower = snap.config?.resource_limits.max_power_w ?? null;
  for (const g of snap.gpus) body.push(...gpuLines(g, view, maxPower, width));
  const q = view.queue;
  body.push(`Queue   waiting ${q.waiting} · queued ${q.queued} · running ${q.processing} · complete ${q.complete} · failed ${q.failed}`);
  return [...body, ...batchLines(view, width), ...waitingLines(view), ...decisionLines(snap)];
}

export function renderWatch(snap: RigSnapshot, opts: WatchOptions, view: StatusView = summarize(snap)): string {
  const width = Math.max(1, Math.floor(opts.width) || 100);
  const body = bodyLines(snap, view, width);
  const clock = new Date(snap.now).toISOString();
  const refresh = opts.intervalMs ? ` · refresh ${opts.intervalMs} ms` : '';
  const footer = `${clock.slice(0, 19).replace('T', ' ')}Z${refresh} · q or Ctrl-C to quit`;
  // The body is cut, not the footer: it says the screen is live and how to leave.
  const room = opts.height ? Math.max(0, Math.floor(opts.height) - 1) : body.length;
  const shown = body.length > room ? [...body.slice(0, Math.max(0, room - 1)), `… ${body.length - room + 1} more lines`].slice(0, room) : body;
  return [...shown, footer].map((l) => fit(printable(l, Infinity), width)).join('\n');
}
