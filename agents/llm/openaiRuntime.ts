// ModelRuntime for an OpenAI-compatible local server: llama.cpp's `llama-server`, vLLM (and
// Ollama's own /v1). Such a server serves the one model it was started with, so "load" only
// checks that it is that model and "unload" has nothing to do. Every call has a deadline,
// every failure becomes a RuntimeError that names the URL and says what was being done, with
// the same kinds as OllamaRuntime's, so the agent and the worker react the same way to both.
import { sameModelName } from '../core/config.ts';
import { nodeFetch } from './ollamaRuntime.ts';
import {
  type GenerateRequest,
  type GenerateResult,
  type LoadedModel,
  type ModelRuntime,
  type RuntimeHealth,
  type RuntimeDeadlines,
  RuntimeError,
  deadlinesOf,
  isOutOfMemoryText,
} from './runtime.ts';

export interface OpenAiRuntimeOptions extends RuntimeDeadlines {
  /** Pause between load()'s looks at a server that is still loading, in ms. Default 500. */
  loadPollMs?: number;
}

/** What `/v1/chat/completions` is asked for a format: any JSON, or JSON that follows a schema. */
function responseFormatOf(format: GenerateRequest['format']): Record<string, unknown> | undefined {
  if (format === undefined) return undefined;
  if (format === 'json') return { type: 'json_object' };
  return { type: 'json_schema', json_schema: { name: 'answer', schema: format, strict: true } };
}

/** The error text of an error answer: OpenAI's {error: {message}}, vLLM's {message}, or nodeFetch's {error: text}. */
function errorTextOf(body: unknown, status: number): string {
  const b = (body && typeof body === 'object' ? body : {}) as { error?: unknown; message?: unknown };
  if (typeof b.error === 'string') return b.error;
  const inner = (b.error && typeof b.error === 'object' ? b.error : {}) as { message?: unknown };
  if (typeof inner.message === 'string') return inner.message;
  if (typeof b.message === 'string') return b.message;
  return `HTTP ${status}`;
}

