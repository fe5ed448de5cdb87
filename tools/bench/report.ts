// Rendering only (pure): the headline figures with their targets, the table a person reads
// and the JSON object a machine reads. Nothing here measures or touches a file.
import type { LlmResult } from './llm.ts';
import type { BenchResult } from './runBench.ts';
import { minus, ratio, round } from './stats.ts';

export interface Headline {
  /** Rig tasks/s over the parallel spawn limit's tasks/s. */
  throughput_ratio: number | null;
  /** Median hop minus the median sequential spawn, ms. */
  hop_overhead_ms: number | null;
  /** Median hop with the history archived over the median hop on the empty mount. */
  scale_ratio: number | null;
  /** The brain's peak resident memory with the history archived, MB. */
  brain_rss_mb: number | null;
  /** Rig CPU with nothing to do, in cores. */
  idle_core_fraction: number | null;
  /** `forge status --json` on an idle rig, median wall ms. */
  status_json_ms: number | null;
  /** GPU idle gap (previous end to next claim), median, ms. */
  idle_gap_ms_median: number | null;
  /** Rig tasks/s over BullMQ's. */
  vs_bullmq_throughput: number | null;
  /** Rig median hop over BullMQ's. */
  vs_bullmq_hop: number | null;
  /** Brain + agents (+ launcher) CPU per task in the throughput run, ms (workers and simulators apart). */
  coord_cpu_ms_per_task: number | null;
  /** A big foreach: submit to the first item's claim, s. */
  bigbatch_first_claim_s: number | null;
  /** The brain's peak resident memory during the big foreach, MB. */
  bigbatch_brain_rss_mb: number | null;
  /** `forge status --json` while the big foreach runs, median wall ms. */
  bigbatch_status_ms: number | null;
}

export type HeadlineKey = keyof Headline;

interface Target {
  key: HeadlineKey;
  text: string;
  met: (v: number) => boolean;
}

export const TARGETS: Target[] = [
  { key: 'throughput_ratio', text: '>= 0.9', met: (v) => v >= 0.9 },
  { key: 'hop_overhead_ms', text: '<= 50 ms', met: (v) => v <= 50 },
  { key: 'scale_ratio', text: '<= 1.2', met: (v) => v <= 1.2 },
  { key: 'brain_rss_mb', text: '<= 200 MB', met: (v) => v <= 200 },
  { key: 'idle_core_fraction', text: '<= 0.01', met: (v) => v <= 0.01 },
  { key: 'idle_gap_ms_median', text: '<= 100 ms', met: (v) => v <= 100 },
  { key: 'status_json_ms', text: '<= 150 ms', met: (v) => v <= 150 },
  { key: 'vs_bullmq_throughput', text: '>= 1', met: (v) => v >= 1 },
  { key: 'vs_bullmq_hop', text: '<= 0.5', met: (v) => v <= 0.5 },
  { key: 'coord_cpu_ms_per_task', text: '<= 10 ms', met: (v) => v <= 10 },
  { key: 'bigbatch_first_claim_s', text: '<= 3 s', met: (v) => v <= 3 },
  { key: 'bigbatch_brain_rss_mb', text: '<= 250 MB', met: (v) => v <= 250 },
  { key: 'bigbatch_status_ms', text: '<= 500 ms', met: (v) => v <= 500 },
];

/** What each headline figure is made of, to say why one is null. */
const NEEDS: Record<HeadlineKey, string> = {
  throughput_ratio: 'the throughput and limits measurements',
  hop_overhead_ms: 'the hop and limits measurements',
  scale_ratio: 'the scale and hop measurements',
  brain_rss_mb: 'the scale measurement (and a running brain to read /proc from)',
  idle_core_fraction: 'the idle measurement',
  idle_gap_ms_median: 'the idle-gap measurement',
  status_json_ms: 'the idle measurement',
  vs_bullmq_throughput: 'the BullMQ peer and the throughput measurement',
  vs_bullmq_hop: 'the BullMQ peer and the hop measurement',
  coord_cpu_ms_per_task: 'the throughput measurement',
  bigbatch_first_claim_s: 'the bigbatch measurement (an item claimed)',
  bigbatch_brain_rss_mb: 'the bigbatch measurement (and a running brain to read /proc from)',
  bigbatch_status_ms: 'the bigbatch measurement',
};

