// The simulated Ollama as a process: one per simulated GPU, on that GPU's port.
//   node --import tsx agents/sim/ollama-main.ts --port P [--gpu I] [--sim-dir D]
//        [--model-size-mb N] [--load-delay-ms N] [--model NAME ...]
// Prints `listening <url>` once it accepts connections; stops on SIGTERM/SIGINT (removing
// its procs file). Modes switch at runtime: POST <url>/sim/mode {"slow_ms", "refuse", "oom", "busy"}.
import { parseArgs } from 'node:util';
import { startSimOllama } from './ollamaServer.ts';

function intOption(values: Record<string, unknown>, name: string, min: number): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`ollama-main: --${name} must be an integer of at least ${min}, got "${String(raw)}"\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string' },
        gpu: { type: 'string' },
        'sim-dir': { type: 'string' },
        'model-size-mb': { type: 'string' },
        'load-delay-ms': { type: 'string' },
        model: { type: 'string', multiple: true },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`ollama-main: ${(err as Error).message}\nusage: ollama-main --port P [--gpu I] [--sim-dir D] [--model-size-mb N] [--load-delay-ms N] [--model NAME]\n`);
    process.exit(2);
  }
  const port = intOption(values, 'port', 0);
  if (port === undefined) {
    process.stderr.write('ollama-main: --port is required (0 picks a free port)\n');
    process.exit(2);
  }
  const modelSizeMb = intOption(values, 'model-size-mb', 0);
  const loadDelayMs = intOption(values, 'load-delay-ms', 0);
  const gpuIndex = intOption(values, 'gpu', 0);
  const simDir = values['sim-dir'] as string | undefined;
  const models = values.model as string[] | undefined;

  const sim = await startSimOllama({
    port,
    ...(gpuIndex !== undefined ? { gpuIndex } : {}),
    ...(simDir !== undefined ? { simDir } : {}),
    ...(modelSizeMb !== undefined ? { modelSizeMb } : {}),
    ...(loadDelayMs !== undefined ? { loadDelayMs } : {}),
    ...(models !== undefined ? { models } : {}),
  });
  process.stdout.write(`listening ${sim.url}\n`);

  let stopping = false;
  const stop = (sig: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`ollama-main: ${sig}: stopping ${sim.url}\n`);
    sim.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`ollama-main: close failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`ollama-main: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
