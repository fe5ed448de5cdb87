// Which processes `npm run rig` starts for each --role and --gpus, and the messages for wrong ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config, defaultGpus, parseConfig } from '../../agents/core/config.ts';
import { planRole } from '../../agents/rig/roles.ts';
import { simulatedConfig, simulatedGpus } from '../../agents/rig/simulate.ts';

const config = Config.parse({ gpus: defaultGpus(3) });
const base = { config, configFile: '/m/config.json', shared: '/m', simDir: '/m/sim', simulated: false };
const names = (p: ReturnType<typeof planRole>) => (typeof p === 'string' ? p : p.children.map((c) => c.name));

/** GPU 0 runs the Ollama default, GPU 2 a llama-server; GPU 1 is not managed. */
const managed = Config.parse({
  gpus: [
    { ...defaultGpus(1)[0], manage: true },
    defaultGpus(2)[1],
    { ...defaultGpus(3)[2], manage: true, runtime: 'openai', serve: { argv: ['llama-server', '--port', '{port}'] } },
  ],
});

test('roles: all, brain, agents, and --gpus', () => {
  assert.deepEqual(names(planRole({ ...base, role: undefined, gpus: undefined })), ['brain', 'gpu-0', 'gpu-1', 'gpu-2']);
  assert.deepEqual(names(planRole({ ...base, role: 'brain', gpus: undefined })), ['brain']);
  assert.deepEqual(names(planRole({ ...base, role: 'agents', gpus: undefined })), ['gpu-0', 'gpu-1', 'gpu-2']);
  assert.deepEqual(names(planRole({ ...base, role: 'agents', gpus: '2,0' })), ['gpu-0', 'gpu-2']);
  assert.deepEqual(names(planRole({ ...base, simulated: true, role: 'agents', gpus: '1' })), ['runtime-1', 'gpu-1']);
  assert.deepEqual(names(planRole({ ...base, simulated: true, role: 'brain', gpus: undefined })), ['brain']);
});

test('roles: managed GPUs get their LLM server first, only for the GPUs this rig runs', () => {
  const b = { ...base, config: managed };
  assert.deepEqual(names(planRole({ ...b, role: undefined, gpus: undefined })), ['runtime-0', 'runtime-2', 'brain', 'gpu-0', 'gpu-1', 'gpu-2']);
  assert.deepEqual(names(planRole({ ...b, role: 'agents', gpus: '1,2' })), ['runtime-2', 'gpu-1', 'gpu-2']);
  assert.deepEqual(names(planRole({ ...b, role: 'agents', gpus: '1' })), ['gpu-1']);
  assert.deepEqual(names(planRole({ ...b, role: 'brain', gpus: undefined })), ['brain']);
});

test('roles: a real server is an executable with its argv and env; a simulated one the simulator entry', () => {
  const real = planRole({ ...base, config: managed, role: 'agents', gpus: '0,2' });
  assert.ok(typeof real !== 'string');
  const [r0, r2] = real.children;
  assert.deepEqual(r0, {
    name: 'runtime-0', kind: 'runtime', gpu: 0, listen: { host: '127.0.0.1', port: 11435 },
    program: { type: 'exec', file: 'ollama', args: ['serve'], source: 'the Ollama default (gpus.0.serve is null)', env: { OLLAMA_HOST: '127.0.0.1:11435', OLLAMA_NUM_PARALLEL: '1', OLLAMA_MAX_LOADED_MODELS: '1', OLLAMA_KEEP_ALIVE: '-1', CUDA_VISIBLE_DEVICES: '0' } },
  });
  assert.deepEqual(r2!.program, { type: 'exec', file: 'llama-server', args: ['--port', '11437'], env: { CUDA_VISIBLE_DEVICES: '2' }, source: 'gpus.2.serve.argv' });
  const sim = planRole({ ...base, simulated: true, role: 'agents', gpus: '1' });
  assert.ok(typeof sim !== 'string');
  assert.equal(sim.children[0]!.program.type, 'node');
  assert.deepEqual(sim.children[0]!.program.type === 'node' && sim.children[0]!.program.entry, 'sim/ollama-main');
  assert.deepEqual(sim.children.map((c) => c.kind), ['runtime', 'agent']);
});

test('roles: wrong values are refused with what to write', () => {
  assert.match(names(planRole({ ...base, role: 'brains', gpus: undefined })) as string, /--role brains: give one of all, brain, agents/);
  assert.match(names(planRole({ ...base, role: 'agents', gpus: '0,7' })) as string, /--gpus 0,7: GPU 7 is not in the config \(configured: 0, 1, 2\)/);
  assert.match(names(planRole({ ...base, role: 'agents', gpus: 'a' })) as string, /--gpus a: give GPU ids separated by commas/);
  assert.match(names(planRole({ ...base, role: 'brain', gpus: '0' })) as string, /--gpus chooses agents/);
});

test('--simulate keeps each base GPU model, runtime and num_parallel by index; the simulator is the server (no serve)', () => {
  const gpus = simulatedGpus([{ model: 'llama3:8b', num_parallel: 2 }, { runtime: 'openai', model: 'qwen' }], 3, 20000);
  assert.deepEqual(gpus.map((g) => [g.id, g.port, g.model, g.runtime, g.num_parallel, g.manage, g.serve]), [
    [0, 20000, 'llama3:8b', 'ollama', 2, true, null],
    [1, 20001, 'qwen', 'openai', 1, false, null],
    [2, 20002, 'qwen2.5:7b', 'ollama', 1, true, null],
  ]);
  // The simulated config passes the same rules as any other (an openai runtime included).
  const over = { gpus: [{ id: 5, name: 'x', model: 'm', port: 1, num_parallel: 4 }, { id: 6, name: 'y', model: 'q', port: 2, runtime: 'openai' as const, manage: true, serve: { argv: ['llama-server'] } }] };
  const sim = parseConfig(simulatedConfig(over, 3, '/m/sim', 20000), 'simulated');
  assert.deepEqual(sim.gpus.map((g) => [g.id, g.name, g.num_parallel, g.model, g.runtime]), [[0, 'gpu-0', 4, 'm', 'ollama'], [1, 'gpu-1', 1, 'q', 'openai'], [2, 'gpu-2', 1, 'qwen2.5:7b', 'ollama']]);
});
