// The HTTP plumbing of the simulated Ollama: errors that carry their status, JSON answers
// and request bodies, and waits that end when the server closes.
import type http from 'node:http';

/** An error answered as `{error: message}` with this HTTP status, as Ollama does. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function readBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, 'invalid request body: expected a JSON object');
}

/** Waits ms; a server closing meanwhile ends the wait with 503. */
export function waitUnlessClosed(ms: number, closing: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (ms <= 0) return resolve();
    const onClose = () => {
      clearTimeout(t);
      reject(new HttpError(503, 'server shutting down'));
    };
    const t = setTimeout(() => {
      closing.removeEventListener('abort', onClose);
      resolve();
    }, ms);
    closing.addEventListener('abort', onClose, { once: true });
  });
}

/** Paths answered in the OpenAI-compatible servers' shape (llama-server, vLLM) rather than Ollama's. */
export function isOpenAiPath(path: string): boolean {
  return path.startsWith('/v1/') || path === '/health';
}

/** OpenAI's error type for a status, as llama-server names them. */
function openAiErrorType(status: number): string {
  if (status === 404) return 'not_found_error';
  if (status === 503) return 'unavailable_error';
  if (status >= 400 && status < 500) return 'invalid_request_error';
  return 'server_error';
}

/** An error answer: {error: message} on Ollama's paths, {error: {message, type, code}} on the OpenAI ones. */
export function sendError(res: http.ServerResponse, path: string, status: number, message: string): void {
  sendJson(res, status, isOpenAiPath(path) ? { error: { message, type: openAiErrorType(status), code: status } } : { error: message });
}

/** Aborted when the client goes away before its answer is sent (a request it gave up on frees its slot). */
export function clientGone(res: http.ServerResponse): AbortSignal {
  const gone = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  return gone.signal;
}
