// The one place a runtime kind (config gpus[].runtime, the worker's FORGE_AGENT_RUNTIME)
// becomes a ModelRuntime: callers never name an implementation.
import type { GpuConfig } from '../core/config.ts';
import { OllamaRuntime, type OllamaRuntimeOptions } from './ollamaRuntime.ts';
import { OpenAiRuntime, type OpenAiRuntimeOptions } from './openaiRuntime.ts';
import type { ModelRuntime } from './runtime.ts';

export type RuntimeKind = GpuConfig['runtime'];
export const RUNTIME_KINDS: readonly RuntimeKind[] = ['ollama', 'openai'];

/** Deadlines of either kind; each uses the ones it has. */
export type RuntimeOptions = OllamaRuntimeOptions & OpenAiRuntimeOptions;

export function runtimeFor(kind: RuntimeKind, url: string, opts: RuntimeOptions = {}): ModelRuntime {
  switch (kind) {
    case 'ollama':
      return new OllamaRuntime(url, opts);
    case 'openai':
      return new OpenAiRuntime(url, opts);
    default: {
      const never: never = kind;
      throw new Error(`runtime kind ${String(never)} is not known; known: ${RUNTIME_KINDS.join(', ')}`);
    }
  }
}

/** A kind read from text (an environment variable), or null when it is none of RUNTIME_KINDS. */
export function parseRuntimeKind(text: string): RuntimeKind | null {
  return (RUNTIME_KINDS as readonly string[]).includes(text) ? (text as RuntimeKind) : null;
}
