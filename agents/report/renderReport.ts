// The batch report (plans/<plan>/batches/<id>/report.html): one self-contained HTML page that
// opens from the mount in any browser, without a server and with JavaScript off. Pure: data
// in, one string out. Everything it draws came from files others wrote (task names, reasons,
// stderr), so every value passes through esc(); the page names no external resource (no
// script, link, image or url() at all), so opening it reaches nothing beyond the file.
import type { Task } from '../core/task.ts';
import type { BatchSummary } from '../brain/summary.ts';
import type { LlmTotal } from '../brain/llmTotals.ts';
import type { TelemetrySample } from './telemetrySeries.ts';

/** Bounds that keep the page small whatever the batch: the rest is counted in a note. */
export const MAX_ATTEMPTS_DRAWN = 400;
export const MAX_FAILURES_SHOWN = 50;
export const MAX_TASK_ROWS = 500;
export const STDERR_LINES = 30;
export const STDERR_CHARS = 4_000;

/** Solid fills of the Gantt's bars, by what the attempt came to. Tests look for these pixels. */
export const BAR_COLOURS = {
  success: '#1a9e4a',
  app: '#d7263d', // the task's own failure: failed, timeout, blocked
  infra: '#f39c12', // the rig's: killed, lost, oom, error
  running: '#2f6fdd',
  other: '#7f8c8d', // cancelled, needs_approval, and the rest
} as const;

const LINE_COLOURS = ['#2f6fdd', '#d7263d', '#1a9e4a', '#8e44ad', '#f39c12', '#16a2b8', '#c0392b', '#2c3e50'];

export interface ReportInput {
  summary: BatchSummary;
  batch: { submitted_at: string; started_at: string | null; finished_at: string | null };
  /** The batch's tasks (the summary task left out), their attempts and results. */
  tasks: Task[];
  samples: TelemetrySample[];
  /** Each failed attempt's stderr tail, by `<task id>#<attempt>`; null: not readable. */
  stderr: Record<string, string[] | null>;
  /** When the report is made, ms: the end of an attempt still open. */
  now: number;
}

interface Bar {
  task: Task;
  attempt: number;
  agent: string;
  start: number;
  end: number;
  outcome: string;
  kind: keyof typeof BAR_COLOURS;
  reason: string | null;
  exit_code: number | null;
  open: boolean;
}

