// One pass of `forge forward` over outbox/: each event, oldest first, to each sink it has not
// reached, then into outbox/sent/.
//
// Exactly once, as far as a sink allows: after each delivery the event's record in
// outbox/delivering/<id>.json is written whole with that sink added, before anything else
// happens; an event leaves outbox/ (one rename into sent/) only once every sink is in it. A
// forward killed at any point therefore sends again only the one delivery that was under way
// when it died, to the one sink that has no record of it; a webhook gets the event id as its
// idempotency key for exactly that case. A sink that fails keeps its events in outbox/ and is
// tried again after a backoff; events are never dropped.
import { errorMessage } from '../core/errors.ts';
import { type MountPaths } from '../core/paths.ts';
import { idOfEventFile, listOutbox, markSent, readDelivered, readEvent, recordDelivered, removeStaleRecords } from '../core/outbox.ts';
import type { OutboxEvent } from '../core/outbox.ts';
import { basename } from 'node:path';
import { type SinkHealth, afterTry, pendingSinks, sinkReady } from './deliveryPlan.ts';
import type { ForwardConfig, Sink } from './forwardConfig.ts';

export type Deliver = (sink: Sink, ev: OutboxEvent, timeoutMs: number) => Promise<void>;

export interface DrainResult {
  sent: number;
  /** Events still in outbox/ after the pass. */
  waiting: number;
}

export class Forwarder {
  private readonly health = new Map<string, SinkHealth>();
  /** Files already reported as unreadable: said once, left in place for a person. */
  private readonly badSaid = new Set<string>();

  private readonly paths: MountPaths;
  private readonly config: ForwardConfig;
  private readonly deliverTo: Deliver;
  private readonly now: () => number;
  private readonly say: (line: string) => void;

  constructor(o: { paths: MountPaths; config: ForwardConfig; deliver: Deliver; now: () => number; say: (line: string) => void }) {
    this.paths = o.paths;
    this.config = o.config;
    this.deliverTo = o.deliver;
    this.now = o.now;
    this.say = o.say;
  }

  /** Clock (ms) when the next failing sink may be tried; null when none is failing. */
  nextRetryAt(): number | null {
    const times = [...this.health.values()].map((h) => h.retryAt);
    return times.length ? Math.min(...times) : null;
  }

  async drain(signal?: AbortSignal): Promise<DrainResult> {
    const files = await listOutbox(this.paths);
    await removeStaleRecords(this.paths, new Set(files.map((f) => idOfEventFile(basename(f))!)));
    let sent = 0;
    for (const file of files) {
      if (signal?.aborted) break;
      if (await this.forward(file)) sent++;
    }
    return { sent, waiting: (await listOutbox(this.paths)).length };
  }

  /** Delivers one event to the sinks it still needs; true when it went to outbox/sent/. */
  private async forward(file: string): Promise<boolean> {
    const read = await readEvent(file);
    if (!read.ok) {
      if (!read.missing && !this.badSaid.has(file)) {
        this.badSaid.add(file);
        this.say(`forward: ${file}: ${read.problem}; left in outbox/ for a person (not sent)`);
      }
      return false;
    }
    const ev = read.value;
    const names = this.config.sinks.map((s) => s.name);
    const done = await readDelivered(this.paths, ev.id);
    for (const name of pendingSinks(names, done)) {
      const sink = this.config.sinks.find((s) => s.name === name)!;
      if (!sinkReady(this.health.get(name), this.now())) continue;
      let ok = true;
      try {
        await this.deliverTo(sink, ev, this.config.timeout_s * 1000);
      } catch (err) {
        ok = false;
        const h = afterTry(this.health.get(name), false, this.now(), this.config.backoff.base_s, this.config.backoff.cap_s)!;
        this.health.set(name, h);
        this.say(`forward: ${ev.id} to ${name} failed (${errorMessage(err)}); failure ${h.failures} in a row, ${name} tried again in ${Math.round((h.retryAt - this.now()) / 100) / 10} s; the event stays in outbox/`);
      }
      if (!ok) continue;
      this.health.delete(name);
      done.push(name);
      await recordDelivered(this.paths, ev.id, done);
      this.say(`forward: ${ev.id} sent to ${name}`);
    }
    if (pendingSinks(names, done).length > 0) return false;
    await markSent(this.paths, file, ev.id);
    return true;
  }
}
