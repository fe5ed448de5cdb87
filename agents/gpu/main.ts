// GPU agent entry point: node --import tsx agents/gpu/main.ts --gpu ID [--shared DIR]
import { parseCommand } from '../core/args.ts';
import { systemClock } from '../core/clock.ts';
import { loadConfigOrExit } from '../core/config.ts';
import { EXIT_REFUSED, startDaemon } from '../core/lifecycle.ts';
import { mountPaths, ensureMount } from '../core/paths.ts';
import { LoadGate } from '../llm/loadGate.ts';
import { ollamaUrl } from '../llm/ollamaRuntime.ts';
import { runtimeFor } from '../llm/runtimeFor.ts';
import { GpuAgent } from './agent.ts';
import { StartRefused } from './previousLife.ts';

const { values, shared } = parseCommand('usage: gpu agent --gpu ID [--shared DIR] [--config FILE]', { gpu: { type: 'string' }, config: { type: 'string' } });
const paths = mountPaths(shared);
const configFile = values.config ?? paths.config;
const config = await loadConfigOrExit(configFile);
const gpu = config.gpus.find((g) => String(g.id) === values.gpu || g.name === values.gpu);
if (!gpu) {
  process.stderr.write(`--gpu ${values.gpu ?? '(missing)'}: not a configured GPU; configured: ${config.gpus.map((g) => `${g.id} (${g.name})`).join(', ')}\n`);
  process.exit(1);
}
await ensureMount(paths);
const daemon = startDaemon(gpu.name);
const agent = new GpuAgent({
  paths,
  config,
  configFile,
  gpu,
  clock: systemClock,
  runtime: runtimeFor(gpu.runtime, ollamaUrl(config.ollama_host, gpu.port)),
  loadGate: new LoadGate({ dir: paths.gpus, staleMs: config.timeouts.model_load_s * 1000 }),
  say: daemon.log,
});
// SIGINT/SIGTERM: the rig is going down; running workers are stopped and their tasks retried later.
daemon.onStop(() => agent.shutdown(true));
try {
  await agent.start();
} catch (err) {
  if (!(err instanceof StartRefused)) throw err;
  daemon.log(`refused to start: ${err.message}`);
  process.exit(EXIT_REFUSED);
}
// A stop signal file: finish current work, flush, exit 0 (the launcher does not restart it).
void agent.finished.then(async () => {
  await agent.shutdown(false);
  daemon.log('stopped by signal file');
  process.exit(0);
});