/**
 * The spawn floor the rig's figures are compared with: the one measured right before the rig
 * ran when there is one (same load on the machine), else the limits part's.
 */
export function rigFloor(r: BenchResult): { sequentialMs: number | null; parallelTps: number | null; bootMs: number | null } {
  const b = r.baselines.rig;
  return {
    sequentialMs: b?.sequential.median_ms ?? r.limits?.sequential.median_ms ?? null,
    parallelTps: b?.parallel.tasks_per_s ?? r.limits?.parallel.tasks_per_s ?? null,
    bootMs: b?.sequential.boot_median_ms ?? r.limits?.sequential.boot_median_ms ?? null,
  };
}

/** Rig over BullMQ after dividing each by the spawn floor measured right before it. */
export function loadAdjustedVsBullmq(r: BenchResult): number | null {
  const rig = ratio(r.throughput?.tasks_per_s, rigFloor(r).parallelTps);
  const bull = ratio(r.bullmq?.throughput.tasks_per_s, r.baselines.bullmq?.parallel.tasks_per_s ?? r.limits?.parallel.tasks_per_s);
  return ratio(rig, bull);
}

/** The empty-mount hop the scale cases are compared with: the scale part's own, else the hop part's. */
export function scaleReference(r: BenchResult): number | null {
  return r.scale?.empty.hop.hop.median_ms ?? r.hop?.hop.median_ms ?? null;
}

/** The simulated nvidia-smi's CPU per task in the throughput run, estimated from its calls and their measured price, ms. */
export function smiMsPerTask(r: BenchResult): number | null {
  const T = r.throughput;
  if (!T || !r.smi_cost || T.tasks === 0) return null;
  return (T.smi_calls.hits * r.smi_cost.hitMs + T.smi_calls.misses * r.smi_cost.missMs) / T.tasks;
}

export function headline(r: BenchResult): Headline {
  const floor = rigFloor(r);
  return {
    throughput_ratio: ratio(r.throughput?.tasks_per_s, floor.parallelTps),
    hop_overhead_ms: minus(r.hop?.hop.median_ms, floor.sequentialMs),
    scale_ratio: ratio(r.scale?.archived.hop.hop.median_ms, scaleReference(r)),
    brain_rss_mb: r.scale?.archived.brain_peak_rss_mb ?? null,
    idle_core_fraction: r.idle?.core_fraction ?? null,
    idle_gap_ms_median: r.idle_gap?.to_claim.median_ms ?? null,
    status_json_ms: r.idle?.status_json?.median_ms ?? null,
    vs_bullmq_throughput: ratio(r.throughput?.tasks_per_s, r.bullmq?.throughput.tasks_per_s),
    vs_bullmq_hop: ratio(r.hop?.hop.median_ms, r.bullmq?.hop.hop.median_ms),
    coord_cpu_ms_per_task: r.throughput?.cpu.coord_ms_per_task ?? null,
    bigbatch_first_claim_s: r.bigbatch?.first_claim_s ?? null,
    bigbatch_brain_rss_mb: r.bigbatch?.brain_rss_peak_mb ?? null,
    bigbatch_status_ms: r.bigbatch?.status_ms ?? null,
  };
}

/** Notes for every null headline figure, after the run's own notes. */
export function headlineNotes(h: Headline): string[] {
  return (Object.keys(h) as HeadlineKey[]).filter((k) => h[k] === null).map((k) => `${k}: null: needs ${NEEDS[k]}, which gave no figure (see the notes above)`);
}

export function verdicts(h: Headline): Record<HeadlineKey, { value: number | null; target: string; met: boolean | null }> {
  const out = {} as Record<HeadlineKey, { value: number | null; target: string; met: boolean | null }>;
  for (const t of TARGETS) {
    const v = h[t.key];
    out[t.key] = { value: round(v), target: t.text, met: v === null ? null : t.met(v) };
  }
  return out;
}

