// The LLM runtime behind a narrow interface: the GPU agent and its workers talk to "a
// server that keeps models resident and generates text", never to Ollama by name. The
// predecessor project replaced Ollama in the end; this seam is what makes that a new file
// instead of a rewrite.
//
// Two implementations, chosen per GPU by config gpus[].runtime (runtimeFor.ts):
// - ollamaRuntime.ts: Ollama, which loads and unloads models on request and reports their
//   memory (GET /api/ps).
// - openaiRuntime.ts: an OpenAI-compatible server (llama.cpp `llama-server`, vLLM). It serves
//   the one model it was started with (the rig starts it from gpus[].serve), so "load" only
//   checks that the server lists that model (GET /v1/models) and "unload" does nothing;
//   listLoaded reports size_vram_mb 0 (these servers do not report it) and expires_at null;
//   generate is POST /v1/chat/completions with response_format for JSON and schemas.

export interface LoadedModel {
  /** Model name as the runtime reports it, e.g. qwen2.5:7b. */
  name: string;
  /** GPU memory the model holds, in MiB. */
  size_vram_mb: number;
  /** When the runtime will unload it on its own (ISO time); null when it stays until unloaded. */
  expires_at: string | null;
}

export interface GenerateRequest {
  model: string;
  prompt: string;
  system?: string;
  /** 'json' asks for any JSON; an object is a JSON Schema the answer must follow. */
  format?: 'json' | object;
  /** Aborts the request (the worker's own timeout, an abort signal). */
  signal?: AbortSignal;
}

export interface GenerateResult {
  text: string;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  /** Wall time of the request as seen by the caller, in milliseconds. */
  duration_ms: number;
  /** Part of it the runtime spent loading the model first, in milliseconds; null when it loaded nothing or does not say. */
  load_ms: number | null;
}

export interface RuntimeHealth {
  ok: boolean;
  /** Why not ok (the error, naming the URL); null when ok. */
  reason: string | null;
}

export interface ModelRuntime {
  /** The runtime's address, for messages. */
  readonly url: string;
  /** Models resident now (Ollama: GET /api/ps). */
  listLoaded(): Promise<LoadedModel[]>;
  /** Loads a model and keeps it resident until `unload`. Loads can take minutes: never call it "stuck". */
  load(model: string, opts?: { signal?: AbortSignal }): Promise<void>;
  /** Unloads a model and frees its GPU memory. Unloading a model that is not loaded succeeds. */
  unload(model: string): Promise<void>;
  generate(req: GenerateRequest): Promise<GenerateResult>;
  /** A cheap probe (no model work): answers within a few seconds. */
  health(): Promise<RuntimeHealth>;
  /**
   * Whether two model names name the same model in this runtime's spelling (Ollama: `m` is
   * `m:latest`): how the agent finds its model in listLoaded(). Pure, no call out.
   */
  sameModel(a: string, b: string): boolean;
}

/**
 * How a runtime call failed, chosen by how the caller reacts:
 * - unreachable: nothing answered (refused, reset, DNS): infra, circuit breaker counts it.
 * - timeout: no answer in time: infra.
 * - aborted: the caller aborted it: not the runtime's fault.
 * - oom: the model did not fit in memory: infra, the task is retried elsewhere or later.
 * - model_missing: the runtime does not have that model (404): a configuration or plan error.
 * - busy: the runtime refused for load (503): infra, try later.
 * - server: any other error answer (4xx/5xx), with the runtime's own text.
 * - bad_response: an answer that is not what the API promises.
 */
export type RuntimeErrorKind = 'unreachable' | 'timeout' | 'aborted' | 'oom' | 'model_missing' | 'busy' | 'server' | 'bad_response';

export class RuntimeError extends Error {
  readonly kind: RuntimeErrorKind;
  readonly url: string;
  /** HTTP status of an error answer, else null. */
  readonly status: number | null;
  constructor(kind: RuntimeErrorKind, url: string, message: string, opts: { status?: number | null; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RuntimeError';
    this.kind = kind;
    this.url = url;
    this.status = opts.status ?? null;
  }
}

/** True for the error kinds that say "the runtime is not working" (what a circuit breaker counts). */
export function isRuntimeDown(err: unknown): boolean {
  return err instanceof RuntimeError && (err.kind === 'unreachable' || err.kind === 'timeout' || err.kind === 'busy');
}

/** Ollama's and llama.cpp's out-of-memory texts: CUDA allocation failures and the system-memory check. */
export function isOutOfMemoryText(text: string): boolean {
  return /out of memory|requires more system memory|cudaMalloc failed|failed to allocate|insufficient memory/i.test(text);
}

/** The deadlines every runtime client has, in ms. */
export interface RuntimeDeadlines {
  /** Small calls (list models, version). Default 10 000. */
  requestTimeoutMs?: number;
  /** health(). Default 3 000. */
  healthTimeoutMs?: number;
  /** A load (or the wait for a server still loading its model); the caller's signal usually ends it first. Default 600 000. */
  loadTimeoutMs?: number;
  /** Backstop of a generate. Default 600 000. */
  generateTimeoutMs?: number;
}

export function deadlinesOf(o: RuntimeDeadlines): Required<RuntimeDeadlines> {
  return {
    requestTimeoutMs: o.requestTimeoutMs ?? 10_000,
    healthTimeoutMs: o.healthTimeoutMs ?? 3_000,
    loadTimeoutMs: o.loadTimeoutMs ?? 600_000,
    generateTimeoutMs: o.generateTimeoutMs ?? 600_000,
  };
}
