// A second rig whose ports are taken refuses before it starts anything: exit 3 (EXIT_REFUSED),
// naming the port, the GPU and the process holding it (here: this test's own process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { writeConfig } from '../../agents/core/config.ts';
import { EXIT_REFUSED } from '../../agents/core/lifecycle.ts';
import { SIM_SANDBOX, initSimState, simNvidiaSmiPath } from '../../agents/sim/simState.ts';
import { freePortRange } from '../../tools/harness/ports.ts';
import { tempMount } from '../helpers/mount.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

function listen(port: number): Promise<Server> {
  const srv = createServer();
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

test('--simulate with a taken --base-port: exit 3 naming the port, its GPU and the holder; nothing started', async () => {
  const { paths, cleanup } = await tempMount();
  const port = await freePortRange(2);
  const holder = await listen(port + 1);
  try {
    const r = await execa(process.execPath, [`${root}bin/forge`, 'rig', '--simulate', '2', '--base-port', String(port), '--shared', paths.root], { reject: false, stdin: 'ignore', cwd: root, timeout: 60_000 });
    assert.equal(r.exitCode, EXIT_REFUSED, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /rig: not starting: a port this rig's LLM servers need is not free; nothing was started\./);
    const line = r.stderr.split('\n').find((l) => l.includes(`127.0.0.1:${port + 1} `));
    assert.ok(line, r.stderr);
    assert.match(line, new RegExp(`\\(GPU 1, runtime-1\\): held by pid ${process.pid} \\(\\S*node`));
    // GPU 0's port is free: only the busy one is named.
    assert.ok(!r.stderr.includes(`127.0.0.1:${port} `), r.stderr);
    const hint = /`--base-port (\d+)` picks other ports/.exec(r.stderr);
    assert.ok(hint, r.stderr);
    assert.ok(Number(hint[1]) > port + 1, `the suggested base ${hint[1]} avoids the busy port`);
    assert.doesNotMatch(r.stderr, /started, pid|rig up/);
    // Nothing ran: no brain lock or owner, no heartbeat, no simulator process.
    assert.equal(existsSync(paths.brainLock + '.lock'), false);
    assert.equal(existsSync(paths.brainLock + '.owner'), false);
    const gpuDirs = await readdir(paths.gpus).catch(() => [] as string[]);
    for (const d of gpuDirs) assert.equal(existsSync(join(paths.gpus, d, 'heartbeat.json')), false, d);
    assert.deepEqual(await readdir(join(paths.sim, 'procs')).catch(() => []), []);
  } finally {
    holder.close();
    await cleanup();
  }
});

test('a managed GPU whose port is taken is refused the same way; an unmanaged GPU\'s taken port is its operator\'s server', async () => {
  const { paths, cleanup } = await tempMount();
  const port = await freePortRange(2);
  const held = await Promise.all([listen(port), listen(port + 1)]);
  await initSimState(paths.sim, 2);
  await writeConfig(paths.config, {
    gpus: [
      { id: 0, name: 'gpu-0', model: 'qwen2.5:7b', port, manage: false },
      { id: 1, name: 'gpu-1', model: 'qwen2.5:7b', port: port + 1, manage: true, runtime: 'openai', serve: { argv: ['forge-test-no-such-server', '--port', '{port}'], env: {} } },
    ],
    nvidia_smi: simNvidiaSmiPath(),
    sandbox: SIM_SANDBOX,
  });
  try {
    const r = await execa(process.execPath, [`${root}bin/forge`, 'rig', '--shared', paths.root], { reject: false, stdin: 'ignore', cwd: root, timeout: 60_000 });
    assert.equal(r.exitCode, EXIT_REFUSED, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port + 1} \\(GPU 1, runtime-1\\): held by pid ${process.pid} `));
    assert.ok(!r.stderr.includes(`127.0.0.1:${port} `), r.stderr);
    assert.match(r.stderr, /give the GPU another port \(gpus\[\]\.port in the config\)/);
    assert.equal(existsSync(paths.brainLock + '.owner'), false);
  } finally {
    for (const s of held) s.close();
    await cleanup();
  }
});