/** The object --json prints: headline figures at the top level, then everything measured. */
export function toJson(r: BenchResult): Record<string, unknown> {
  const h = headline(r);
  const rounded = Object.fromEntries(Object.entries(h).map(([k, v]) => [k, round(v)]));
  return {
    ...rounded,
    hop_ms_median: round(r.hop?.hop.median_ms ?? null),
    hop_ms_p95: round(r.hop?.hop.p95_ms ?? null),
    hop_coordination_ms: round(minus(r.hop?.hop.median_ms, rigFloor(r).bootMs)),
    spawn_sequential_ms: round(rigFloor(r).sequentialMs),
    spawn_parallel_tasks_per_s: round(rigFloor(r).parallelTps),
    vs_bullmq_throughput_load_adjusted: round(loadAdjustedVsBullmq(r)),
    throughput_tasks_per_s: round(r.throughput?.tasks_per_s ?? null),
    idle_gap_ms_p95: round(r.idle_gap?.to_claim.p95_ms ?? null),
    scale_ratio_worst: round(ratio(r.scale?.in_complete.hop.hop.median_ms, scaleReference(r))),
    brain_rss_mb_worst: round(r.scale?.in_complete.brain_peak_rss_mb ?? null),
    history_archive_s_worst: round(r.scale?.in_complete.archive_s ?? null),
    llm_speedup: round(r.llm?.speedup ?? null),
    llm_tok_s: round(r.llm?.multi?.tok_s ?? null),
    llm_tok_s_one_gpu: round(r.llm?.single?.tok_s ?? null),
    bullmq_coord_cpu_ms_per_task: round(r.bullmq?.cpu?.coord_ms_per_task ?? null),
    hop_ms_median_no_preboot: round(r.no_preboot?.hop?.hop.median_ms ?? null),
    throughput_tasks_per_s_no_preboot: round(r.no_preboot?.throughput?.tasks_per_s ?? null),
    simulator_smi_ms_per_task: round(smiMsPerTask(r)),
    bigbatch_done_once: r.bigbatch?.done_once ?? null,
    bigbatch_done_once_so_far: r.bigbatch?.done_once_so_far ?? null,
    bigbatch_tasks_per_s: round(r.bigbatch?.tasks_per_s ?? null),
    bigbatch_release_per_s: round(r.bigbatch?.release_per_s ?? null),
    bigbatch_vs_throughput: round(ratio(r.bigbatch?.tasks_per_s, r.throughput?.tasks_per_s)),
    notes: [...r.notes, ...headlineNotes(h)],
    targets: verdicts(h),
    mode: r.mode,
    worker_entry: r.worker_entry,
    machine: r.machine,
    wall_s: round(r.wall_s),
    counts: r.counts,
    details: { limits: r.limits, baselines: r.baselines, throughput: r.throughput, file_ops: r.file_ops, no_preboot: r.no_preboot, smi_cost: r.smi_cost, hop: r.hop, idle_gap: r.idle_gap, scale: r.scale, idle: r.idle, bullmq: r.bullmq, llm: r.llm, bigbatch: r.bigbatch },
  };
}

// ---- the table ----

interface Row {
  part: string;
  figure: string;
  value: string;
  ratio: string;
  target: string;
  met: string;
}

export const num = (v: number | null | undefined, unit = '', digits = 0): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '-' : `${v.toFixed(digits)}${unit}`;
const times = (v: number | null): string => (v === null ? '-' : `${v.toFixed(2)}x`);
const metText = (m: boolean | null | undefined): string => (m === null || m === undefined ? '' : m ? 'met' : 'MISSED');

