// The text form of gpu-check's report: tables and lines for a person. Pure.
import type { GpuCheckReport } from './report.ts';
import type { Transition } from './transitions.ts';

const dash = '—';
const fmt = (n: number | null | undefined, unit = ''): string => (n === null || n === undefined ? dash : `${Math.round(n)}${unit}`);

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

function clock(ms: number, t0: number): string {
  const iso = new Date(ms).toISOString().slice(11, 23);
  const rel = (ms - t0) / 1000;
  return `${iso} (${rel >= 0 ? '+' : ''}${rel.toFixed(1)} s)`;
}

function transitionLines(ts: Transition[], t0: number): string[] {
  if (ts.length === 0) return ['  (none seen)'];
  return ts.map((t) => `  ${clock(t.at, t0)}  ${(t.from ?? 'start').padEnd(11)} -> ${t.to.padEnd(11)} ${t.reasons.join('; ')}`.trimEnd());
}

export function formatReport(r: GpuCheckReport): string {
  const t0 = Date.parse(r.started_at);
  const out: string[] = [];
  const g = r.gpu;
  out.push(`gpu-check (${r.mode}): GPU ${g.index} ${g.name}${g.driver ? `, driver ${g.driver}` : ''}, ${fmt(g.memory_total_mb, ' MiB')}, power limit ${fmt(g.power_limit_w, ' W')}`);
  out.push(`  nvidia-smi: ${r.preflight.nvidia_smi}`);
  const py = r.preflight.python;
  out.push(`  python: ${py ? `${py.executable} (Python ${py.version}, torch ${py.torch ?? 'missing'}, CUDA ${py.cuda === null ? '?' : py.cuda ? 'available' : 'not available'})` : 'not used'}`);
  for (const n of r.preflight.notes) out.push(`  ${n}`);
  out.push(`  started ${r.started_at}, took ${r.duration_s} s, ${r.samples} samples; batch ${r.batch.id ?? dash} ${r.batch.state ?? ''}`.trimEnd());
  out.push('');
  out.push(`Idle: ${fmt(r.idle.memory_used_mb, ' MiB')} used, ${fmt(r.idle.power_draw_w, ' W')}, ${fmt(r.idle.temperature_c, ' C')}`);
  out.push('Thresholds given to the agent (config.json resource_limits):');
  for (const w of r.thresholds.why) out.push(`  ${w}`);
  for (const w of r.thresholds.warnings) out.push(`  warning: ${w}`);
  out.push('');
  out.push('Per-task GPU memory, MiB (agent = peak_vram_mb it recorded; nvidia-smi = highest sum over the task\'s processes in --query-compute-apps):');
  out.push(
    ...table(
      ['task', 'outcome', 'worker pid', 'gpu pid', 'agent', 'nvidia-smi', 'script alloc (torch reserved)', 'diff', 'tolerance', 'ok'],
      r.memory.map((m) => [
        m.task,
        m.outcome,
        m.worker_pids.join(',') || dash,
        m.gpu_pids.join(',') || dash,
        fmt(m.agent_peak_mb),
        fmt(m.smi_peak_mb),
        `${fmt(m.script_requested_mb)} (${fmt(m.script_reserved_mb)})`,
        m.diff_mb === null ? dash : `${m.diff_mb >= 0 ? '+' : ''}${m.diff_mb} (${m.diff_percent}%)`,
        fmt(m.tolerance_mb),
        m.within ? 'yes' : 'NO',
      ]),
    ).map((l) => `  ${l}`),
  );
  out.push('');
  out.push("Agent health, from its heartbeats (sampled every ~0.5 s):");
  out.push(...transitionLines(r.health.heartbeat, t0));
  out.push('Agent health, from logs/brain_decisions.log (CONSTRAINED / HEALTHY lines):');
  out.push(...transitionLines(r.health.log, t0));
  out.push('');
  const m = r.gpu_max;
  out.push(`GPU max seen by nvidia-smi: ${fmt(m.temperature_c, ' C')}, ${fmt(m.power_draw_w, ' W')}, ${fmt(m.memory_used_mb, ' MiB')} used, ${fmt(m.utilization_percent, ' %')} utilization`);
  const a = r.agent_max;
  out.push(`GPU max in the agent's heartbeats: ${fmt(a.temperature_c, ' C')}, ${fmt(a.power_draw_w, ' W')}, ${fmt(a.vram_used_mb, ' MiB')} used`);
  if (r.notes.length) {
    out.push('');
    out.push('Notes:');
    for (const n of r.notes) out.push(`  ${n}`);
  }
  out.push('');
  out.push(
    r.verdict === 'PASS'
      ? `PASS: every task's memory as the agent reported it is within max(5%, 64 MiB) of nvidia-smi's, and the agent went constrained -> healthy`
      : `FAIL: ${r.verdict_reasons.join('; ')}`,
  );
  return out.join('\n') + '\n';
}

