// Which processes `npm run rig` starts for each --role and --gpus, and the messages for wrong ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config, defaultGpus } from '../../agents/core/config.ts';
import { planRole } from '../../agents/rig/roles.ts';

const config = Config.parse({ gpus: defaultGpus(3) });
const base = { config, configFile: '/m/config.json', shared: '/m', simDir: '/m/sim', simulated: false };
const names = (p: ReturnType<typeof planRole>) => (typeof p === 'string' ? p : p.children.map((c) => c.name));

test('roles: all, brain, agents, and --gpus', () => {
  assert.deepEqual(names(planRole({ ...base, role: undefined, gpus: undefined })), ['brain', 'gpu-0', 'gpu-1', 'gpu-2']);
  assert.deepEqual(names(planRole({ ...base, role: 'brain', gpus: undefined })), ['brain']);
  assert.deepEqual(names(planRole({ ...base, role: 'agents', gpus: undefined })), ['gpu-0', 'gpu-1', 'gpu-2']);
  assert.deepEqual(names(planRole({ ...base, role: 'agents', gpus: '2,0' })), ['gpu-0', 'gpu-2']);
  assert.deepEqual(names(planRole({ ...base, simulated: true, role: 'agents', gpus: '1' })), ['ollama-1', 'gpu-1']);
  assert.deepEqual(names(planRole({ ...base, simulated: true, role: 'brain', gpus: undefined })), ['brain']);
});

test('roles: wrong values are refused with what to write', () => {
  assert.match(names(planRole({ ...base, role: 'brains', gpus: undefined })) as string, /--role brains: give one of all, brain, agents/);
  assert.match(names(planRole({ ...base, role: 'agents', gpus: '0,7' })) as string, /--gpus 0,7: GPU 7 is not in the config \(configured: 0, 1, 2\)/);
  assert.match(names(planRole({ ...base, role: 'agents', gpus: 'a' })) as string, /--gpus a: give GPU ids separated by commas/);
  assert.match(names(planRole({ ...base, role: 'brain', gpus: '0' })) as string, /--gpus chooses agents/);
});
