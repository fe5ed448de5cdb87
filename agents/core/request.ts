// requests/: realtime questions. A request is `requests/<id>.json`, written whole by `forge ask`
// or by hand (`cat > requests/x.json`, then the brain reads it once it parses); its answer is
// `requests/<id>.answer.json`, written whole by the brain beside it. One module for both
// formats: their schemas, names, reads and writes.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as z from './zod.ts';
import { isTempName, writeJsonAtomic } from './atomic.ts';
import { readJsonFile, type JsonFileRead } from './mountJson.ts';
import type { RetryOptions } from './mountRead.ts';
import { type MountPaths, childPath, isSafeName } from './paths.ts';

/** The pseudo-batch of realtime questions: task ids are ask__<request id>. */
export const ASK_BATCH = 'ask';

/** Characters of a prompt: a question, not a document. */
export const PROMPT_MAX_CHARS = 32_768;
/** Bytes of a request file: the prompt (up to 4 bytes a character in UTF-8, escaped) and a few fields. */
export const REQUEST_MAX_BYTES = 256 * 1024;
/** Characters of a request id (the file name before .json): the task file ask__<id>.json must fit. */
export const REQUEST_ID_MAX = 64;
/** Seconds a request may ask its task to run at most. */
export const REQUEST_TIMEOUT_MAX_S = 3600;

/** Model names as runtimes write them: qwen2.5:7b, library/llama3.1:8b-instruct-q4_K_M. No spaces, no '..'. */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,127}$/;

export function isSafeModelName(name: string): boolean {
  return MODEL_NAME.test(name) && !name.includes('..') && !name.includes('//');
}

const ANSWER_SUFFIX = '.answer.json';

/** Why a request id cannot be used, or null. newRequestId's ids always can. */
export function requestIdProblem(id: string): string | null {
  if (!isSafeName(id)) return `request id '${id.slice(0, 80)}' is not a safe name: use letters, digits, '.', '_' and '-', starting with a letter or digit`;
  if (id.endsWith('.answer')) return `request id '${id.slice(0, 80)}' ends in '.answer', which names answer files`;
  if (id.includes('__')) return `request id '${id.slice(0, 80)}' contains '__', which separates batch and task in task ids; use single '_' or '-'`;
  if (id.length > REQUEST_ID_MAX) return `request id '${id.slice(0, 80)}' is ${id.length} characters, over the limit of ${REQUEST_ID_MAX}`;
  return null;
}

/** Strict: a misspelled key (`promt`) is refused, naming the allowed ones. */
export const AskRequest = z.strictObject({
  /** The question, 1 to PROMPT_MAX_CHARS characters. */
  prompt: z.string().check(
    z.refine((p) => p.trim().length > 0, { message: 'must not be empty' }),
    z.maxLength(PROMPT_MAX_CHARS, `must be at most ${PROMPT_MAX_CHARS} characters`),
  ),
  /** A model the rig knows (config gpus[].model, models, default_model); absent: the config's default. */
  model: z.optional(
    z.string().check(z.refine(isSafeModelName, { message: "must be a model name such as 'qwen2.5:7b' (letters, digits, '.', '_', ':', '/', '+', '-')" })),
  ),
  /** Seconds the model's run may take at most; absent: config timeouts.task_default_s. */
  timeout_s: z.optional(z.number().check(z.positive(), z.lte(REQUEST_TIMEOUT_MAX_S))),
  /** When it was asked (ISO), for the answer's times; forge ask sets it. */
  asked_at: z.optional(z.string().check(z.maxLength(40))),
});
export type AskRequest = z.infer<typeof AskRequest>;

export const AskAnswer = z.object({
  id: z.string(),
  /** true: `text` is the model's answer; false: `reason` says why there is none. */
  ok: z.boolean(),
  text: z.nullable(z.string()),
  reason: z.nullable(z.string()),
  model: z.nullable(z.string()),
  /** The agent whose worker ran the model (its GPU's name), null when none did. */
  agent: z.nullable(z.string()),
  /** The task that ran it: ask__<id>, kept in tasks/archive/ask/. */
  task: z.nullable(z.string()),
  prompt_tokens: z.nullable(z.number()),
  output_tokens: z.nullable(z.number()),
  /** The model request's wall time, ms (a load included), and the load's part of it. */
  request_ms: z.nullable(z.number()),
  load_ms: z.nullable(z.number()),
  asked_at: z.nullable(z.string()),
  /** When the brain put the task in queue/, an agent claimed it, and the brain wrote this answer (ISO). */
  queued_at: z.nullable(z.string()),
  started_at: z.nullable(z.string()),
  answered_at: z.string(),
});
export type AskAnswer = z.infer<typeof AskAnswer>;

export function requestsDir(paths: MountPaths): string {
  return join(paths.root, 'requests');
}

export function requestPath(paths: MountPaths, id: string): string {
  return childPath(requestsDir(paths), `${id}.json`, 'request id');
}

export function answerPath(paths: MountPaths, id: string): string {
  return childPath(requestsDir(paths), `${id}${ANSWER_SUFFIX}`, 'request id');
}

/** ask-20261202-091500-3fa9c1: sorts by time, unique enough for many askers at once. */
export function newRequestId(now = Date.now()): string {
  const t = new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `ask-${t}-${randomBytes(3).toString('hex')}`;
}

/** What requests/ holds: the ids of requests and of answers (any *.json name, temporaries left out). */
export interface RequestListing {
  requests: string[];
  answers: Set<string>;
}

/** Pure: a listing of requests/ sorted into requests and answers. Other names are left alone. */
export function sortRequestNames(names: readonly string[]): RequestListing {
  const requests: string[] = [];
  const answers = new Set<string>();
  for (const name of names) {
    if (isTempName(name) || !name.endsWith('.json')) continue;
    if (name.endsWith(ANSWER_SUFFIX)) answers.add(name.slice(0, -ANSWER_SUFFIX.length));
    else requests.push(name.slice(0, -'.json'.length));
  }
  return { requests: requests.sort(), answers };
}

export async function listRequests(paths: MountPaths): Promise<RequestListing> {
  return sortRequestNames(await readdir(requestsDir(paths)).catch(() => [] as string[]));
}

export async function writeRequest(paths: MountPaths, id: string, req: AskRequest): Promise<string> {
  const file = requestPath(paths, id);
  await writeJsonAtomic(file, req);
  return file;
}

export function readRequest(file: string, retry?: RetryOptions): Promise<JsonFileRead<AskRequest>> {
  return readJsonFile(file, AskRequest, 'a request {"prompt": "...", "model": "NAME"}', { maxBytes: REQUEST_MAX_BYTES, retry });
}

export async function writeAnswer(paths: MountPaths, answer: AskAnswer): Promise<string> {
  const file = answerPath(paths, answer.id);
  await writeJsonAtomic(file, answer);
  return file;
}

/** An answer holds at most the model's text of one request: bounded like a record, a few MB. */
export function readAnswer(paths: MountPaths, id: string): Promise<JsonFileRead<AskAnswer>> {
  return readJsonFile(answerPath(paths, id), AskAnswer, 'an answer record', { maxBytes: 8 * 1024 * 1024 });
}
