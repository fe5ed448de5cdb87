// Formatting both screens share (status text and watch): durations, bars, cut lines, and
// the lines every screen starts with.
import type { TaskCounts } from '../core/batch.ts';
import type { Heartbeat } from '../core/heartbeat.ts';
import type { GpuView, RigSnapshot } from './snapshot.ts';
import type { RunningItem } from './view.ts';
import { formatMb } from './waitReason.ts';

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

export function pad(s: string, n: number): string {
  const len = [...s].length;
  return len >= n ? s : s + ' '.repeat(n - len);
}

export function num(n: number | null, unit: string): string {
  return n === null ? '?' : `${Math.round(n)}${unit}`;
}

export function healthText(h: Heartbeat): string {
  if (h.health === 'healthy') return 'healthy';
  return h.health_reasons.length ? `${h.health}: ${h.health_reasons.join(', ')}` : h.health;
}

export function progress(c: TaskCounts): { done: number; fraction: number | null } {
  const done = c.complete + c.failed + c.skipped;
  return { done, fraction: c.total > 0 ? done / c.total : null };
}

export function countsText(c: TaskCounts): string {
  return `waiting ${c.waiting} · queued ${c.queued} · running ${c.processing} · complete ${c.complete} · failed ${c.failed}${c.skipped ? ` · skipped ${c.skipped}` : ''}`;
}

export function gpuDeadText(g: GpuView): string {
  if (!g.heartbeat) return 'no heartbeat (agent not started?)';
  if (g.pid_alive === false) return `process gone: pid ${g.heartbeat.pid} on this host; last heartbeat ${formatDuration(g.age_s)} ago, seq ${g.heartbeat.seq}`;
  return `heartbeat stale: last ${formatDuration(g.age_s)} ago, seq ${g.heartbeat.seq} (agent down?)`;
}

export function runningText(r: RunningItem): string {
  const est = r.vram_estimate_mb !== null && r.task_class !== 'cpu' && r.task_class !== 'meta' ? `, est ${formatMb(r.vram_estimate_mb)}` : '';
  const peak = r.peak_vram_mb !== null ? `, peak ${formatMb(r.peak_vram_mb)}` : '';
  return `${r.task_id} (${r.task_class}${est}${peak}) for ${formatDuration(r.elapsed_s)}`;
}

/** Stuck tasks that need a person, first on every screen. */
export function interventionLines(snap: RigSnapshot): string[] {
  if (!snap.interventions.length) return [];
  return [
    `NEEDS A PERSON: ${snap.interventions.length} stuck task(s)`,
    ...snap.interventions.map((i) => `  ! ${i.task_id} on ${i.agent} since ${i.since}: ${i.reason}`),
  ];
}
