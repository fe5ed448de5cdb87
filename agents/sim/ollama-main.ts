// The simulated LLM server as a process: one per simulated GPU, on that GPU's port, speaking
// Ollama's API and the OpenAI-compatible one (llama-server, vLLM) on the same port.
//   node --import tsx agents/sim/ollama-main.ts --port P [--gpu I] [--sim-dir D]
//        [--model-size-mb N] [--load-delay-ms N] [--model NAME ...] [--serve-model NAME]
//        [--tok-s N] [--num-parallel N] [--kv-mb M]        (--help: simArgs.ts)
// Prints `listening <url>` once it accepts connections (with --serve-model: once that model
// is loaded); stops on SIGTERM/SIGINT (removing its procs file). Modes switch at runtime:
// POST <url>/sim/mode {"slow_ms", "refuse", "oom", "busy"}; GET <url>/sim/stats counts requests.
import { SIM_USAGE, parseSimArgs } from './simArgs.ts';
import { startSimOllama } from './ollamaServer.ts';

async function main(): Promise<void> {
  const args = parseSimArgs(process.argv.slice(2));
  if (args.kind === 'help') {
    process.stdout.write(`${SIM_USAGE}\n`);
    process.exit(0);
  }
  if (args.kind === 'error') {
    process.stderr.write(`${args.problems.map((p) => `ollama-main: ${p}`).join('\n')}\n${SIM_USAGE}\n`);
    process.exit(2);
  }
  const sim = await startSimOllama(args.options);

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

  try {
    await sim.ready;
  } catch (err) {
    if (stopping) return;
    process.stderr.write(`ollama-main: could not load ${args.options.serveModel}: ${(err as Error).message}\n`);
    await sim.close();
    process.exit(1);
  }
  process.stdout.write(`listening ${sim.url}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`ollama-main: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
