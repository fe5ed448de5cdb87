// outbox/ on the mount: one JSON file per event a person may care about (a batch finished, a
// task gave up, an agent died...), written whole by the brain, drained by `forge forward`
// (agents/forward/) on whichever host can reach the outside. Its delivery bookkeeping lives
// beside it: outbox/delivering/<id>.json (the sinks an event has reached so far) and
// outbox/sent/ (events delivered to every sink).
//
// An event's id is derived from what happened (batch_failed.<batch>.<finish time>), never
// random: a brain that restarts and says the same thing again finds the id already in outbox/
// or outbox/sent/ and writes nothing, so a person is not told twice.
import { mkdir, readdir, rename, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as z from './zod.ts';
import { isTempName, writeJsonAtomic } from './atomic.ts';
import { isoTime } from './clock.ts';
import { errorCode } from './errors.ts';
import { type JsonFileRead, readJsonFile } from './mountJson.ts';
import { type MountPaths, childPath, isSafeName } from './paths.ts';

export const EVENT_TYPES = [
  'batch_finished', //       a batch ended with every task complete
  'batch_failed', //         a batch ended with tasks failed or not run
  'batch_cancelled', //      a batch ended cancelled (forge cancel)
  'task_gave_up', //         a task used its attempts: an escalation record says what ran and how it failed
  'task_needs_approval', //  a task waits for a file in approvals/
  'intervention_needed', //  a stuck task the brain could not end
  'agent_dead', //           an agent's heartbeat stopped
  'gpu_constrained', //      an agent constrained (temperature, VRAM, power) longer than outbox.constrained_after_s
  'schedule_missed', //      scheduled runs missed while the brain was down and not caught up
  'plan_rejected', //        a submission refused: an escalation record lists its problems
] as const;
export const EventType = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventType>;

/** The one schema of an outbox file. Version 1: fields may be added, none renamed or removed. */
export const OutboxEvent = z.object({
  v: z.literal(1),
  /** <type>.<what it concerns>: a safe file name, the same each time the same thing is said. */
  id: z.string().check(z.refine(isSafeName, { message: 'must be a safe file name' })),
  type: EventType,
  /** ISO time the event happened (the emitter's clock). */
  time: z.string(),
  batch: z.nullable(z.string()),
  task: z.nullable(z.string()),
  plan: z.nullable(z.string()),
  agent: z.nullable(z.string()),
  /** One line for a person. */
  message: z.string(),
  /** The escalation record that goes with it, relative to the mount (escalations/...); null: none. */
  escalation: z.nullable(z.string()),
});
export type OutboxEvent = z.infer<typeof OutboxEvent>;

/** What an emitter says: the rest (v, nulls) is filled in by makeEvent. */
export interface EventInput {
  type: EventType;
  /** What the event concerns after its type: e.g. the batch id and finish time. Made safe here. */
  key: string[];
  time: number;
  message: string;
  batch?: string | null;
  task?: string | null;
  plan?: string | null;
  agent?: string | null;
  escalation?: string | null;
}

/** Pure: an ISO time as a file-name-safe token that sorts as the time does: 2025-01-02T03:04:05.678Z → 20250102T030405.678Z. */
export function compactTime(ms: number): string {
  return isoTime(ms).replace(/[-:]/g, '');
}

/** Pure: any text as a safe id segment (unsafe characters become '_'). */
function safeSegment(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9._-]/g, '_');
  return cleaned.length > 0 ? cleaned : '_';
}

/** Pure: the event an emitter describes; one line of message (a newline would break a chat line or a log). */
export function makeEvent(e: EventInput): OutboxEvent {
  // No '..' anywhere (isSafeName refuses it), whatever the key's segments start or end with.
  const id = [e.type, ...e.key.map(safeSegment)].join('.').replace(/\.\.+/g, '.').slice(0, 200);
  return {
    v: 1, id, type: e.type, time: isoTime(e.time),
    batch: e.batch ?? null, task: e.task ?? null, plan: e.plan ?? null, agent: e.agent ?? null,
    message: e.message.replace(/\s*\n\s*/g, ' ').slice(0, 1000),
    escalation: e.escalation ?? null,
  };
}

