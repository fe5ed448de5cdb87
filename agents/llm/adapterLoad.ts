// Puts an adapter version into an Ollama server as a model of its own: the adapter file is
// pushed as a blob (HEAD /api/blobs/sha256:<digest> says whether the server has it; POST
// sends it), then POST /api/create makes the model `served` from the base with that adapter
// (`{"model", "from", "adapters": {"<file name>": "sha256:<digest>"}}`). The model is then
// loaded and used like any other. The ollama package has no blob call, so this speaks HTTP.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import { basename } from 'node:path';
import { errorMessage } from '../core/errors.ts';
import { RuntimeError, isOutOfMemoryText } from './runtime.ts';

export interface AdapterModel {
  /** The model name to create, e.g. qwen2.5:7b-support-v3 (adapterRef.ts servedModelName). */
  served: string;
  /** The base model it is made from, as the runtime names it. */
  base: string;
  /** The adapter file on the mount. */
  file: string;
}

const digests = new Map<string, { key: string; digest: string }>();

/** The file's sha256, hex; kept per path while its size and mtime stay the same (a version's file is written once). */
export async function fileDigest(file: string): Promise<string> {
  const st = await stat(file);
  const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
  const known = digests.get(file);
  if (known?.key === key) return known.digest;
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  const digest = h.digest('hex');
  digests.set(file, { key, digest });
  return digest;
}

interface Answer {
  status: number;
  text: string;
}

/** One HTTP request with a deadline; a body is a string or a file streamed from disk. */
function request(url: string, method: string, body: { json: unknown } | { file: string } | null, timeoutMs: number, signal?: AbortSignal): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const text = body && 'json' in body ? JSON.stringify(body.json) : null;
    const headers: Record<string, string> = text !== null ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) } : {};
    const req = http.request(url, { method, headers, agent: false, signal: combined });
    req.on('error', (err) => reject(timeout.aborted ? new Error(`no answer within ${timeoutMs} ms`) : err));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 502, text: Buffer.concat(chunks).toString('utf8') }));
    });
    if (text !== null) req.end(text);
    else if (body && 'file' in body) createReadStream(body.file).on('error', (err) => req.destroy(err)).pipe(req);
    else req.end();
  });
}

/** The error text of an Ollama answer ({"error": "..."}), else the body. */
function errorText(a: Answer): string {
  try {
    const v = JSON.parse(a.text) as { error?: unknown };
    if (typeof v.error === 'string') return v.error;
  } catch {
    // not JSON
  }
  return a.text.trim().slice(0, 300) || `HTTP ${a.status}`;
}

/**
 * Makes `m.served` exist in the Ollama at `url`: the blob pushed when missing, the model
 * created. Safe to repeat (a blob it has is not sent again; creating the same model again
 * gives the same model). Failures are RuntimeErrors naming the URL and the step.
 */
export async function createAdapterModel(url: string, m: AdapterModel, o: { timeoutMs: number; signal?: AbortSignal }): Promise<void> {
  const base = url.replace(/\/+$/, '');
  const step = async (what: string, fn: () => Promise<Answer>): Promise<Answer> => {
    try {
      return await fn();
    } catch (err) {
      if (o.signal?.aborted) throw new RuntimeError('aborted', base, `Ollama at ${base}: ${what} aborted`, { cause: err });
      const timedOut = /no answer within/.test(errorMessage(err));
      throw new RuntimeError(timedOut ? 'timeout' : 'unreachable', base, `Ollama at ${base}: ${what} failed: ${errorMessage(err)}`, { cause: err });
    }
  };
  const fail = (what: string, a: Answer) => {
    const text = errorText(a);
    const kind = isOutOfMemoryText(text) ? 'oom' : a.status === 404 ? 'model_missing' : a.status === 503 ? 'busy' : 'server';
    return new RuntimeError(kind, base, `Ollama at ${base} failed to ${what}: ${text} (HTTP ${a.status})`, { status: a.status });
  };
  const digest = await fileDigest(m.file);
  const blob = `${base}/api/blobs/sha256:${digest}`;
  const has = await step(`check the adapter blob of ${m.served}`, () => request(blob, 'HEAD', null, o.timeoutMs, o.signal));
  if (has.status !== 200) {
    const pushed = await step(`push the adapter ${m.file}`, () => request(blob, 'POST', { file: m.file }, o.timeoutMs, o.signal));
    if (pushed.status !== 200 && pushed.status !== 201) throw fail(`push the adapter ${m.file}`, pushed);
  }
  const body = { model: m.served, from: m.base, adapters: { [basename(m.file)]: `sha256:${digest}` }, stream: false };
  const created = await step(`create ${m.served}`, () => request(`${base}/api/create`, 'POST', { json: body }, o.timeoutMs, o.signal));
  if (created.status !== 200) throw fail(`create ${m.served} from ${m.base} with adapter ${basename(m.file)}`, created);
}
