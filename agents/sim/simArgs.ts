// The simulator's command line, read strictly and purely: every problem is reported at once,
// naming the option, what it takes and what it got. ollama-main.ts only prints and exits.
import { parseArgs } from 'node:util';
import type { SimOllamaOptions } from './ollamaServer.ts';

export const SIM_USAGE = `usage: node --import tsx agents/sim/ollama-main.ts --port P [options]
  --port P             port on 127.0.0.1 (0: any free port); required
  --gpu I              GPU index of the simulated runner, for the procs file (default 0)
  --sim-dir D          simulator state folder shared with the simulated nvidia-smi (default: no procs file)
  --model-size-mb N    GPU memory of a loaded model with one request slot, MiB (default 4700)
  --load-delay-ms N    how long a model load takes, ms (default 0)
  --model NAME         a model the server has; repeat for more (default: any name is accepted)
  --serve-model NAME   serve this one model like llama-server or vLLM: loaded at start, kept,
                       the only one /v1/models lists; "listening" is printed once it is loaded
  --tok-s N            output tokens per second of one request alone on the card (default: instant answers)
  --num-parallel N     requests generating at once, 1 to 64; the others wait in FIFO order (default 1)
  --answer-tokens N    lengthen plain answers to about N tokens, as a real model's (default 0: short answers)
  --kv-mb M            KV cache of each request slot beyond the first, MiB (default 0)
  --help               print this and exit`;

export type SimArgs = { kind: 'run'; options: SimOllamaOptions } | { kind: 'help' } | { kind: 'error'; problems: string[] };

const MAX_PARALLEL = 64;

/** Reads `--name` as a whole number in [min, max]; a problem is pushed when it is not one. */
function intOption(values: Record<string, unknown>, name: string, min: number, max: number, problems: string[]): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const text = String(raw);
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    problems.push(`--${name} must be an integer ${range}, got "${text}"`);
    return undefined;
  }
  return n;
}

/** Reads `--name` as a decimal number above 0. */
function positiveOption(values: Record<string, unknown>, name: string, example: string, problems: string[]): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const text = String(raw);
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (!(n > 0) || !Number.isFinite(n)) {
    problems.push(`--${name} must be a number above 0, e.g. ${example}, got "${text}"`);
    return undefined;
  }
  return n;
}

function nameOption(values: Record<string, unknown>, name: string, problems: string[]): string | undefined {
  const raw = values[name] as string | undefined;
  if (raw !== undefined && !raw.trim()) problems.push(`--${name} must name a model, e.g. qwen2.5:7b, got ""`);
  return raw;
}

export function parseSimArgs(argv: string[]): SimArgs {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' }, gpu: { type: 'string' }, 'sim-dir': { type: 'string' },
        'model-size-mb': { type: 'string' }, 'load-delay-ms': { type: 'string' }, model: { type: 'string', multiple: true },
        'serve-model': { type: 'string' }, 'tok-s': { type: 'string' }, 'num-parallel': { type: 'string' }, 'kv-mb': { type: 'string' }, 'answer-tokens': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return { kind: 'error', problems: [(err as Error).message] };
  }
  if (values.help) return { kind: 'help' };
  const problems: string[] = [];
  const any = Number.MAX_SAFE_INTEGER;
  const port = intOption(values, 'port', 0, 65_535, problems);
  if (values.port === undefined) problems.push('--port is required (0 picks a free port)');
  const options: SimOllamaOptions = { port: port ?? 0 };
  const set = <K extends keyof SimOllamaOptions>(key: K, v: SimOllamaOptions[K] | undefined) => {
    if (v !== undefined) options[key] = v;
  };
  set('gpuIndex', intOption(values, 'gpu', 0, any, problems));
  set('simDir', values['sim-dir'] as string | undefined);
  set('modelSizeMb', intOption(values, 'model-size-mb', 0, any, problems));
  set('loadDelayMs', intOption(values, 'load-delay-ms', 0, any, problems));
  set('models', values.model as string[] | undefined);
  set('serveModel', nameOption(values, 'serve-model', problems));
  set('tokS', positiveOption(values, 'tok-s', '200', problems));
  set('numParallel', intOption(values, 'num-parallel', 1, MAX_PARALLEL, problems));
  set('kvMb', intOption(values, 'kv-mb', 0, any, problems));
  set('answerTokens', intOption(values, 'answer-tokens', 0, 100_000, problems));
  return problems.length > 0 ? { kind: 'error', problems } : { kind: 'run', options };
}
