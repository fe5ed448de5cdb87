// The simulated nvidia-smi as the agent runs it: the real executable (sh wrapper → node),
// a real subprocess per reading, state in a temporary FORGE_SIM_DIR, live processes checked
// with real pids. Also: the simulator prints the real tool's columns and headers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { matchWorkerVram, readGpuTelemetry, readProcessTree, type TelemetrySnapshot } from '../../agents/gpu/readTelemetry.ts';
import { APP_QUERY_FIELDS, GPU_QUERY_FIELDS, parseComputeAppsCsv, parseGpuCsv } from '../../agents/gpu/telemetry.ts';
import {
  SIM_DIR_ENV,
  SIM_GPU_DEFAULTS,
  initSimState,
  registerSimProc,
  removeSimProc,
  setGpuOverrides,
  simBinDir,
  simNvidiaSmiPath,
} from '../../agents/sim/simState.ts';
import { SMI_CACHE_DIR, measureSmiCallCost, readSmiCalls } from '../../agents/sim/smiCalls.ts';

const REAL = fileURLToPath(new URL('../fixtures/nvidia-smi/h100-80gb/', import.meta.url));
const SMI = simNvidiaSmiPath();
const children: ChildProcess[] = [];
/** Grandchildren (not ours to wait on) that must not outlive the tests. */
const strays: number[] = [];
let root: string;

function ok(s: TelemetrySnapshot): Extract<TelemetrySnapshot, { ok: true }> {
  if (!s.ok) assert.fail(`expected a reading, got: ${s.reason}`);
  return s;
}

function notOk(s: TelemetrySnapshot): string {
  if (s.ok) assert.fail(`expected a failure, got a reading of GPU ${s.gpu.index}`);
  return s.reason;
}

/** A real process to register as a GPU process; killed after the tests. */
function spawnSleeper(args = ['sleep', '60']): ChildProcess & { pid: number } {
  const child = spawn(args[0] as string, args.slice(1), { stdio: 'ignore' });
  children.push(child);
  assert.ok(child.pid, 'spawned a process');
  return child as ChildProcess & { pid: number };
}

async function freshSim(name: string, count = 2): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = join(root, name);
  await initSimState(dir, count);
  return { dir, env: { [SIM_DIR_ENV]: dir } };
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'forge-sim-smi-'));
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const pid of strays) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await rm(root, { recursive: true, force: true });
});

