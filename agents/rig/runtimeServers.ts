// Which LLM server the rig starts for a managed GPU, and with which argv and environment.
// Pure: the config in, a command out; agents/rig/supervisor.ts runs it. Placeholders are
// filled textually inside each argument and each env value: the argv goes to the kernel as
// it is, never through a shell, so a value with spaces or quotes stays one argument.
import type { Config, GpuConfig } from '../core/config.ts';
import { SERVE_PLACEHOLDERS } from '../core/config.ts';

export type ServePlaceholder = (typeof SERVE_PLACEHOLDERS)[number];

/** A real rig's server for one GPU: an executable, its arguments and the environment it adds. */
export interface ServeCommand {
  /** argv[0]: looked up on PATH when it holds no slash. */
  file: string;
  args: string[];
  /** Added over the rig's own environment; CUDA_VISIBLE_DEVICES is always the GPU's id. */
  env: Record<string, string>;
  /** Where the command came from, for messages: the config field to fix. */
  source: string;
}

/** What each placeholder stands for on this GPU. */
export function placeholderValues(gpu: GpuConfig, config: Pick<Config, 'ollama_host'>): Record<ServePlaceholder, string> {
  return { port: String(gpu.port), gpu: String(gpu.id), host: config.ollama_host, model: gpu.model, num_parallel: String(gpu.num_parallel) };
}

/**
 * `{port}` and the other known placeholders replaced by their values; any other text,
 * braces included, is left as written (config.ts refuses unknown placeholders at load).
 */
export function fillPlaceholders(text: string, values: Record<ServePlaceholder, string>): string {
  return text.replace(/\{([a-z_]+)\}/g, (whole, name: string) => ((SERVE_PLACEHOLDERS as readonly string[]).includes(name) ? values[name as ServePlaceholder] : whole));
}

/**
 * The Ollama default when a managed ollama GPU gives no serve: one `ollama serve` per card,
 * listening on the agent's port, serving num_parallel requests at once, one model at a time,
 * kept loaded until the agent unloads it (the brain decides hot and cold, not a timer).
 */
const OLLAMA_DEFAULT = {
  argv: ['ollama', 'serve'],
  env: { OLLAMA_HOST: '{host}:{port}', OLLAMA_NUM_PARALLEL: '{num_parallel}', OLLAMA_MAX_LOADED_MODELS: '1', OLLAMA_KEEP_ALIVE: '-1' },
};

/** The managed server of one GPU on a real rig (config gpus[].serve, or the Ollama default). */
export function serveCommand(gpu: GpuConfig, config: Pick<Config, 'ollama_host' | 'gpus'>): ServeCommand {
  const i = config.gpus.findIndex((g) => g.id === gpu.id);
  if (!gpu.serve && gpu.runtime !== 'ollama') {
    // config.ts refuses this at load; reaching here is our own bug.
    throw new Error(`gpus.${i}.serve: an ${gpu.runtime} runtime has no default command`);
  }
  const spec = gpu.serve ?? OLLAMA_DEFAULT;
  const values = placeholderValues(gpu, config);
  const argv = spec.argv.map((a) => fillPlaceholders(a, values));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.env)) env[k] = fillPlaceholders(v, values);
  env.CUDA_VISIBLE_DEVICES = String(gpu.id);
  const source = gpu.serve ? `gpus.${i}.serve.argv` : `the Ollama default (gpus.${i}.serve is null)`;
  return { file: argv[0]!, args: argv.slice(1), env, source };
}

/**
 * The simulator's arguments for one simulated GPU (agents/sim/ollama-main.ts): its port and
 * card, the config's simulator speeds and sizes, and, for an openai runtime, the one model
 * it serves as an OpenAI-compatible server would.
 */
export function simulatorArgs(gpu: GpuConfig, config: Pick<Config, 'simulator'>, simDir: string): string[] {
  const s = config.simulator;
  const args = ['--port', String(gpu.port), '--gpu', String(gpu.id), '--sim-dir', simDir];
  args.push('--tok-s', String(s.tok_s), '--load-delay-ms', String(s.load_ms), '--model-size-mb', String(s.model_mb), '--kv-mb', String(s.kv_mb), '--answer-tokens', String(s.answer_tokens));
  args.push('--num-parallel', String(gpu.num_parallel));
  if (gpu.runtime === 'openai') args.push('--serve-model', gpu.model);
  return args;
}

/** A command line for people to read: arguments holding spaces or quotes are JSON-quoted. */
export function describeCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (a === '' || /[\s"'\\$`]/.test(a) ? JSON.stringify(a) : a)).join(' ');
}