/** The LLM part's rows (pure): each rig's wall, tokens/s and loads, then the speed-up. */
export function llmRows(L: LlmResult | null): Array<[figure: string, value: string, detail: string]> {
  if (!L) return [['not measured', '-', '']];
  const rows: Array<[string, string, string]> = [];
  for (const x of [L.multi, L.single]) {
    if (!x) continue;
    const agents = Object.entries(x.per_agent).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`).join(', ');
    rows.push([
      `${x.gpus} GPU${x.gpus === 1 ? '' : 's'}, ${x.tasks} generate tasks: submit to end`,
      num(x.wall_s, ' s', 1),
      `${num(x.tok_s, ' tok/s', 1)} (${x.output_tokens} output tokens); loads ${x.loads} (heats ${x.heats}); at most ${x.peak_requests} request${x.peak_requests === 1 ? '' : 's'} at once; tasks by agent: ${agents}; one request ${num(x.request_tok_s_median, ' tok/s', 0)} (median)`,
    ]);
  }
  rows.push([`speed-up: 1-GPU wall / ${L.multi?.gpus ?? '?'}-GPU wall`, times(L.speedup), `simulator.tok_s ${L.sim_tok_s}`]);
  for (const x of [L.multi, L.single]) {
    const a = x?.ask;
    if (!x || !a) continue;
    rows.push([`forge ask, ${x.gpus}-GPU rig, an agent hot (target < 2 s)`, num(a.median_ms, ' ms', 0), `median of ${a.runs - a.failures} (worst ${num(a.max_ms, ' ms', 0)}${a.failures ? `, ${a.failures} failed` : ''}), command start included; the model's part ${num(a.model_median_ms, ' ms', 0)} (median request_ms at simulator.tok_s)`]);
  }
  return rows;
}

