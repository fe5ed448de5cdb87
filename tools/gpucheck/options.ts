// The command line of `npm run gpu-check`, parsed into options or a list of problems. Pure:
// the caller reads process.argv and decides where relative paths start.
import { parseArgs } from 'node:util';

export const GPU_CHECK_USAGE = `usage: npm run gpu-check -- [--simulate] [options]
  --simulate              use the project's nvidia-smi simulator and a simulated workload (no GPU needed)
  --nvidia-smi PATH       the nvidia-smi to use (default: found on PATH)
  --python PATH           the Python that has PyTorch (default: python3)
  --gpu N                 which GPU to check (default 0)
  --sizes MB,MB,...       one task per size: MiB each task allocates (default 6144,13312; simulated 768,1536)
  --seconds S             how long each task holds its memory and runs matmuls (default 20; simulated 4)
  --no-matmul             only hold the memory (no compute load, so power may not cross its threshold)
  --vram-threshold PCT    max_vram_percent for the agent (default: chosen from the idle reading)
  --power-threshold W     max_power_w for the agent (default: chosen from the idle reading)
  --timeout S             give up after S seconds in all (default 170; simulated 60)
  --json                  print the report as JSON instead of text
  --out DIR               also write report.json and report.txt into DIR
  --shared DIR            run the check's rig on DIR (empty or new) and keep it; default: a temporary folder
  --keep                  keep the temporary folder (its logs, tasks and decisions log)
exit status: 0 PASS, 1 FAIL, 2 the check cannot run here (no GPU, no PyTorch, bad option)`;

export interface GpuCheckOptions {
  simulate: boolean;
  nvidiaSmi: string | null;
  python: string;
  gpu: number;
  sizesMb: number[];
  seconds: number;
  matmul: boolean;
  vramThresholdPercent: number | null;
  powerThresholdW: number | null;
  timeoutS: number;
  json: boolean;
  outDir: string | null;
  shared: string | null;
  keep: boolean;
  help: boolean;
}

export const REAL_DEFAULTS = { sizesMb: [6144, 13312], seconds: 20, timeoutS: 170 } as const;
export const SIM_DEFAULTS = { sizesMb: [768, 1536], seconds: 4, timeoutS: 60 } as const;

export type ParsedOptions = { ok: true; options: GpuCheckOptions } | { ok: false; problems: string[] };

export function parseGpuCheckArgs(argv: string[]): ParsedOptions {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        simulate: { type: 'boolean', default: false },
        'nvidia-smi': { type: 'string' },
        python: { type: 'string', default: 'python3' },
        gpu: { type: 'string', default: '0' },
        sizes: { type: 'string' },
        seconds: { type: 'string' },
        'no-matmul': { type: 'boolean', default: false },
        'vram-threshold': { type: 'string' },
        'power-threshold': { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        shared: { type: 'string' },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    values = parsed.values;
    positionals = parsed.positionals;
  } catch (err) {
    return { ok: false, problems: [(err as Error).message] };
  }
  const problems: string[] = [];
  if (positionals.length) problems.push(`unexpected argument(s): ${positionals.join(' ')}; every option starts with --`);
  const simulate = values.simulate === true;
  const defaults = simulate ? SIM_DEFAULTS : REAL_DEFAULTS;

  const gpu = Number(values.gpu);
  if (!Number.isInteger(gpu) || gpu < 0 || gpu > 63) problems.push(`--gpu ${values.gpu}: give a GPU index, a whole number from 0 (nvidia-smi -L lists them)`);

  let sizesMb: number[] = [...defaults.sizesMb];
  if (typeof values.sizes === 'string') {
    const parts = values.sizes.split(',').map((s) => s.trim());
    const nums = parts.map(Number);
    if (parts.length === 0 || parts.length > 8 || nums.some((n) => !Number.isInteger(n) || n < 1)) {
      problems.push(`--sizes ${values.sizes}: give 1 to 8 whole numbers of MiB separated by commas, e.g. --sizes 6144,13312`);
    } else sizesMb = nums;
  }

  const seconds = positiveNumber(values.seconds, 'seconds', defaults.seconds, problems, 'e.g. --seconds 20', 0);
  const timeoutS = positiveNumber(values.timeout, 'timeout', defaults.timeoutS, problems, 'e.g. --timeout 170', 10);
  const vram = optionalNumber(values['vram-threshold'], 'vram-threshold', problems, 'a percent above 0 and at most 100, e.g. --vram-threshold 10', (n) => n > 0 && n <= 100);
  const power = optionalNumber(values['power-threshold'], 'power-threshold', problems, 'watts above 0, e.g. --power-threshold 250', (n) => n > 0);
  if (seconds + 30 > timeoutS) problems.push(`--timeout ${timeoutS} leaves too little time for tasks of --seconds ${seconds}: give at least ${seconds + 30}`);

  if (problems.length) return { ok: false, problems };
  return {
    ok: true,
    options: {
      simulate,
      nvidiaSmi: typeof values['nvidia-smi'] === 'string' ? values['nvidia-smi'] : null,
      python: String(values.python),
      gpu,
      sizesMb,
      seconds,
      matmul: values['no-matmul'] !== true,
      vramThresholdPercent: vram,
      powerThresholdW: power,
      timeoutS,
      json: values.json === true,
      outDir: typeof values.out === 'string' ? values.out : null,
      shared: typeof values.shared === 'string' ? values.shared : null,
      keep: values.keep === true,
      help: values.help === true,
    },
  };
}

function positiveNumber(raw: string | boolean | undefined, name: string, dflt: number, problems: string[], example: string, min: number): number {
  if (typeof raw !== 'string') return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) {
    problems.push(`--${name} ${raw}: give a number of seconds of at least ${min}, ${example}`);
    return dflt;
  }
  return n;
}

function optionalNumber(raw: string | boolean | undefined, name: string, problems: string[], expected: string, ok: (n: number) => boolean): number | null {
  if (typeof raw !== 'string') return null;
  const n = Number(raw);
  if (!Number.isFinite(n) || !ok(n)) {
    problems.push(`--${name} ${raw}: give ${expected}`);
    return null;
  }
  return n;
}
