// The task class of a task whose plan gives none, by fixed rules (no LLM): the same plan
// always gets the same classes. The rule that decided is returned so the brain can log why.
import type { TaskClass, TaskType } from '../core/task.ts';
import { tokenizeCommand } from './tokenize.ts';

export interface InferSpec {
  type: TaskType;
  command: string | null;
}

export interface Inference {
  task_class: TaskClass;
  /** Why, in words, e.g. "type generate needs an LLM". */
  rule: string;
}

/** Words in a python command that mean it uses the GPU. */
const PYTHON_GPU_WORDS = ['torch', 'cuda', 'whisper', 'gpu', 'tensorflow', 'transformers', 'diffusers', 'vllm'];
/** Words in an ffmpeg command that mean it decodes or encodes on the GPU. */
const FFMPEG_GPU_WORDS = ['cuda', 'nvenc', 'nvdec', 'cuvid', 'hwaccel'];

function programName(arg: string): string {
  return (arg.split('/').pop() ?? arg).toLowerCase();
}

export function inferTaskClass(spec: InferSpec): Inference {
  if (spec.type === 'generate' || spec.type === 'parse') {
    return { task_class: 'llm', rule: `type ${spec.type} needs an LLM` };
  }
  if (spec.type === 'load_llm' || spec.type === 'unload_llm') {
    return { task_class: 'meta', rule: `type ${spec.type} is run by the GPU agent itself` };
  }
  if (spec.type === 'promote_adapter' || spec.type === 'rollback_adapter') return { task_class: 'cpu', rule: `type ${spec.type} changes adapters/current.json: no GPU` };
  if (spec.type === 'batch_summary') return { task_class: 'cpu', rule: 'the batch summary is written by the brain' };
  const command = spec.command ?? '';
  const tokens = (() => {
    const t = tokenizeCommand(command);
    return t.ok ? t.argv : command.split(/\s+/).filter(Boolean);
  })();
  const names = tokens.map(programName);
  const lower = command.toLowerCase();
  if (names.includes('nvidia-smi')) return { task_class: 'script', rule: 'the command runs nvidia-smi' };
  const isPython = names.some((n) => /^python[0-9.]*$/.test(n) || n.endsWith('.py'));
  if (isPython) {
    const word = PYTHON_GPU_WORDS.find((w) => lower.includes(w));
    if (word) return { task_class: 'script', rule: `the command runs python and mentions '${word}'` };
  }
  if (names.includes('ffmpeg')) {
    const word = FFMPEG_GPU_WORDS.find((w) => lower.includes(w));
    if (word) return { task_class: 'script', rule: `the command runs ffmpeg with '${word}'` };
  }
  return {
    task_class: 'cpu',
    rule: 'the command names no GPU tool (nvidia-smi, python with torch/cuda/whisper, ffmpeg with cuda)',
  };
}
