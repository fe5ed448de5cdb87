// forge forward against a real webhook on loopback: the sink is down while a batch fails, comes
// back, and forward is killed (SIGKILL) while a delivery is under way and started again. Each
// event reaches the sink, none is lost, and only the delivery cut by the kill is sent twice,
// with the same idempotency key, so the sink handles each event exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { commandArgsFor, projectRoot } from '../../agents/core/entry.ts';
import { submitPlan, waitFor, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { tempMount } from '../helpers/mount.ts';
import { startAgent, startBrain, stopAll, writePlan, writeTestConfig } from '../helpers/rig.ts';

const PLAN = `# Fails

## Goal
Fail once, for good.

## Tasks

### broken
- **task_class**: cpu
- **max_attempts**: 1
- **command**: \`node -e "console.error('boom'); process.exit(5)"\`

### fine
- **task_class**: cpu
- **command**: \`node -e "process.exit(0)"\`
`;

/** forward as the Pi runs it; what it says on stderr is collected into `said`. */
function startForward(shared: string, said: string[]): ResultPromise {
  const p = execa(process.execPath, [...commandArgsFor('forward'), '--shared', shared], { reject: false, stdin: 'ignore', cwd: projectRoot });
  p.stderr?.on('data', (d: Buffer) => said.push(d.toString()));
  return p;
}

async function eventFiles(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((n) => /^\d{8}T.*\.json$/.test(n)).sort();
}

/** A free loopback port, closed again: the sink is "down" until something listens there. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

test('forward: sink down while a batch fails, then up; forward killed mid-delivery and restarted; each event handled once, none lost', async () => {
  const { paths, cleanup } = await tempMount();
  const procs: ResultPromise[] = [];
  let fwd: ResultPromise | null = null;
  const port = await freePort();
  const server = createServer();
  const said: string[] = [];
  try {
    await writeTestConfig(paths, 1);
    await writePlan(paths, 'fails', PLAN);
    await writeFile(join(paths.root, 'forward.json'), JSON.stringify({
      sinks: [{ name: 'hook', type: 'webhook', url: `http://127.0.0.1:${port}/events`, format: 'json' }],
      poll_s: 0.1, timeout_s: 20, backoff: { base_s: 0.1, cap_s: 0.3 },
    }));
    fwd = startForward(paths.root, said);
    procs.push(startBrain(paths), startAgent(paths, 0));
    await waitForAgents(paths, [0], 30_000);
    const batch = await submitPlan(paths.root, 'fails');
    const rec = await waitForBatchEnd(paths, batch, 60_000);
    assert.equal(rec.state, 'failed');
    const waiting = await waitFor('both events in outbox/', async () => {
      const names = await eventFiles(paths.outbox);
      return names.length === 2 ? names : null;
    }, 20_000);
    assert.match(waiting[0]!, new RegExp(`-task_gave_up\\.${batch}__broken\\.a1\\.json$`));
    assert.match(waiting[1]!, new RegExp(`-batch_failed\\.${batch}\\.\\d{8}T\\d{6}\\.\\d{3}Z\\.json$`));
    // Forward keeps trying the dead sink; the events stay where they are.
    await waitFor('a failed delivery said', async () => /to hook failed \(.*\); failure \d+ in a row/.test(said.join('')) || null, 10_000);
    assert.deepEqual(await eventFiles(paths.outbox), waiting);
    assert.deepEqual(await eventFiles(join(paths.outbox, 'sent')), []);

    // The sink: every request counted by its idempotency key; a key seen before is answered
    // 200 and not handled again. The very first request is held until forward is killed.
    const requests = new Map<string, number>();
    const handled: Array<{ id: string; type: string }> = [];
    let held: { res: ServerResponse; arrived: () => void } | null = null;
    const firstArrived = new Promise<void>((arrived) => { held = { res: null as unknown as ServerResponse, arrived }; });
    let first = true;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        const key = String(req.headers['idempotency-key']);
        const ev = JSON.parse(body) as { id: string; type: string };
        assert.equal(ev.id, key);
        requests.set(key, (requests.get(key) ?? 0) + 1);
        if (first) {
          first = false;
          held!.res = res;
          held!.arrived();
          return; // no answer: forward dies waiting for it
        }
        if (!handled.some((h) => h.id === key)) handled.push({ id: ev.id, type: ev.type });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    await firstArrived;
    fwd.kill('SIGKILL');
    await fwd;
    held!.res.destroy();

    fwd = startForward(paths.root, said);
    await waitFor('outbox drained', async () => (await eventFiles(paths.outbox)).length === 0 || null, 20_000);
    fwd.kill('SIGTERM');
    const r = await fwd;
    fwd = null;
    assert.equal(r.exitCode, 0, String(r.stderr));

    const sent = await eventFiles(join(paths.outbox, 'sent'));
    assert.deepEqual(sent, waiting);
    const ids = await Promise.all(sent.map(async (n) => (JSON.parse(await readFile(join(paths.outbox, 'sent', n), 'utf8')) as { id: string }).id));
    // Exactly one handling per event, none missing.
    assert.deepEqual(handled.map((h) => h.id).sort(), [...ids].sort());
    assert.deepEqual(handled.map((h) => h.type).sort(), ['batch_failed', 'task_gave_up']);
    // Only the delivery cut by the kill went out twice (the oldest event, task_gave_up).
    assert.deepEqual(Object.fromEntries(requests), { [ids[0]!]: 2, [ids[1]!]: 1 });
    assert.deepEqual(await readdir(join(paths.outbox, 'delivering')), []);
  } finally {
    if (fwd) {
      fwd.kill('SIGKILL');
      await fwd;
    }
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await stopAll(procs);
    await cleanup();
  }
});