export function renderTable(r: BenchResult): string {
  const h = headline(r);
  const v = verdicts(h);
  const rows: Row[] = [];
  const add = (part: string, figure: string, value: string, ratioText = '', key?: HeadlineKey) =>
    rows.push({ part, figure, value, ratio: ratioText, target: key ? v[key].target : '', met: key ? metText(v[key].met) : '' });
  const L = r.limits;
  if (L) {
    const s = L.sequential;
    add('1a limits', `worker spawn (${L.worker_entry}), sequential, median`, num(s.median_ms, ' ms'),
      `p95 ${num(s.p95_ms, ' ms')}; boot ${num(s.boot_median_ms)} + run ${num(s.run_median_ms)} + exit ${num(s.exit_median_ms)} ms`);
    if (L.sequential_tsx) {
      add('1a limits', 'worker spawn (tsx), sequential, median', num(L.sequential_tsx.median_ms, ' ms'),
        `${times(ratio(L.sequential_tsx.median_ms, s.median_ms))} the compiled entry; boot ${num(L.sequential_tsx.boot_median_ms)} ms`);
    }
    add('1a limits', `worker spawn, ${L.parallel.concurrency} in parallel`, num(L.parallel.tasks_per_s, ' tasks/s', 2),
      `${L.parallel.count} tasks in ${num(L.parallel.wall_s, ' s', 1)}`);
    for (const b of [r.baselines.rig, r.baselines.bullmq]) {
      if (!b) continue;
      add('1a limits', `again, right before ${b.before === 'rig' ? 'the rig' : 'BullMQ'} (load ${b.load})`, `${num(b.sequential.median_ms, ' ms')}; ${num(b.parallel.tasks_per_s, ' tasks/s', 2)}`,
        `sequential median; ${b.parallel.concurrency} in parallel${b.before === 'rig' ? ' (the rig is compared with these)' : ''}`);
    }
    add('1b limits', 'fs: write + 3 renames, per task', num(L.fs.per_task_us, ' us'),
      `write (tmp, fsync, rename) ${num(L.fs.write_us)} + claim ${num(L.fs.rename_queue_to_processing_us)} + complete ${num(L.fs.rename_processing_to_complete_us)} us`);
  } else add('1 limits', 'not measured', '-');
  const floor = rigFloor(r);
  const T = r.throughput;
  add('2 throughput', T ? `rig, ${T.tasks} tasks, ${Object.keys(T.per_agent).length} agents` : 'rig: not measured', num(T?.tasks_per_s, ' tasks/s', 2),
    `${times(h.throughput_ratio)} parallel spawn limit${T ? `; peak ${T.peak_concurrency} workers; end to end ${num(T.end_to_end_s, ' s', 1)}` : ''}`, 'throughput_ratio');
  if (T) {
    const c = T.cpu;
    const roles = Object.entries(c.by_role_ms_per_task).sort((a, b) => b[1] - a[1]).map(([k, ms]) => `${k} ${num(ms, '', 2)}`).join(', ');
    add('2 throughput', 'coordination CPU per task (launcher, brain, agents)', num(c.coord_ms_per_task, ' ms', 2),
      `${roles} ms; workers and nvidia-smi (the agents' exited children) ${num(c.agent_children_ms_per_task, ' ms', 1)}, of it the simulated nvidia-smi about ${num(smiMsPerTask(r), ' ms', 2)} (${T.smi_calls.hits} cached + ${T.smi_calls.misses} node calls); simulated Ollama ${num(c.simulator_ollama_ms_per_task, ' ms', 2)}`,
      'coord_cpu_ms_per_task');
  }
  if (r.file_ops) {
    for (const [who, c] of Object.entries(r.file_ops)) {
      add('2 throughput', `file work per task, ${who} (strace)`, `${num(c.reads, '', 1)} reads`,
        `${num(c.writes, '', 1)} writes, ${num(c.renames, '', 1)} renames, ${num(c.fsyncs, '', 1)} fsyncs, ${num(c.dir_scans, '', 1)} folder listings, ${num(c.stats, '', 1)} stats, ${num(c.appends, '', 1)} appends, ${num(c.unlinks, '', 1)} unlinks`);
    }
  }
  const NP = r.no_preboot;
  if (NP) {
    add('2 throughput', `without preboot: ${NP.throughput?.tasks ?? '-'} tasks`, num(NP.throughput?.tasks_per_s, ' tasks/s', 2),
      `with preboot ${num(T?.tasks_per_s, ' tasks/s', 2)} (${times(ratio(T?.tasks_per_s, NP.throughput?.tasks_per_s))})`);
  }
  const H = r.hop;
  add('3 hop', H ? `chain of ${H.links}: median (p95)` : 'not measured', H ? `${num(H.hop.median_ms, ' ms')} (${num(H.hop.p95_ms, ' ms')})` : '-',
    `${h.hop_overhead_ms === null ? '-' : `${h.hop_overhead_ms >= 0 ? '+' : ''}${h.hop_overhead_ms.toFixed(0)} ms`} over a sequential spawn; ${times(ratio(H?.hop.median_ms, floor.sequentialMs))}`, 'hop_overhead_ms');
  if (H) {
    const st = H.steps;
    add('3 hop', 'steps, median: flush / release / claim / start', `${num(st.flush.median_ms)} / ${num(st.release.median_ms)} / ${num(st.claim.median_ms)} / ${num(st.start.median_ms)} ms`,
      `start = processing write + spawn + worker boot (boot alone: ${num(floor.bootMs, ' ms')}); hop - boot = ${num(minus(H.hop.median_ms, floor.bootMs), ' ms')} added by the rig`);
  }
  if (NP?.hop) {
    add('3 hop', `without preboot: chain of ${NP.hop.links}: median (p95)`, `${num(NP.hop.hop.median_ms, ' ms')} (${num(NP.hop.hop.p95_ms, ' ms')})`,
      `with preboot ${times(ratio(H?.hop.median_ms, NP.hop.hop.median_ms))} of it; steps ${num(NP.hop.steps.flush.median_ms)} / ${num(NP.hop.steps.release.median_ms)} / ${num(NP.hop.steps.claim.median_ms)} / ${num(NP.hop.steps.start.median_ms)} ms`);
  }
  const S = r.scale;
  if (S) {
    add('4 scale', `hop, empty mount (reference), chain of ${S.empty.hop.links}`, `${num(S.empty.hop.hop.median_ms, ' ms')} (${num(S.empty.hop.hop.p95_ms, ' ms')})`,
      `the same mount just before the history was written; brain RSS ${num(S.empty.brain_peak_rss_mb, ' MB')}`);
    for (const c of [S.archived, S.in_complete]) {
      const realistic = c.where === 'archive';
      const where = realistic ? 'archive/' : 'complete/ (worst)';
      add('4 scale', `hop, ${S.history_tasks} old tasks in ${where}, chain of ${c.hop.links}`, `${num(c.hop.hop.median_ms, ' ms')} (${num(c.hop.hop.p95_ms, ' ms')})`,
        `${times(ratio(c.hop.hop.median_ms, scaleReference(r)))} the empty mount; release step ${num(c.hop.steps.release.median_ms, ' ms')} (empty: ${num(S.empty.hop.steps.release.median_ms, ' ms')})` +
          (c.archive_s === null ? '' : `; measured after the brain archived them, ${num(c.archive_s, ' s', 1)} after the launcher started`),
        realistic ? 'scale_ratio' : undefined);
      add('4 scale', `brain RSS, peak (now), ${where}`, `${num(c.brain_peak_rss_mb, ' MB')} (${num(c.brain_rss_mb, ' MB')})`,
        `rig start ${num(c.rig_start_s, ' s', 1)}`, realistic ? 'brain_rss_mb' : undefined);
    }
  } else add('4 scale', 'not measured', '-', '', 'scale_ratio');
  const I = r.idle;
  add('5 idle', I ? `rig CPU, ${I.gpus} agents, ${num(I.seconds, ' s')} idle` : 'not measured', I ? `${num(I.core_fraction * 100, ' % of a core', 2)}` : '-',
    I ? `simulators apart: ${num(I.simulator_core_fraction * 100, '%', 2)} (Ollama servers, and ${I.smi_calls.hits} cached + ${I.smi_calls.misses} node nvidia-smi runs)` : '', 'idle_core_fraction');
  if (I) {
    const roles = Object.entries(I.by_role).filter(([k]) => !k.startsWith('sim ')).sort((a, b) => b[1].own + b[1].children - a[1].own - a[1].children);
    add('5 idle', 'by process: own + its exited children (nvidia-smi, before the simulator is taken out)', '', roles.map(([k, c]) => `${k} ${num(c.own * 100, '', 2)}+${num(c.children * 100, '%', 2)}`).join(', '));
    const S = I.status_json;
    add('5 idle', `forge status --json on the idle rig, median of ${S?.runs ?? 0}`, S ? num(S.median_ms, ' ms') : '-', S ? `p90 ${num(S.p90_ms, ' ms')}; bare node -e 0: ${num(S.node_ms, ' ms')}; ${S.via}` : '', 'status_json_ms');
  }
  const G = r.idle_gap;
  add('6 idle gap', G ? `end -> next claim, ${G.gaps} gaps: median (p95)` : 'not measured', G ? `${num(G.to_claim.median_ms, ' ms')} (${num(G.to_claim.p95_ms, ' ms')})` : '-',
    G ? `end -> next worker's own start ${num(G.to_worker_start.median_ms, ' ms')} (${num(G.to_worker_start.p95_ms, ' ms')})` : '', 'idle_gap_ms_median');
  const B = r.bullmq;
  add('7 BullMQ', B ? `throughput, ${B.throughput.tasks} jobs, ${B.workers}x${B.concurrency_per_worker} concurrency` : 'not measured', num(B?.throughput.tasks_per_s, ' tasks/s', 2),
    `rig / BullMQ ${times(h.vs_bullmq_throughput)}; each over its own spawn floor: ${times(loadAdjustedVsBullmq(r))}`, 'vs_bullmq_throughput');
  if (B?.cpu) {
    add('7 BullMQ', 'coordination CPU per task (redis-server + BullMQ client)', num(B.cpu.coord_ms_per_task, ' ms', 2),
      `redis ${num(B.cpu.redis_ms_per_task, ' ms', 2)} + client ${num(B.cpu.client_ms_per_task, ' ms', 2)}; the rig ${num(h.coord_cpu_ms_per_task, ' ms', 2)}`);
  }
  add('7 BullMQ', B ? `hop, chain of ${B.hop.links}: median (p95)` : 'not measured', B ? `${num(B.hop.hop.median_ms, ' ms')} (${num(B.hop.hop.p95_ms, ' ms')})` : '-',
    `rig / BullMQ ${times(h.vs_bullmq_hop)}`, 'vs_bullmq_hop');
  for (const [figure, value, detail] of llmRows(r.llm)) add('8 llm', figure, value, detail);
  const Bb = r.bigbatch;
  const of = Bb ? `${Bb.items} items, window ${Bb.window}${Bb.finished ? '' : ' (stopped early)'}` : '';
  add('9 bigbatch', Bb ? `submit -> first item claim, ${of}` : 'not measured', num(Bb?.first_claim_s, ' s', 2),
    Bb ? `the manifest's task claimed at ${num(Bb.manifest_claim_s, ' s', 2)}` : '', 'bigbatch_first_claim_s');
  if (Bb) {
    add('9 bigbatch', 'brain RSS, peak (at the end)', `${num(Bb.brain_rss_peak_mb, ' MB')} (${num(Bb.brain_rss_end_mb, ' MB')})`, '', 'bigbatch_brain_rss_mb');
    add('9 bigbatch', `forge status --json during it, median of ${Bb.status_samples.length} samples`, num(Bb.status_ms, ' ms'),
      `slowest sample ${num(Math.max(0, ...Bb.status_samples.map((x) => x.median_ms)), ' ms')}; bare node -e 0 beside it: ${num(Bb.status_node_ms, ' ms')}; ${Bb.status_via ?? '-'}`, 'bigbatch_status_ms');
    add('9 bigbatch', 'items completed over the busy window', num(Bb.tasks_per_s, ' tasks/s', 1),
      `${times(ratio(Bb.tasks_per_s, T?.tasks_per_s))} the throughput part; releases ${num(Bb.release_per_s, '/s', 1)}; busy ${num(Bb.busy_s, ' s', 1)}`);
    const A = Bb.archive;
    rows.push({ part: '9 bigbatch', figure: 'every item done exactly once (archive)', value: Bb.done_once === null ? '-' : Bb.done_once ? 'yes' : 'NO',
      ratio: A ? `${A.children} archived, ${A.missing} missing, ${A.duplicates} duplicates, ${A.not_success} not successful; state ${Bb.state}` : `not checked (state ${Bb.state ?? '?'})`,
      target: 'exactly once', met: metText(Bb.done_once) });
    const S = Bb.runs_so_far;
    rows.push({ part: '9 bigbatch', figure: 'no item run twice so far (decision log, archive)', value: Bb.done_once_so_far === null ? '-' : Bb.done_once_so_far ? 'yes' : 'NO',
      ratio: S ? `${S.claimed} items claimed (${S.claimed_twice} twice), ${S.done} done (${S.done_twice} twice); ${S.archived} archived (${S.archived_duplicates} repeated, ${S.archived_not_success} not successful)` : 'not checked',
      target: 'none twice', met: metText(Bb.done_once_so_far) });
  }

  const head: Row = { part: 'part', figure: 'figure', value: 'value', ratio: 'ratio / detail', target: 'target', met: '' };
  const all = [head, ...rows];
  const w = (k: keyof Row) => Math.max(...all.map((x) => x[k].length));
  const line = (x: Row) => [x.part.padEnd(w('part')), x.figure.padEnd(w('figure')), x.value.padEnd(w('value')), x.target.padEnd(w('target')), x.met.padEnd(w('met')), x.ratio].join('  ').trimEnd();
  const m = r.machine;
  const out = [
    `Forge bench (${r.mode}), ${m.date}: ${m.cores} cores, ${m.cpu_model}, ${m.memory_gb} GB, ${m.disk}, Node ${m.node}; load ${m.load_start} -> ${m.load_end ?? '?'}; workers: ${r.worker_entry}`,
    '',
    line(head),
    ...rows.map(line),
  ];
  const notes = [...r.notes, ...headlineNotes(h)];
  if (notes.length) out.push('', 'notes:', ...notes.map((n) => `- ${n}`));
  out.push('', `bench wall time ${num(r.wall_s, ' s', 0)}`);
  return out.join('\n');
}