describe('readGpuTelemetry through the simulator', () => {
  it('idle figures', async () => {
    const { env } = await freshSim('idle');
    const s = ok(await readGpuTelemetry(SMI, 1, { env }));
    assert.deepEqual(s.procs, []);
    assert.deepEqual(s.problems, []);
    const { uuid, ...rest } = s.gpu;
    assert.match(uuid, /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(rest, {
      index: 1,
      name: SIM_GPU_DEFAULTS.name,
      temperature_c: SIM_GPU_DEFAULTS.base_temp_c,
      power_draw_w: SIM_GPU_DEFAULTS.idle_power_w,
      power_limit_w: SIM_GPU_DEFAULTS.power_limit_w,
      memory_used_mb: 0,
      memory_total_mb: 6144,
      memory_free_mb: 6144,
      utilization_percent: 0,
      clock_sm_mhz: SIM_GPU_DEFAULTS.max_sm_clock_mhz,
      clock_max_sm_mhz: SIM_GPU_DEFAULTS.max_sm_clock_mhz,
      throttle_mask: 0x1,
      throttle_reasons: ['gpu_idle'],
      pstate: 'P0',
    });
    assert.ok(Math.abs(s.at - Date.now()) < 5000);
  });

  it('a live process shows in compute-apps with its memory and heats its GPU only', async () => {
    const { dir, env } = await freshSim('live');
    const before0 = ok(await readGpuTelemetry(SMI, 0, { env })).gpu;
    const worker = spawnSleeper();
    await registerSimProc(dir, { pid: worker.pid, gpu_index: 0, used_mb: 3072, name: 'python3' });

    const s = ok(await readGpuTelemetry(SMI, 0, { env }));
    assert.deepEqual(s.procs, [{ pid: worker.pid, process_name: 'python3', used_memory_mb: 3072, gpu_uuid: s.gpu.uuid }]);
    assert.equal(s.gpu.memory_used_mb, 3072);
    assert.equal(s.gpu.memory_free_mb, 6144 - 3072);
    assert.equal(s.gpu.utilization_percent, 100);
    assert.ok((s.gpu.temperature_c ?? 0) > (before0.temperature_c ?? Infinity), 'temperature rose');
    assert.ok((s.gpu.power_draw_w ?? 0) > (before0.power_draw_w ?? Infinity), 'power rose');
    assert.deepEqual(s.gpu.throttle_reasons, []);
    assert.deepEqual([...matchWorkerVram(s.procs, [worker.pid])], [[worker.pid, 3072]]);
    // Without the compute-apps query (an agent with no worker): the card's figures, no processes.
    const bare = ok(await readGpuTelemetry(SMI, 0, { env, apps: false }));
    assert.deepEqual(bare.procs, []);
    assert.equal(bare.gpu.memory_used_mb, 3072);

    const other = ok(await readGpuTelemetry(SMI, 1, { env }));
    assert.deepEqual(other.procs, [], 'GPU 1 does not list GPU 0 processes');
    assert.equal(other.gpu.memory_used_mb, 0);

    await removeSimProc(dir, worker.pid);
    assert.equal(ok(await readGpuTelemetry(SMI, 0, { env })).gpu.memory_used_mb, 0);
  });

  it("a worker's child holding the memory is matched through the process tree", async () => {
    const { dir, env } = await freshSim('tree');
    const shell = spawnSleeper(['sh', '-c', 'sleep 60 & wait']);
    let grandchild: number | undefined;
    for (let i = 0; i < 100 && grandchild === undefined; i++) {
      grandchild = (await readProcessTree()).descendantsOf(shell.pid)[0];
      if (grandchild === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(grandchild, 'sh started its sleep');
    strays.push(grandchild);
    await registerSimProc(dir, { pid: grandchild, gpu_index: 0, used_mb: 1500, name: 'sleep' });
    const s = ok(await readGpuTelemetry(SMI, 0, { env }));
    const tree = await readProcessTree();
    assert.deepEqual([...matchWorkerVram(s.procs, [shell.pid], (pid) => tree.descendantsOf(pid))], [[shell.pid, 1500]]);
    assert.deepEqual([...matchWorkerVram(s.procs, [shell.pid])], [], 'without the tree only the listed pid counts');
  });

  it('a process that is no longer alive is ignored', async () => {
    const { dir, env } = await freshSim('dead');
    const gone = spawnSleeper();
    gone.kill('SIGKILL');
    await once(gone, 'exit');
    await registerSimProc(dir, { pid: gone.pid, gpu_index: 0, used_mb: 4096, name: 'python3' });
    const s = ok(await readGpuTelemetry(SMI, 0, { env }));
    assert.deepEqual(s.procs, []);
    assert.equal(s.gpu.memory_used_mb, 0);
    assert.equal(s.gpu.temperature_c, SIM_GPU_DEFAULTS.base_temp_c);
  });

  it('overrides win: 90 C sets thermal slowdown and drops the clock; null removes it', async () => {
    const { dir, env } = await freshSim('override');
    await setGpuOverrides(dir, 0, { temperature_c: 90 });
    const hot = ok(await readGpuTelemetry(SMI, 0, { env })).gpu;
    assert.equal(hot.temperature_c, 90);
    assert.deepEqual(hot.throttle_reasons, ['gpu_idle', 'sw_thermal_slowdown']);
    assert.ok((hot.clock_sm_mhz ?? Infinity) < SIM_GPU_DEFAULTS.max_sm_clock_mhz);
    assert.equal(ok(await readGpuTelemetry(SMI, 1, { env })).gpu.temperature_c, SIM_GPU_DEFAULTS.base_temp_c, 'GPU 1 untouched');

    await setGpuOverrides(dir, 0, { temperature_c: null, power_draw_w: 141, memory_used_mb: 5900, utilization_percent: 80 });
    const capped = ok(await readGpuTelemetry(SMI, 0, { env })).gpu;
    assert.equal(capped.temperature_c !== null && capped.temperature_c < 90, true);
    assert.equal(capped.power_draw_w, 141);
    assert.equal(capped.memory_used_mb, 5900);
    assert.equal(capped.utilization_percent, 80);
    assert.deepEqual(capped.throttle_reasons, ['sw_power_cap']);

    await setGpuOverrides(dir, 0, { throttle_mask: 0x48 });
    assert.deepEqual(ok(await readGpuTelemetry(SMI, 0, { env })).gpu.throttle_reasons, ['hw_slowdown', 'hw_thermal_slowdown']);
  });

  it("fail 'na': [N/A] temperature and power read as null, the rest as usual", async () => {
    const { dir, env } = await freshSim('na');
    await setGpuOverrides(dir, 0, { fail: 'na' });
    const s = ok(await readGpuTelemetry(SMI, 0, { env }));
    assert.equal(s.gpu.temperature_c, null);
    assert.equal(s.gpu.power_draw_w, null);
    assert.equal(s.gpu.power_limit_w, null);
    assert.equal(s.gpu.memory_total_mb, 6144);
    assert.deepEqual(s.problems, []);
  });

  it("fail 'driver': ok false with the driver's own message", async () => {
    const { dir, env } = await freshSim('driver');
    await setGpuOverrides(dir, 1, { fail: 'driver' });
    for (const index of [0, 1]) {
      const reason = notOk(await readGpuTelemetry(SMI, index, { env }));
      assert.match(reason, new RegExp(`^GPU ${index}: .*NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver`));
      assert.match(reason, /\(exit code 9\)/);
    }
  });

  it("a missing index: ok false, 'No devices were found'", async () => {
    const { dir, env } = await freshSim('missing');
    assert.match(notOk(await readGpuTelemetry(SMI, 7, { env })), /^GPU 7: .*No devices were found \(exit code 6\)/);
    await setGpuOverrides(dir, 1, { fail: 'missing' });
    assert.match(notOk(await readGpuTelemetry(SMI, 1, { env })), /No devices were found/);
    ok(await readGpuTelemetry(SMI, 0, { env }));
  });

  it('no state: ok false, the driver message and the reason from stderr', async () => {
    const reason = notOk(await readGpuTelemetry(SMI, 0, { env: { [SIM_DIR_ENV]: join(root, 'never-made') } }));
    assert.match(reason, /couldn't communicate with the NVIDIA driver/);
    assert.match(reason, /never-made.state\.json does not exist \(run initSimState first\)/);
  });

  it('the simulator swapped in by PATH, and through a symlink to the wrapper', async () => {
    const { env } = await freshSim('path');
    const viaPath = ok(await readGpuTelemetry('nvidia-smi', 0, { env: { ...env, PATH: `${simBinDir()}:${process.env.PATH}` } }));
    assert.equal(viaPath.gpu.name, SIM_GPU_DEFAULTS.name);
    const linkDir = join(root, 'links');
    await mkdir(linkDir, { recursive: true });
    await symlink(SMI, join(linkDir, 'nvidia-smi'));
    assert.equal(ok(await readGpuTelemetry(join(linkDir, 'nvidia-smi'), 0, { env })).gpu.uuid, viaPath.gpu.uuid);
  });
});

describe('readGpuTelemetry when the executable misbehaves', () => {
  async function script(name: string, body: string): Promise<string> {
    const file = join(root, 'scripts', name);
    await mkdir(join(root, 'scripts'), { recursive: true });
    await writeFile(file, `#!/bin/sh\n${body}\n`);
    await chmod(file, 0o755);
    return file;
  }

  it('a missing executable', async () => {
    const reason = notOk(await readGpuTelemetry(join(root, 'no-such-nvidia-smi'), 0));
    assert.match(reason, /^GPU 0: .*executable ".*no-such-nvidia-smi" not found \(set nvidia_smi in config\.json to its path\)$/);
  });

  it('a hang past the timeout', async () => {
    const hang = await script('hang', 'exec sleep 30');
    const started = Date.now();
    const reason = notOk(await readGpuTelemetry(hang, 0, { timeoutMs: 300 }));
    assert.match(reason, /no answer within 300 ms/);
    assert.ok(Date.now() - started < 25_000, 'ended by the 300 ms limit, not by the script\'s own 30 s');
  });

  it('a non-zero exit with unknown text', async () => {
    const boom = await script('boom', 'echo "Segmentation fault" >&2; exit 3');
    assert.match(notOk(await readGpuTelemetry(boom, 0)), /nvidia-smi failed \(exit code 3\): Segmentation fault/);
  });

  it('exit 0 without this GPU in the output', async () => {
    const empty = await script('empty', 'exit 0');
    assert.match(notOk(await readGpuTelemetry(empty, 2)), /^GPU 2: nvidia-smi reported no GPU with index 2 \(found: none\)$/);
  });
});

describe('the simulator prints the real formats', () => {
  const gpuQuery = `--query-gpu=${GPU_QUERY_FIELDS.join(',')}`;
  const appQuery = `--query-compute-apps=${APP_QUERY_FIELDS.join(',')}`;
  let env: NodeJS.ProcessEnv;
  const run = async (...args: string[]) => {
    const r = await execa(SMI, args, { env, reject: false });
    return { stdout: r.stdout, exitCode: r.exitCode };
  };
  const firstLine = async (f: string) => (await readFile(REAL + f, 'utf8')).split('\n')[0];

  before(async () => {
    const sim = await freshSim('formats', 3);
    env = sim.env;
    const worker = spawnSleeper();
    await registerSimProc(sim.dir, { pid: worker.pid, gpu_index: 2, used_mb: 2048, name: 'python3' });
  });

  it('query-gpu with header and units: the header line is the real one, values parse the same', async () => {
    const withHeader = await run(gpuQuery, '--format=csv');
    const bare = await run(gpuQuery, '--format=csv,noheader,nounits');
    assert.equal(withHeader.stdout.split('\n')[0], await firstLine('query-gpu-idle-header.csv'));
    const a = parseGpuCsv(withHeader.stdout);
    const b = parseGpuCsv(bare.stdout);
    assert.deepEqual(a.problems, []);
    assert.deepEqual(b.problems, []);
    assert.deepEqual(a.gpus, b.gpus);
    assert.deepEqual(a.gpus.map((g) => g.index), [0, 1, 2], 'one line per GPU, in index order');
  });

  it('query-gpu noheader,nounits: as many columns, in the same shapes, as the real capture', async () => {
    const simLine = (await run(gpuQuery, '--format=csv,noheader,nounits', '-i', '2')).stdout.trimEnd();
    const realLine = (await readFile(REAL + 'query-gpu-load.csv', 'utf8')).trimEnd();
    const shape = (line: string) =>
      line.split(', ').map((c) => (/^0x[0-9a-f]{16}$/.test(c) ? 'mask' : /^\d+\.\d\d$/.test(c) ? 'w' : /^\d+$/.test(c) ? 'int' : /^P\d+$/.test(c) ? 'pstate' : 'text'));
    assert.deepEqual(shape(simLine), shape(realLine));
    assert.equal(simLine.split('\n').length, 1);
  });

  it('compute-apps: the real header; an idle GPU prints nothing at all', async () => {
    const withHeader = await run(appQuery, '--format=csv');
    assert.equal(withHeader.stdout.split('\n')[0], await firstLine('compute-apps-load-header.csv'));
    assert.match(withHeader.stdout.split('\n')[1] ?? '', /^\d+, python3, 2048 MiB, GPU-/);
    const bare = await run(appQuery, '--format=csv,noheader,nounits');
    assert.deepEqual(parseComputeAppsCsv(withHeader.stdout).procs, parseComputeAppsCsv(bare.stdout).procs);
    const idle = await run(appQuery, '--format=csv,noheader,nounits', '-i', '0');
    assert.deepEqual(idle, { stdout: '', exitCode: 0 });
    assert.equal((await run(appQuery, '--format=csv', '-i', '0')).stdout, await firstLine('compute-apps-idle-header.csv'));
  });

  it('any subset and order of fields, aliases included', async () => {
    const r = await run('--query-gpu=memory.total,index,gpu_name,clocks_throttle_reasons.active', '--format=csv', '-i', '1');
    assert.deepEqual(r.stdout.split('\n'), [
      'memory.total [MiB], index, name, clocks_event_reasons.active',
      `6144 MiB, 1, ${SIM_GPU_DEFAULTS.name}, 0x0000000000000001`,
    ]);
    const bad = await run('--query-gpu=index,fan.speeed', '--format=csv');
    assert.deepEqual({ ...bad, stdout: bad.stdout.trim() }, { stdout: 'Field "fan.speeed" is not a valid field to query.', exitCode: 2 });
  });

  it('-L and the plain table look like the real ones', async () => {
    const list = await run('-L');
    const realList = (await readFile(REAL + 'nvidia-smi-L.txt', 'utf8')).trimEnd();
    const pattern = /^GPU \d+: .+ \(UUID: GPU-[0-9a-f-]{36}\)$/;
    assert.match(realList, pattern);
    assert.equal(list.stdout.split('\n').length, 3);
    for (const line of list.stdout.split('\n')) assert.match(line, pattern);

    const table = (await run()).stdout.split('\n');
    const realTable = (await readFile(REAL + 'nvidia-smi-load.txt', 'utf8')).split('\n');
    assert.equal(table[4], realTable[4], 'same column titles');
    assert.ok(table.slice(1).every((l) => l === '' || l.length === 91), 'same width as the real table');
    assert.ok(table.some((l) => /^\|\s+2\s+N\/A\s+N\/A\s+\d+\s+C\s+python3\s+2048MiB \|$/.test(l)));
  });
});

describe('the cache the wrapper serves without node', () => {
  const gpuArgs = [`--query-gpu=${GPU_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits', '-i', '0'];
  const appArgs = [`--query-compute-apps=${APP_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];

  async function call(env: NodeJS.ProcessEnv, args: string[]) {
    const r = await execa(SMI, args, { env, reject: false, stripFinalNewline: false });
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
  }

  /** Calls until one is served from the cache (a call right after a change is not kept). */
  async function warm(dir: string, env: NodeJS.ProcessEnv, args: string[]) {
    for (let i = 0; i < 10; i++) {
      const before = (await readSmiCalls(dir)).hits;
      const r = await call(env, args);
      if ((await readSmiCalls(dir)).hits > before) return r;
    }
    assert.fail('never served from the cache');
  }

  it('a second identical call is served from the cache, with the same output', async () => {
    const { dir, env } = await freshSim('cache-hit');
    const first = await call(env, gpuArgs);
    assert.equal(first.exitCode, 0);
    const cached = await warm(dir, env, gpuArgs);
    assert.deepEqual(cached, first);
    const counts = await readSmiCalls(dir);
    assert.ok(counts.misses >= 1 && counts.hits >= 1, JSON.stringify(counts));
    // The empty compute-apps answer of an idle rig too.
    assert.deepEqual(await warm(dir, env, appArgs), { stdout: '', stderr: '', exitCode: 0 });
    assert.deepEqual(await warm(dir, env, ['-L']), await call(env, ['-L']));
  });

  it('an override set right after a cached call is seen at once', async () => {
    const { dir, env } = await freshSim('cache-override');
    await warm(dir, env, gpuArgs);
    for (const t of [91, 92, 93]) {
      await setGpuOverrides(dir, 0, { temperature_c: t });
      assert.equal(ok(await readGpuTelemetry(SMI, 0, { env })).gpu.temperature_c, t);
      await warm(dir, env, gpuArgs);
    }
    await setGpuOverrides(dir, 0, { fail: 'na' });
    assert.equal(ok(await readGpuTelemetry(SMI, 0, { env })).gpu.temperature_c, null);
  });

  it('a registered process shows at once; one whose pid died is gone at once', async () => {
    const { dir, env } = await freshSim('cache-procs');
    await warm(dir, env, appArgs);
    await warm(dir, env, gpuArgs);
    const worker = spawnSleeper();
    await registerSimProc(dir, { pid: worker.pid, gpu_index: 0, used_mb: 2048, name: 'python3' });
    let s = ok(await readGpuTelemetry(SMI, 0, { env }));
    assert.equal(s.gpu.memory_used_mb, 2048);
    assert.deepEqual(s.procs.map((p) => p.pid), [worker.pid]);
    await warm(dir, env, appArgs);
    await warm(dir, env, gpuArgs);
    // The pid dies, its file stays: the cached answers that counted it are not served.
    worker.kill('SIGKILL');
    await once(worker, 'exit');
    const hits = (await readSmiCalls(dir)).hits;
    s = ok(await readGpuTelemetry(SMI, 0, { env }));
    assert.equal(s.gpu.memory_used_mb, 0);
    assert.deepEqual(s.procs, []);
    assert.equal((await readSmiCalls(dir)).hits, hits, 'both answers came from node');
  });

  it('failures are never cached', async () => {
    const { dir, env } = await freshSim('cache-fail');
    await warm(dir, env, gpuArgs);
    await setGpuOverrides(dir, 0, { fail: 'missing' });
    for (let i = 0; i < 3; i++) assert.deepEqual(await call(env, gpuArgs), { stdout: NO_DEVICES_TEXT, stderr: '', exitCode: 6 });
    await setGpuOverrides(dir, 0, { fail: 'driver' });
    const before = await readSmiCalls(dir);
    for (let i = 0; i < 3; i++) {
      const r = await call(env, gpuArgs);
      assert.equal(r.exitCode, 9);
      assert.match(r.stdout, /couldn't communicate with the NVIDIA driver/);
    }
    const after = await readSmiCalls(dir);
    assert.deepEqual(after, { hits: before.hits, misses: before.misses + 3 });
    // Nothing cached for a bad argument, the time-stamped table, or a timestamp field.
    assert.equal((await call(env, ['--query-gpu=index,bogus', '--format=csv'])).exitCode, 2);
    await setGpuOverrides(dir, 0, { fail: null });
    for (let i = 0; i < 3; i++) await call(env, []);
    for (let i = 0; i < 3; i++) await call(env, ['--query-gpu=timestamp,index', '--format=csv']);
    const names = await readdir(join(dir, SMI_CACHE_DIR));
    assert.deepEqual(names.sort(), [gpuArgs.join(' ')], 'only the earlier good answer, no temporary left');
  });

  it('an argument that is no safe file name always runs node', async () => {
    const { dir, env } = await freshSim('cache-names');
    const args = ['--query-gpu=index, name', '--format=csv'];
    for (let i = 0; i < 3; i++) assert.equal((await call(env, args)).exitCode, 0);
    assert.deepEqual(await readSmiCalls(dir), { hits: 0, misses: 3 });
    assert.deepEqual(await readdir(join(dir, SMI_CACHE_DIR)).catch(() => []), []);
  });

  it('measureSmiCallCost: a hit costs less than a miss', async () => {
    const cost = await measureSmiCallCost(5);
    assert.ok(cost.missMs > 0 && cost.hitMs < cost.missMs, JSON.stringify(cost));
  });
});

const NO_DEVICES_TEXT = 'No devices were found\n';
