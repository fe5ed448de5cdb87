// The plan gpu-check submits: one script task per size, each with its own vram_estimate_mb
// (a plan field that takes no placeholder, hence a generated plan.md). The scripts are those
// of plans/gpu-check/scripts. Pure.

export interface CheckPlanSpec {
  /** MiB each task allocates, in task order. */
  sizesMb: readonly number[];
  /** Seconds each task holds its memory (and runs matmuls). */
  seconds: number;
  matmul: boolean;
  /** The program and first arguments that run one allocation, e.g. ['/usr/bin/python3', 'scripts/alloc.py']. */
  runner: readonly string[];
  /** MiB added to each size for the estimate: CUDA context, cuBLAS workspace, matmul buffers. */
  overheadMb: number;
}

/** Runner of the real workload. */
export function realRunner(python: string): string[] {
  return [python, 'scripts/alloc.py'];
}

/** Runner of the simulated workload (node is looked up on the worker's PATH). */
export function simRunner(node: string): string[] {
  return [node, 'scripts/sim-alloc.mjs'];
}

/** MiB a real task needs beyond its allocation: ~500 context + 384 matmul buffers + workspace. */
export const REAL_OVERHEAD_MB = 1536;
/** The simulated task's stand-in context is 300 MiB (sim-alloc.mjs). */
export const SIM_OVERHEAD_MB = 512;

export function taskName(i: number): string {
  return `alloc-${i + 1}`;
}

/** One word of a plan command: bare when safe, else in single quotes. */
export function quoteWord(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  if (word.includes("'")) throw new Error(`cannot put ${JSON.stringify(word)} in a plan command: it holds a single quote`);
  return `'${word}'`;
}

export function buildCheckPlan(spec: CheckPlanSpec): string {
  const runner = spec.runner.map(quoteWord).join(' ');
  const tasks = spec.sizesMb.map((mb, i) => {
    const args = [`--mb ${mb}`, `--seconds ${spec.seconds}`, ...(spec.matmul ? [] : ['--no-matmul'])].join(' ');
    return [
      `### ${taskName(i)}`,
      `Holds ${mb} MiB on the GPU for ${spec.seconds} s${spec.matmul ? ' while running matrix products' : ''}.`,
      '- **executor**: worker',
      '- **task_class**: script',
      `- **command**: \`${runner} ${args}\``,
      `- **vram_estimate_mb**: ${mb + spec.overheadMb}`,
      `- **timeout_s**: ${Math.ceil(spec.seconds) + 120}`,
      '',
    ].join('\n');
  });
  return [
    '# GPU check',
    '',
    'Written by `npm run gpu-check` (tools/gpucheck/planText.ts): real GPU memory and load, so the',
    "agent's measured memory can be compared with nvidia-smi's and its health transitions seen.",
    '',
    '## Goal',
    '',
    `Each task holds its memory on the GPU for ${spec.seconds} s, prints what it allocated as one JSON line, and exits.`,
    '',
    '## Available Scripts',
    '',
    '- **scripts/alloc.py**: allocates with PyTorch. Run: `python3 scripts/alloc.py --mb N [--seconds S] [--no-matmul]`',
    '- **scripts/sim-alloc.mjs**: the same on the nvidia-smi simulator. Run: `node scripts/sim-alloc.mjs --mb N [--seconds S]`',
    '',
    '## Tasks',
    '',
    ...tasks,
  ].join('\n');
}
