import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { blockEnvClear, checkAssignment, checkDeclaration, checkEnvUnset, GPU_SELECTION_VARS } from '../../agents/worker/policyGpu.ts';

/** Runs one check and returns what it blocked, as [reason, word]. */
function blocked(check: (block: (reason: string, word: string) => void) => void): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  check((reason, word) => out.push([reason, word]));
  return out;
}

describe('GPU_SELECTION_VARS', () => {
  it('names every variable that chooses a GPU', () => {
    assert.deepEqual([...GPU_SELECTION_VARS].sort(), [
      'CUDA_DEVICE_ORDER', 'CUDA_VISIBLE_DEVICES', 'GPU_DEVICE_ORDINAL', 'HIP_VISIBLE_DEVICES', 'NVIDIA_VISIBLE_DEVICES', 'ROCR_VISIBLE_DEVICES',
    ]);
  });
});

describe('checkAssignment', () => {
  const table: Array<[string, Array<[string, string]>]> = [
    ['CUDA_VISIBLE_DEVICES=1', [['blocked: "CUDA_VISIBLE_DEVICES=1" would choose the GPU; only the GPU agent sets CUDA_VISIBLE_DEVICES', 'CUDA_VISIBLE_DEVICES=1']]],
    ['HIP_VISIBLE_DEVICES+=,1', [['blocked: "HIP_VISIBLE_DEVICES+=,1" would choose the GPU; only the GPU agent sets HIP_VISIBLE_DEVICES', 'HIP_VISIBLE_DEVICES+=,1']]],
    ['NVIDIA_VISIBLE_DEVICES=', [['blocked: "NVIDIA_VISIBLE_DEVICES=" would choose the GPU; only the GPU agent sets NVIDIA_VISIBLE_DEVICES', 'NVIDIA_VISIBLE_DEVICES=']]],
    ['FOO=1', []],
    ['CUDA_VISIBLE_DEVICESX=1', []],
    ['cuda_visible_devices=1', []],
  ];
  for (const [word, want] of table) it(word, () => assert.deepEqual(blocked((b) => checkAssignment(word, b)), want));
});

describe('checkDeclaration', () => {
  const table: Array<[string, string[], Array<[string, string]>]> = [
    ['export', ['CUDA_VISIBLE_DEVICES=0,1'], [['blocked: "export CUDA_VISIBLE_DEVICES=0,1" would change CUDA_VISIBLE_DEVICES; only the GPU agent chooses the GPU', 'CUDA_VISIBLE_DEVICES=0,1']]],
    ['unset', ['FOO', 'CUDA_DEVICE_ORDER'], [['blocked: "unset CUDA_DEVICE_ORDER" would change CUDA_DEVICE_ORDER; only the GPU agent chooses the GPU', 'CUDA_DEVICE_ORDER']]],
    ['declare', ['-x', 'GPU_DEVICE_ORDINAL=2'], [['blocked: "declare GPU_DEVICE_ORDINAL=2" would change GPU_DEVICE_ORDINAL; only the GPU agent chooses the GPU', 'GPU_DEVICE_ORDINAL=2']]],
    ['export', ['FOO=1', 'PATH'], []],
  ];
  for (const [name, args, want] of table) {
    it(`${name} ${args.join(' ')}`, () => assert.deepEqual(blocked((b) => checkDeclaration(name, args, b)), want));
  }
});

describe('env and the GPU variables', () => {
  it('blocks unsetting a GPU variable, and only those', () => {
    assert.deepEqual(blocked((b) => checkEnvUnset('ROCR_VISIBLE_DEVICES', '-u ROCR_VISIBLE_DEVICES', b)), [
      ['blocked: "env -u ROCR_VISIBLE_DEVICES" would remove ROCR_VISIBLE_DEVICES, which only the GPU agent sets', '-u ROCR_VISIBLE_DEVICES'],
    ]);
    assert.deepEqual(blocked((b) => checkEnvUnset('HOME', '-u HOME', b)), []);
  });

  it('blocks clearing the environment', () => {
    assert.deepEqual(blocked((b) => blockEnvClear('-i', b)), [
      ['blocked: "env -i" would clear CUDA_VISIBLE_DEVICES, which only the GPU agent sets', '-i'],
    ]);
  });
});