const count = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export class OpenAiRuntime implements ModelRuntime {
  readonly url: string;
  private readonly opts: Required<OpenAiRuntimeOptions>;
  private readonly who: string;

  constructor(url: string, opts: OpenAiRuntimeOptions = {}) {
    this.url = url.replace(/\/+$/, '');
    this.who = `OpenAI-compatible server at ${this.url}`;
    this.opts = { ...deadlinesOf(opts), loadPollMs: opts.loadPollMs ?? 500 };
  }

  async listLoaded(): Promise<LoadedModel[]> {
    return this.listModels(this.opts.requestTimeoutMs, undefined);
  }

  /**
   * Resolves when the server lists the model. A server still loading it (503, llama-server's
   * "Loading model") is asked again until the caller's signal or loadTimeoutMs ends the wait.
   */
  async load(model: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const deadline = AbortSignal.timeout(this.opts.loadTimeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
    let served: LoadedModel[];
    for (;;) {
      try {
        served = await this.listModels(this.opts.requestTimeoutMs, signal);
        break;
      } catch (err) {
        // The caller's abort names the load it ended, whether it came during a look or between two.
        if (err instanceof RuntimeError && err.kind === 'aborted') {
          if (opts.signal?.aborted) throw new RuntimeError('aborted', this.url, `${this.who}: load ${model} aborted`, { cause: err });
          throw new RuntimeError('timeout', this.url, `${this.who}: still loading its model ${this.opts.loadTimeoutMs} ms into load ${model}`, { cause: err });
        }
        if (!(err instanceof RuntimeError) || err.kind !== 'busy') throw err;
        await this.pause(this.opts.loadPollMs, signal, `load ${model}`, opts.signal);
      }
    }
    if (served.some((m) => this.sameModel(m.name, model))) return;
    const names = served.map((m) => m.name).join(', ') || 'no model';
    throw new RuntimeError(
      'model_missing',
      this.url,
      `${this.who} serves ${names}, not ${model}: a server of this kind serves the model it was started with; change the GPU's serve command or the task's model`,
    );
  }

  /** Nothing to do: the server keeps its one model until it stops (the agent never asks). */
  async unload(_model: string): Promise<void> {}

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const started = Date.now();
    const format = responseFormatOf(req.format);
    const body = {
      model: req.model,
      messages: [...(req.system !== undefined ? [{ role: 'system', content: req.system }] : []), { role: 'user', content: req.prompt }],
      stream: false,
      ...(format ? { response_format: format } : {}),
    };
    const what = `generate with ${req.model} (POST /v1/chat/completions)`;
    const res = (await this.call(what, 'POST', '/v1/chat/completions', body, this.opts.generateTimeoutMs, req.signal)) as {
      choices?: Array<{ message?: { content?: unknown } }>;
      usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
    };
    const text = Array.isArray(res?.choices) ? res.choices[0]?.message?.content : undefined;
    if (typeof text !== 'string') {
      throw new RuntimeError('bad_response', this.url, `${this.who}: ${what} answered without choices[0].message.content`);
    }
    return {
      text,
      prompt_tokens: count(res.usage?.prompt_tokens),
      completion_tokens: count(res.usage?.completion_tokens),
      duration_ms: Date.now() - started,
      // The server loaded its model when it started: no request pays for a load.
      load_ms: null,
    };
  }

  /** The same name, or the same after Ollama's rule (`m` is `m:latest`), as Ollama's /v1 spells it. */
  sameModel(a: string, b: string): boolean {
    return sameModelName(a, b);
  }

  async health(): Promise<RuntimeHealth> {
    try {
      await this.listModels(this.opts.healthTimeoutMs, undefined, 'check health (GET /v1/models)');
      return { ok: true, reason: null };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  private async listModels(timeoutMs: number, signal: AbortSignal | undefined, what = 'list loaded models (GET /v1/models)'): Promise<LoadedModel[]> {
    const res = (await this.call(what, 'GET', '/v1/models', undefined, timeoutMs, signal)) as { data?: Array<{ id?: unknown }> };
    if (!res || !Array.isArray(res.data) || !res.data.every((m) => typeof m?.id === 'string')) {
      throw new RuntimeError('bad_response', this.url, `${this.who}: /v1/models answered without a data list of model ids`);
    }
    // These servers do not report their memory; the agent measures it (nvidia-smi) if it needs it.
    return res.data.map((m) => ({ name: m.id as string, size_vram_mb: 0, expires_at: null }));
  }

  /** Waits ms unless the signal ends the wait first (then as call() reports an aborted or timed-out call). */
  private async pause(ms: number, signal: AbortSignal, what: string, callerSignal: AbortSignal | undefined): Promise<void> {
    try {
      await new Promise<void>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const t = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        const onAbort = () => {
          clearTimeout(t);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
    } catch (err) {
      if (callerSignal?.aborted) throw new RuntimeError('aborted', this.url, `${this.who}: ${what} aborted`, { cause: err });
      throw new RuntimeError('timeout', this.url, `${this.who}: still loading its model ${this.opts.loadTimeoutMs} ms into ${what}`, { cause: err });
    }
  }

  /** One JSON request with a deadline and the caller's signal; maps every failure to a RuntimeError. */
  private async call(what: string, method: string, path: string, body: unknown, timeoutMs: number, signal: AbortSignal | undefined): Promise<unknown> {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      if (combined.aborted) throw combined.reason;
      const res = await nodeFetch(`${this.url}${path}`, {
        method,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: combined,
      });
      const text = await res.text();
      const parsed = text.trim() ? (JSON.parse(text) as unknown) : null;
      if (!res.ok) throw this.errorAnswer(what, res.status, errorTextOf(parsed, res.status));
      return parsed;
    } catch (err) {
      if (err instanceof RuntimeError) throw err;
      if (signal?.aborted) throw new RuntimeError('aborted', this.url, `${this.who}: ${what} aborted`, { cause: err });
      if (timeout.aborted) throw new RuntimeError('timeout', this.url, `${this.who}: no answer to ${what} within ${timeoutMs} ms`, { cause: err });
      if (err instanceof SyntaxError) {
        throw new RuntimeError('bad_response', this.url, `${this.who} gave a malformed answer to ${what}: ${err.message}`, { cause: err });
      }
      const e = err as { code?: string; message?: string };
      const message = e?.message ?? String(err);
      if (isOutOfMemoryText(message)) throw new RuntimeError('oom', this.url, `${this.who} failed to ${what}: ${message}`, { cause: err });
      const code = e?.code ? `${e.code}: ` : '';
      throw new RuntimeError('unreachable', this.url, `${this.who} is unreachable (${code}${message}) while trying to ${what}`, { cause: err });
    }
  }

  private errorAnswer(what: string, status: number, text: string): RuntimeError {
    const kind = isOutOfMemoryText(text) ? 'oom' : status === 404 ? 'model_missing' : status === 503 ? 'busy' : 'server';
    return new RuntimeError(kind, this.url, `${this.who} failed to ${what}: ${text} (HTTP ${status})`, { status });
  }
}
