import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roleOf } from '../../tools/bench/procStat.ts';

test('the idle bench names each process by its role, whether it runs from TypeScript or from its bundle', () => {
  const cases: Array<[string, string]> = [
    ['node --import tsx /r/agents/rig/main.ts --simulate 3', 'launcher'],
    ['node --import tsx /r/agents/brain/main.ts --shared /m', 'brain'],
    ['node /r/dist/agents/brain/main.js --shared /m', 'brain'],
    ['node --import tsx /r/agents/gpu/main.ts --shared /m --gpu 1', 'agent gpu-1'],
    ['node /r/dist/agents/gpu/main.js --shared /m --config /m/c.json --gpu 2', 'agent gpu-2'],
    ['node /r/dist/agents/sim/ollama-main.js --port 1 --gpu 0 --sim-dir /s', 'sim ollama 0'],
    ['node /r/dist/agents/worker/main.js --task {}', 'worker'],
    ['/usr/bin/nvidia-smi --query-gpu=x', 'other'],
  ];
  for (const [cmd, role] of cases) assert.equal(roleOf(cmd), role, cmd);
});
