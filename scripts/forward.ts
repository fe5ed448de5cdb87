// forge forward [--once] [--config FILE] [--shared DIR]: sends the events in <shared>/outbox/
// to the sinks of forward.json (webhook, command, file), each event to each sink once, then
// moves it to outbox/sent/ (agents/forward/drain.ts says how a kill cannot lose or double one).
// Meant for the host with a way out (the Pi): run one forward per mount.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseCommand, runCommand } from '../agents/core/args.ts';
import { mountPaths } from '../agents/core/paths.ts';
import { Forwarder } from '../agents/forward/drain.ts';
import { readForwardConfig } from '../agents/forward/forwardConfig.ts';
import { deliver } from '../agents/forward/sinks.ts';

const USAGE = `usage: forge forward [--once] [--config FILE] [--shared DIR]
  --once         send what is in outbox/ now, then exit (1 when some events could not be sent)
  --config FILE  the sinks (default: <shared>/forward.json); see docs/OPERATIONS.md
  --shared DIR   the shared mount (default: $RIG_SHARED, else ./shared)
  -h, --help     print this help and exit
Without --once it looks at outbox/ every poll_s seconds until SIGTERM or SIGINT.`;

async function main(): Promise<void> {
  const { values, shared } = parseCommand(USAGE, { once: { type: 'boolean' }, config: { type: 'string' } }, undefined, { positionals: { max: 0 } });
  const paths = mountPaths(shared);
  const file = values.config ?? join(paths.root, 'forward.json');
  const cfg = await readForwardConfig(file);
  if (!cfg.ok) {
    process.stderr.write(`forward: ${cfg.problem}\n`);
    process.exit(1);
  }
  const say = (line: string) => process.stderr.write(line + '\n');
  const fwd = new Forwarder({ paths, config: cfg.value, deliver, now: () => Date.now(), say });

  if (values.once) {
    const r = await fwd.drain();
    say(`forward: ${r.sent} event(s) sent, ${r.waiting} waiting in ${paths.outbox}`);
    process.exit(r.waiting > 0 ? 1 : 0);
  }

  // A signal lets the delivery under way finish (and be recorded), then ends the loop.
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stop.abort(sig));
  say(`forward: sending ${paths.outbox} to ${cfg.value.sinks.map((s) => `${s.name} (${s.type})`).join(', ')}`);
  const pollMs = cfg.value.poll_s * 1000;
  while (!stop.signal.aborted) {
    await fwd.drain(stop.signal);
    const retryAt = fwd.nextRetryAt();
    const wait = retryAt === null ? pollMs : Math.max(10, Math.min(pollMs, retryAt - Date.now()));
    await sleep(wait, undefined, { signal: stop.signal }).catch(() => {});
  }
  say(`forward: stopping (${String(stop.signal.reason)})`);
  process.exit(0);
}

runCommand(main);