/** Pure: the event's file name: <compact time>-<id>.json, so a listing sorts oldest first. */
export function eventFileName(ev: Pick<OutboxEvent, 'id' | 'time'>): string {
  return `${compactTime(Date.parse(ev.time))}-${ev.id}.json`;
}

/** Pure: the id in an event file name, or null for a name that is not one (temporaries, strays). */
export function idOfEventFile(name: string): string | null {
  const m = /^\d{8}T\d{6}\.\d{3}Z-(.+)\.json$/.exec(name);
  return m && !isTempName(name) ? m[1]! : null;
}

export function outboxDir(paths: MountPaths): string {
  return paths.outbox;
}
export function sentDir(paths: MountPaths): string {
  return join(outboxDir(paths), 'sent');
}
export function deliveringDir(paths: MountPaths): string {
  return join(outboxDir(paths), 'delivering');
}

async function eventFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((err) => {
    if (errorCode(err) === 'ENOENT') return [] as string[];
    throw err;
  });
  return names.filter((n) => idOfEventFile(n) !== null).sort();
}

/** The event files waiting in outbox/, oldest first (full paths). */
export async function listOutbox(paths: MountPaths): Promise<string[]> {
  return (await eventFiles(outboxDir(paths))).map((n) => join(outboxDir(paths), n));
}

/**
 * Writes the event into outbox/ whole, unless an event of the same id is already waiting or
 * sent. Returns the file written, or null when it was there already. The brain is the one
 * emitter (its lock), so check-then-write does not race another writer.
 */
export async function emitEvent(paths: MountPaths, ev: OutboxEvent): Promise<string | null> {
  const suffix = `-${ev.id}.json`;
  for (const dir of [outboxDir(paths), sentDir(paths)]) {
    if ((await eventFiles(dir)).some((n) => n.endsWith(suffix))) return null;
  }
  const file = childPath(outboxDir(paths), eventFileName(ev), 'event file');
  await mkdir(outboxDir(paths), { recursive: true });
  await writeJsonAtomic(file, ev);
  return file;
}

export function readEvent(file: string): Promise<JsonFileRead<OutboxEvent>> {
  return readJsonFile(file, OutboxEvent, 'an outbox event');
}

/** outbox/delivering/<id>.json: the sinks (by name) an event has reached; written whole after each delivery. */
export const DeliveryRecord = z.object({
  id: z.string(),
  done: z.array(z.string()),
});
export type DeliveryRecord = z.infer<typeof DeliveryRecord>;

function deliveryPath(paths: MountPaths, id: string): string {
  return childPath(deliveringDir(paths), `${id}.json`, 'event id');
}

/** The sinks an event has reached; none when there is no record (or an unreadable one: re-delivery beats loss). */
export async function readDelivered(paths: MountPaths, id: string): Promise<string[]> {
  const r = await readJsonFile(deliveryPath(paths, id), DeliveryRecord, 'a delivery record');
  return r.ok ? r.value.done : [];
}

export async function recordDelivered(paths: MountPaths, id: string, done: string[]): Promise<void> {
  await mkdir(deliveringDir(paths), { recursive: true });
  await writeJsonAtomic(deliveryPath(paths, id), { id, done });
}

/** The event delivered everywhere: renamed into outbox/sent/, then its delivery record removed. */
export async function markSent(paths: MountPaths, file: string, id: string): Promise<void> {
  await mkdir(sentDir(paths), { recursive: true });
  await rename(file, join(sentDir(paths), basename(file)));
  await unlink(deliveryPath(paths, id)).catch(() => {});
}

/** Delivery records whose event is no longer waiting (a forward stopped between the rename and the unlink). */
export async function removeStaleRecords(paths: MountPaths, waitingIds: ReadonlySet<string>): Promise<void> {
  const names = await readdir(deliveringDir(paths)).catch(() => [] as string[]);
  for (const n of names) {
    if (isTempName(n) || !n.endsWith('.json')) continue;
    if (!waitingIds.has(n.slice(0, -'.json'.length))) await unlink(join(deliveringDir(paths), n)).catch(() => {});
  }
}
