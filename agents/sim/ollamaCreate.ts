// Models made on the simulated Ollama with /api/create from a base and adapter blobs, as
// Ollama does: HEAD /api/blobs/sha256:<hex> (200 when the server has it, else 404), POST
// /api/blobs/sha256:<hex> (the body must hash to the digest; 201), POST /api/create
// {"model", "from", "adapters": {"<file>": "sha256:<hex>"}}. A created model answers with its
// adapter's digest in the text (label), so a test can tell which adapter version answered.
import { createHash } from 'node:crypto';
import type http from 'node:http';
import { normalizeModel } from './ollamaAnswers.ts';
import { HttpError, readBody, sendJson } from './ollamaHttp.ts';

/** The largest blob the simulator takes, bytes: adapters in tests are small. */
const MAX_BLOB_BYTES = 64 * 1024 * 1024;
const DIGEST = /^sha256[:-]([0-9a-f]{64})$/;

export interface CreatedModel {
  from: string;
  /** Adapter file name → its blob's digest (hex). */
  adapters: Record<string, string>;
}

export class CreatedModels {
  private readonly blobs = new Set<string>();
  private readonly models = new Map<string, CreatedModel>();

  names(): string[] {
    return [...this.models.keys()];
  }

  has(model: string): boolean {
    return this.models.has(normalizeModel(model));
  }

  /** How a model's answers name it: a created one with its adapters' digests (12 hex digits each). */
  label(model: string): string {
    const m = this.models.get(normalizeModel(model));
    if (!m) return model;
    const adapters = Object.values(m.adapters).map((d) => d.slice(0, 12));
    return adapters.length ? `${model} +adapter ${adapters.join(',')}` : model;
  }

  /** HEAD and POST /api/blobs/<digest>. */
  async blob(req: http.IncomingMessage, res: http.ServerResponse, digestText: string): Promise<void> {
    const m = DIGEST.exec(digestText);
    if (!m) throw new HttpError(400, `invalid digest '${digestText}': expected sha256:<64 hex digits>`);
    const hex = m[1]!;
    if (req.method === 'HEAD') {
      res.writeHead(this.blobs.has(hex) ? 200 : 404);
      res.end();
      return;
    }
    if (req.method !== 'POST') throw new HttpError(405, `${req.method} /api/blobs: use HEAD or POST`);
    const h = createHash('sha256');
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BLOB_BYTES) throw new HttpError(413, `blob over ${MAX_BLOB_BYTES} bytes`);
      h.update(chunk as Buffer);
    }
    const got = h.digest('hex');
    if (got !== hex) throw new HttpError(400, `digest mismatch, expected "sha256:${hex}", got "sha256:${got}"`);
    this.blobs.add(hex);
    res.writeHead(201);
    res.end();
  }

  /** POST /api/create: a model from a known base and pushed adapter blobs. */
  async create(req: http.IncomingMessage, res: http.ServerResponse, checkKnown: (model: string) => void): Promise<void> {
    const body = await readBody(req);
    const model = typeof body.model === 'string' ? body.model : '';
    const from = typeof body.from === 'string' ? body.from : '';
    if (!model) throw new HttpError(400, 'model is required');
    if (!from) throw new HttpError(400, 'neither from nor files was specified');
    checkKnown(from);
    const adapters: Record<string, string> = {};
    const given = body.adapters && typeof body.adapters === 'object' ? (body.adapters as Record<string, unknown>) : {};
    for (const [file, digest] of Object.entries(given)) {
      const m = typeof digest === 'string' ? DIGEST.exec(digest) : null;
      if (!m) throw new HttpError(400, `adapters.${file}: invalid digest ${JSON.stringify(digest)}`);
      if (!this.blobs.has(m[1]!)) throw new HttpError(400, `adapter ${file}: blob sha256:${m[1]} not found; push it with POST /api/blobs/sha256:${m[1]} first`);
      adapters[file] = m[1]!;
    }
    this.models.set(normalizeModel(model), { from, adapters });
    if (body.stream === false) {
      sendJson(res, 200, { status: 'success' });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.end(['using existing layer', 'writing manifest', 'success'].map((status) => JSON.stringify({ status })).join('\n') + '\n');
  }
}
