// Delivering one event to one sink. Each returns when the sink has it, or throws with what went
// wrong. A webhook carries the event id twice (the Idempotency-Key header and the body): a
// forward stopped after the request reached the sink but before it recorded the delivery sends
// it again, and the sink can tell the repeat by that id.
import { spawn } from 'node:child_process';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { OutboxEvent } from '../core/outbox.ts';
import type { Sink } from './forwardConfig.ts';

/** Pure: the body a webhook sink gets. */
export function webhookBody(format: 'slack' | 'json', ev: OutboxEvent): Record<string, unknown> {
  if (format === 'json') return ev;
  const where = [ev.batch && `batch ${ev.batch}`, ev.task && `task ${ev.task}`, ev.agent && `agent ${ev.agent}`].filter(Boolean).join(', ');
  return { text: `[forge] ${ev.type}: ${ev.message}${where ? ` (${where})` : ''}`, event_id: ev.id };
}

async function postWebhook(url: string, body: unknown, id: string, timeoutMs: number): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': id, 'x-forge-event-id': id },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  await res.arrayBuffer().catch(() => {});
  if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
}

function runCommandSink(argv: readonly string[], ev: OutboxEvent, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['pipe', 'ignore', 'pipe'], shell: false, timeout: timeoutMs, killSignal: 'SIGKILL',
      env: { ...process.env, FORGE_EVENT_ID: ev.id, FORGE_EVENT_TYPE: ev.type },
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-500); });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${argv[0]} ${signal ? `killed by ${signal}` : `exited ${code}`}${err.trim() ? `: ${err.trim().split('\n').at(-1)}` : ''}`));
    });
    child.stdin.on('error', () => {}); // a command that does not read stdin
    child.stdin.end(JSON.stringify(ev) + '\n');
  });
}

export async function deliver(sink: Sink, ev: OutboxEvent, timeoutMs: number): Promise<void> {
  switch (sink.type) {
    case 'webhook':
      return postWebhook(sink.url, webhookBody(sink.format, ev), ev.id, timeoutMs);
    case 'command':
      return runCommandSink(sink.argv, ev, timeoutMs);
    case 'file':
      await mkdir(dirname(sink.path), { recursive: true });
      return appendFile(sink.path, JSON.stringify(ev) + '\n');
  }
}
