// The command line and environment of a managed GPU's LLM server: placeholders filled per
// GPU inside each argument (no shell), the Ollama default, CUDA_VISIBLE_DEVICES always set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../agents/core/config.ts';
import { describeCommand, fillPlaceholders, serveCommand, simulatorArgs } from '../../agents/rig/runtimeServers.ts';

const gpu = (over: Record<string, unknown>) => ({ id: 0, name: 'gpu-0', model: 'qwen2.5:7b', port: 11435, manage: true, ...over });

test('the Ollama default: ollama serve on the agent port, num_parallel requests, one model kept loaded, pinned to the card', () => {
  const config = Config.parse({ ollama_host: '127.0.0.1', gpus: [gpu({}), gpu({ id: 3, name: 'gpu-3', port: 11438, num_parallel: 4 })] });
  assert.deepEqual(serveCommand(config.gpus[1]!, config), {
    file: 'ollama',
    args: ['serve'],
    env: { OLLAMA_HOST: '127.0.0.1:11438', OLLAMA_NUM_PARALLEL: '4', OLLAMA_MAX_LOADED_MODELS: '1', OLLAMA_KEEP_ALIVE: '-1', CUDA_VISIBLE_DEVICES: '3' },
    source: 'the Ollama default (gpus.1.serve is null)',
  });
});

test('serve.argv and serve.env: every placeholder filled, inside an argument too, one argument each', () => {
  const config = Config.parse({
    ollama_host: '10.0.0.5',
    gpus: [
      gpu({}),
      gpu({
        id: 1, name: 'gpu-1', port: 8081, runtime: 'openai', num_parallel: 2, model: 'qwen 7b',
        serve: {
          argv: ['llama-server', '-m', '/models/x.gguf', '--alias', '{model}', '--host', '{host}', '--port', '{port}', '--parallel', '{num_parallel}', '--log-file=/var/log/gpu{gpu}-{port}.log'],
          env: { LLAMA_ARG_N_GPU_LAYERS: '99', TAG: 'gpu{gpu}@{host}:{port}' },
        },
      }),
    ],
  });
  const cmd = serveCommand(config.gpus[1]!, config);
  assert.equal(cmd.file, 'llama-server');
  assert.deepEqual(cmd.args, ['-m', '/models/x.gguf', '--alias', 'qwen 7b', '--host', '10.0.0.5', '--port', '8081', '--parallel', '2', '--log-file=/var/log/gpu1-8081.log']);
  assert.deepEqual(cmd.env, { LLAMA_ARG_N_GPU_LAYERS: '99', TAG: 'gpu1@10.0.0.5:8081', CUDA_VISIBLE_DEVICES: '1' });
  assert.equal(cmd.source, 'gpus.1.serve.argv');
});

test('CUDA_VISIBLE_DEVICES is the GPU id even when serve.env names another card', () => {
  const config = Config.parse({ gpus: [gpu({ id: 2, serve: { argv: ['vllm', 'serve', '/models/x'], env: { CUDA_VISIBLE_DEVICES: '0' } } })] });
  assert.equal(serveCommand(config.gpus[0]!, config).env.CUDA_VISIBLE_DEVICES, '2');
});

test('placeholders are text: shell syntax stays literal, unknown braces stay as written', () => {
  const values = { port: '1', gpu: '0', host: 'h', model: '$(rm -rf /); `x`', num_parallel: '1' };
  assert.equal(fillPlaceholders('--alias={model}', values), '--alias=$(rm -rf /); `x`');
  assert.equal(fillPlaceholders('{"a": 1} {other} {port}', values), '{"a": 1} {other} 1');
  assert.equal(fillPlaceholders('{port}{port}', values), '11');
});

test('the simulator of a simulated GPU gets the config simulator figures and, for openai, the model it serves', () => {
  const config = Config.parse({ gpus: [gpu({ num_parallel: 2 }), gpu({ id: 1, name: 'gpu-1', port: 11436, runtime: 'openai', model: 'qwen2.5:7b', serve: null, manage: false })], simulator: { tok_s: 12.5, load_ms: 40, model_mb: 3000, kv_mb: 100 } });
  assert.deepEqual(simulatorArgs(config.gpus[0]!, config, '/m/sim'), ['--port', '11435', '--gpu', '0', '--sim-dir', '/m/sim', '--tok-s', '12.5', '--load-delay-ms', '40', '--model-size-mb', '3000', '--kv-mb', '100', '--answer-tokens', '0', '--num-parallel', '2']);
  assert.deepEqual(simulatorArgs(config.gpus[1]!, config, '/m/sim').slice(-2), ['--serve-model', 'qwen2.5:7b']);
});

test('commands are shown as one line, arguments with spaces or quotes quoted', () => {
  assert.equal(describeCommand('llama-server', ['-m', '/models/a b.gguf', '--alias', 'x']), 'llama-server -m "/models/a b.gguf" --alias x');
  assert.equal(describeCommand('sh', ['-c', '']), 'sh -c ""');
});
