// forward.json: where `forge forward` sends the outbox's events. Read only by forward, which
// runs on the host that can reach the sinks (the Pi); default <shared>/forward.json.
import * as z from '../core/zod.ts';
import { readJsonFile } from '../core/mountJson.ts';

const Name = z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a sink name: letters, digits, ".", "_", "-"'));

export const WebhookSink = z.strictObject({
  /** The sink's name: the delivery records (outbox/delivering/) remember which sinks an event reached by it, so keep it when editing the file. */
  name: Name,
  type: z.literal('webhook'),
  url: z.url({ protocol: /^https?$/ }),
  /** slack: {"text": "..."} for a Slack (or Mattermost, Rocket.Chat) incoming webhook; json: the event as it is in outbox/. */
  format: z._default(z.enum(['slack', 'json']), 'json'),
});

export const CommandSink = z.strictObject({
  name: Name,
  type: z.literal('command'),
  /** Run without a shell, the event's JSON on stdin; exit 0 means delivered. */
  argv: z.array(z.string()).check(z.minLength(1)),
});

export const FileSink = z.strictObject({
  name: Name,
  type: z.literal('file'),
  /** One JSON line appended per event. */
  path: z.string().check(z.minLength(1)),
});

export const Sink = z.discriminatedUnion('type', [WebhookSink, CommandSink, FileSink]);
export type Sink = z.infer<typeof Sink>;

export const ForwardConfig = z.strictObject({
  sinks: z.array(Sink).check(
    z.minLength(1, 'name at least one sink'),
    z.refine((s) => new Set(s.map((x) => x.name)).size === s.length, { message: 'sink names must differ' }),
  ),
  /** Seconds between looks at outbox/ (forward without --once). */
  poll_s: z._default(z.number().check(z.gte(0.05), z.lte(3600)), 5),
  /** Seconds one delivery may take before it counts as failed. */
  timeout_s: z._default(z.number().check(z.gt(0), z.lte(600)), 15),
  /** A sink that fails waits base_s, then twice as long after each failure in a row, at most cap_s. */
  backoff: z.prefault(z.strictObject({
    base_s: z._default(z.number().check(z.gte(0), z.lte(86_400)), 2),
    cap_s: z._default(z.number().check(z.gte(0), z.lte(86_400)), 300),
  }), {}),
});
export type ForwardConfig = z.infer<typeof ForwardConfig>;

export async function readForwardConfig(file: string): Promise<{ ok: true; value: ForwardConfig } | { ok: false; problem: string }> {
  const r = await readJsonFile(file, ForwardConfig, 'a forward config {"sinks": [...]}', { followSymlinks: true });
  if (r.ok) return r;
  const example = '{"sinks": [{"name": "slack", "type": "webhook", "url": "https://hooks.slack.com/services/...", "format": "slack"}]}';
  if (r.missing) return { ok: false, problem: `${file}: no such file; write one such as ${example} (docs/OPERATIONS.md, "Outbox and forwarding")` };
  return { ok: false, problem: `${file}: ${(r.problems ?? [r.problem]).join('; ')}` };
}