// C0 and C1 controls (tab and newline kept where text is preformatted) and the line separators.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Text from the mount made safe as HTML text or a quoted attribute value. */
export function esc(value: unknown): string {
  return String(value)
    .replace(CONTROL, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** One line of text: newlines and tabs flattened, cut to `max` characters. */
function line(value: string, max = 300): string {
  const flat = value.replace(/[\r\n\t]+/g, ' ');
  return esc(flat.length > max ? flat.slice(0, max - 1) + '…' : flat);
}

function kindOf(outcome: string, open: boolean): Bar['kind'] {
  if (open) return 'running';
  if (outcome === 'success') return 'success';
  if (['failed', 'timeout', 'blocked'].includes(outcome)) return 'app';
  if (['killed', 'lost', 'oom', 'error'].includes(outcome)) return 'infra';
  return 'other';
}

function time(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

/** Every attempt of every task, plus a claim not yet recorded as an attempt, in start order. */
export function attemptBars(tasks: readonly Task[], now: number): Bar[] {
  const bars: Bar[] = [];
  for (const task of tasks) {
    for (const a of task.attempts) {
      const start = time(a.claimed_at);
      if (start === null) continue;
      const end = time(a.finished_at);
      bars.push({ task, attempt: a.attempt, agent: a.agent, start, end: end ?? now, outcome: a.outcome, kind: kindOf(a.outcome, end === null), reason: a.reason, exit_code: a.exit_code, open: end === null });
    }
    const claimed = time(task.claimed_at);
    if (task.claimed_by && claimed !== null && task.attempt >= 1 && !task.attempts.some((a) => a.attempt === task.attempt)) {
      bars.push({ task, attempt: task.attempt, agent: task.claimed_by, start: claimed, end: now, outcome: 'running', kind: 'running', reason: null, exit_code: null, open: true });
    }
  }
  return bars.sort((x, y) => x.start - y.start || x.task.name.localeCompare(y.task.name));
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return s < 10 ? s.toFixed(2) : s < 100 ? s.toFixed(1) : s.toFixed(0);
}

function num(n: number | null | undefined, digits = 0): string {
  return n === null || n === undefined ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

interface Span { from: number; to: number }

function ticks(span: Span, width: number, left: number, top: number, height: number): string {
  const out: string[] = [];
  const n = 6;
  for (let i = 0; i <= n; i++) {
    const x = left + (width * i) / n;
    const ms = ((span.to - span.from) * i) / n;
    out.push(`<line x1="${x.toFixed(1)}" y1="${top}" x2="${x.toFixed(1)}" y2="${top + height}" class="grid"/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${top + height + 14}" text-anchor="middle" class="axis">+${seconds(ms)} s</text>`);
  }
  return out.join('');
}

const PLOT_LEFT = 150;
const PLOT_WIDTH = 900;

function gantt(bars: Bar[], span: Span): string {
  const lanes = [...new Set(bars.map((b) => b.agent))].sort();
  if (lanes.length === 0) return '<p class="note">No task of this batch ran on an agent.</p>';
  const laneH = 30;
  const top = 10;
  const height = lanes.length * laneH;
  const scale = PLOT_WIDTH / Math.max(1, span.to - span.from);
  const parts: string[] = [];
  lanes.forEach((lane, i) => {
    const y = top + i * laneH;
    if (i % 2 === 0) parts.push(`<rect x="${PLOT_LEFT}" y="${y}" width="${PLOT_WIDTH}" height="${laneH}" class="lane"/>`);
    parts.push(`<text x="${PLOT_LEFT - 8}" y="${y + laneH / 2 + 4}" text-anchor="end" class="label">${line(lane, 24)}</text>`);
  });
  parts.push(ticks(span, PLOT_WIDTH, PLOT_LEFT, top, height));
  for (const b of bars) {
    const y = top + lanes.indexOf(b.agent) * laneH + 5;
    const x = PLOT_LEFT + (b.start - span.from) * scale;
    // A task of a few milliseconds still gets a bar one can see.
    const w = Math.max(4, (b.end - b.start) * scale);
    const tip = `${b.task.name} attempt ${b.attempt}: ${b.outcome}, ${seconds(b.end - b.start)} s${b.reason ? ` (${b.reason})` : ''}`;
    parts.push(`<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${laneH - 10}" fill="${BAR_COLOURS[b.kind]}" class="bar"><title>${line(tip, 400)}</title></rect>`);
    if (w > 60) parts.push(`<text x="${(x + 4).toFixed(1)}" y="${y + 14}" class="barlabel">${line(b.task.name, Math.floor(w / 7))}</text>`);
  }
  const legend = Object.entries(BAR_COLOURS)
    .map(([k, c]) => `<span class="key"><span class="swatch" style="background:${c}"></span>${esc(k)}</span>`)
    .join(' ');
  return `<svg class="chart" width="${PLOT_LEFT + PLOT_WIDTH + 20}" height="${top + height + 24}" role="img" aria-label="timeline of every attempt per GPU">${parts.join('')}</svg><p class="legend">${legend}</p>`;
}

function lineChart(samples: TelemetrySample[], span: Span, title: string, unit: string, value: (s: TelemetrySample) => number | null, yMax: number): string {
  const points = samples.filter((s) => value(s) !== null);
  if (points.length === 0) return `<h3>${esc(title)}</h3><p class="note">No readings over the batch.</p>`;
  const top = 10;
  const height = 160;
  const max = Math.max(yMax, ...points.map((s) => value(s)!));
  const scale = PLOT_WIDTH / Math.max(1, span.to - span.from);
  const gpus = [...new Set(points.map((s) => s.agent))].sort();
  const parts: string[] = [ticks(span, PLOT_WIDTH, PLOT_LEFT, top, height)];
  for (const f of [0, 0.5, 1]) {
    const y = top + height * (1 - f);
    parts.push(`<text x="${PLOT_LEFT - 8}" y="${(y + 4).toFixed(1)}" text-anchor="end" class="axis">${num(max * f)} ${esc(unit)}</text>`);
  }
  gpus.forEach((g, i) => {
    const mine = points.filter((s) => s.agent === g);
    const xy = mine.map((s) => `${(PLOT_LEFT + Math.max(0, Math.min(span.to, s.t) - span.from) * scale).toFixed(1)},${(top + height * (1 - value(s)! / max)).toFixed(1)}`);
    const colour = LINE_COLOURS[i % LINE_COLOURS.length];
    // One sample is a point, not a line: a short tick marks it.
    if (xy.length === 1) xy.push(xy[0]!.replace(/^([\d.]+)/, (x) => String(Number(x) + 4)));
    parts.push(`<polyline points="${xy.join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`);
  });
  const legend = gpus.map((g, i) => `<span class="key"><span class="swatch" style="background:${LINE_COLOURS[i % LINE_COLOURS.length]}"></span>${esc(g)}</span>`).join(' ');
  return `<h3>${esc(title)}</h3><svg class="chart" width="${PLOT_LEFT + PLOT_WIDTH + 20}" height="${top + height + 24}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg><p class="legend">${legend}</p>`;
}

function stderrBlock(lines: string[] | null | undefined): string {
  if (lines === undefined) return '';
  if (lines === null) return '<p class="note">stderr: not readable (the attempt wrote none, or it is gone).</p>';
  if (lines.length === 0) return '<p class="note">stderr: empty.</p>';
  let text = lines.slice(-STDERR_LINES).map((l) => (l.length > 500 ? l.slice(0, 499) + '…' : l)).join('\n');
  if (text.length > STDERR_CHARS) text = '…' + text.slice(-STDERR_CHARS);
  return `<pre class="stderr">${esc(text)}</pre>`;
}

function failures(input: ReportInput, bars: Bar[]): string {
  const failed = bars.filter((b) => !b.open && b.outcome !== 'success');
  const notRun = input.summary.tasks.filter((t) => t.attempts === 0 && t.state !== 'complete' && t.state !== 'skipped' && t.reason);
  const skipped = skippedList(input);
  if (failed.length === 0 && notRun.length === 0) return '<p class="note">No attempt failed.</p>' + skipped;
  const shown = failed.slice(0, MAX_FAILURES_SHOWN);
  const items = shown.map((b) => {
    const exit = b.exit_code === null ? '' : `, exit ${b.exit_code}`;
    return `<div class="failure"><h3>${line(b.task.name, 80)}: attempt ${b.attempt} of ${b.task.max_attempts} on ${line(b.agent, 40)}: ${esc(b.outcome)}${esc(exit)}</h3>`
      + `<p>${b.reason ? line(b.reason, 1000) : '<span class="note">no reason recorded</span>'}</p>${stderrBlock(input.stderr[`${b.task.id}#${b.attempt}`])}</div>`;
  });
  const more = failed.length > shown.length ? `<p class="note">${failed.length - shown.length} more failed attempts are not shown.</p>` : '';
  const never = notRun.length
    ? `<h3>Never ran</h3><ul>${notRun.slice(0, MAX_FAILURES_SHOWN).map((t) => `<li>${line(t.name, 80)}: ${esc(t.state)}: ${line(t.reason ?? '', 500)}</li>`).join('')}</ul>`
    : '';
  return items.join('') + more + never + skipped;
}

/** Tasks a gate's "no" skipped: not failures, listed apart with the gate's reason. */
function skippedList(input: ReportInput): string {
  const skipped = input.summary.tasks.filter((t) => t.state === 'skipped');
  if (!skipped.length) return '';
  const more = skipped.length > MAX_FAILURES_SHOWN ? `<p class="note">${skipped.length - MAX_FAILURES_SHOWN} more skipped tasks are not shown.</p>` : '';
  return `<h3>Skipped: a gate said no</h3><ul>${skipped.slice(0, MAX_FAILURES_SHOWN).map((t) => `<li>${line(t.name, 80)}: ${line(t.reason ?? '', 500)}</li>`).join('')}</ul>${more}`;
}

function llmRows(rows: Record<string, LlmTotal>, head: string): string {
  const body = Object.entries(rows)
    .map(([k, t]) => `<tr><td>${line(k, 80)}</td><td>${t.tasks}</td><td>${num(t.prompt_tokens)}</td><td>${num(t.output_tokens)}</td><td>${num(t.tok_s, 1)}</td><td>${num(t.gpu_s, 1)}</td><td>${num(t.energy_wh, 2)}</td></tr>`)
    .join('');
  return `<table><tr><th>${esc(head)}</th><th>tasks</th><th>prompt tokens</th><th>output tokens</th><th>tok/s</th><th>GPU s</th><th>energy Wh</th></tr>${body}</table>`;
}

function usage(s: BatchSummary): string {
  if (!s.llm) return '<p class="note">No LLM work in this batch: no tokens counted, no energy measured.</p>';
  const all = Object.values(s.llm.by_model);
  const tokens = all.reduce((n, t) => n + t.prompt_tokens + t.output_tokens, 0);
  const wh = all.some((t) => t.energy_wh !== null) ? all.reduce((n, t) => n + (t.energy_wh ?? 0), 0) : null;
  return `<p>${num(tokens)} tokens in all; ${wh === null ? 'no power readings' : `${num(wh, 2)} Wh`}.</p>${llmRows(s.llm.by_model, 'model')}${llmRows(s.llm.by_agent, 'agent')}`;
}

function taskTable(s: BatchSummary): string {
  const rows = s.tasks.slice(0, MAX_TASK_ROWS).map(
    (t) => `<tr class="${esc(t.state)}"><td>${line(t.name, 80)}</td><td>${esc(t.state)}</td><td>${t.attempts}</td><td>${t.duration_ms === null ? '' : seconds(t.duration_ms)}</td><td>${line(t.reason ?? '', 200)}</td></tr>`,
  );
  const more = s.tasks.length > MAX_TASK_ROWS ? `<p class="note">${s.tasks.length - MAX_TASK_ROWS} more tasks are not listed (summary.json has them all).</p>` : '';
  return `<table><tr><th>task</th><th>state</th><th>attempts</th><th>seconds</th><th>reason</th></tr>${rows.join('')}</table>${more}`;
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #ddd}h3{font-size:14px;margin:12px 0 4px}
.note{color:#666}.chart{display:block}.lane{fill:#f4f6f8}.grid{stroke:#e0e0e0}.axis{font-size:11px;fill:#666}.label{font-size:12px;fill:#222}
.barlabel{font-size:11px;fill:#fff}.legend{margin:4px 0 0 150px}.key{margin-right:14px}.swatch{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f4f6f8}
tr.failed td,tr.not_run td{background:#fdecee}tr.skipped td{background:#f4f6f8;color:#666}pre.stderr{background:#1e1e1e;color:#eee;padding:8px;max-height:320px;overflow:auto;white-space:pre-wrap}
.failure{border-left:4px solid ${BAR_COLOURS.app};padding-left:10px;margin:10px 0}`;

/** The whole report page. */
export function renderReport(input: ReportInput): string {
  const s = input.summary;
  const allBars = attemptBars(input.tasks, input.now);
  const bars = allBars.slice(0, MAX_ATTEMPTS_DRAWN);
  const from = Math.min(...bars.map((b) => b.start), time(input.batch.started_at) ?? Infinity);
  const to = Math.max(...bars.map((b) => b.end), time(input.batch.finished_at) ?? -Infinity);
  const span: Span = Number.isFinite(from) && Number.isFinite(to) && to > from ? { from, to } : { from: input.now - 1000, to: input.now };
  const samples = input.samples.filter((x) => x.t >= span.from - 2000 && x.t <= span.to + 2000);
  const cut = allBars.length > bars.length ? `<p class="note">The first ${bars.length} of ${allBars.length} attempts are drawn.</p>` : '';
  const title = `Batch ${s.batch} (${s.plan}): ${s.state}`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}</style></head><body>
<h1>${esc(title)}</h1>
<p>${s.counts.complete} of ${s.counts.total} tasks complete, ${s.counts.skipped ? `${s.counts.skipped} skipped (a gate said no), ` : ''}${s.counts.failed} failed or not run. Submitted ${esc(input.batch.submitted_at)}; started ${esc(input.batch.started_at ?? '–')}; timeline from ${esc(new Date(span.from).toISOString())}, ${seconds(span.to - span.from)} s.</p>
<h2 id="timeline">Timeline: every attempt per GPU</h2>
${gantt(bars, span)}${cut}
<h2 id="telemetry">VRAM and temperature</h2>
${lineChart(samples, span, 'VRAM used', '%', (x) => (x.vram_used_mb !== null && x.vram_total_mb ? (100 * x.vram_used_mb) / x.vram_total_mb : null), 100)}
${lineChart(samples, span, 'Temperature', '°C', (x) => x.temperature_c, 90)}
<h2 id="failures">Failures</h2>
${failures(input, allBars)}
<h2 id="usage">Tokens and energy</h2>
${usage(s)}
<h2 id="tasks">Tasks</h2>
${taskTable(s)}
</body></html>
`;
}
