// The GPU-selection rule: the GPU agent chooses the card by setting these variables for the
// worker, so a task may not set, unset or clear them (VAR=x, export VAR, env -u VAR, env -i).
import { ASSIGNMENT } from './shellRead.ts';
import type { Block } from './policyTypes.ts';

/**
 * Variables that choose which GPU a process sees. The GPU agent sets them for the worker;
 * a plan that sets, unsets or clears them would run on a card the agent did not reserve.
 */
export const GPU_SELECTION_VARS = [
  'CUDA_VISIBLE_DEVICES',
  'CUDA_DEVICE_ORDER',
  'NVIDIA_VISIBLE_DEVICES',
  'GPU_DEVICE_ORDINAL',
  'HIP_VISIBLE_DEVICES',
  'ROCR_VISIBLE_DEVICES',
] as const;

/** Shell builtins that set, declare or unset variables by name. */
export const SHELL_DECLARATIONS = new Set(['export', 'declare', 'typeset', 'local', 'readonly', 'unset']);

function isGpuSelectionVar(name: string): boolean {
  return (GPU_SELECTION_VARS as readonly string[]).includes(name);
}

/** VAR=value before a command, or as an env argument. */
export function checkAssignment(word: string, block: Block): void {
  const name = ASSIGNMENT.exec(word)?.[1];
  if (name !== undefined && isGpuSelectionVar(name)) {
    block(`blocked: "${word}" would choose the GPU; only the GPU agent sets ${name}`, word);
  }
}

/** `export VAR=x`, `unset VAR`, ...: every argument names a variable. */
export function checkDeclaration(name: string, args: string[], block: Block): void {
  for (const a of args) {
    const varName = a.split('=')[0]!;
    if (isGpuSelectionVar(varName)) {
      block(`blocked: "${name} ${a}" would change ${varName}; only the GPU agent chooses the GPU`, a);
    }
  }
}

/** `env -u VAR`; `shown` is the option as written, for the reason. */
export function checkEnvUnset(varName: string, shown: string, block: Block): void {
  if (isGpuSelectionVar(varName)) {
    block(`blocked: "env ${shown}" would remove ${varName}, which only the GPU agent sets`, shown);
  }
}

/** `env -i`: an empty environment has no CUDA_VISIBLE_DEVICES either. */
export function blockEnvClear(option: string, block: Block): void {
  block(`blocked: "env ${option}" would clear CUDA_VISIBLE_DEVICES, which only the GPU agent sets`, option);
}
