import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roleOf } from '../../tools/bench/procStat.ts';

test('the idle bench names each process by its role, whether it runs from TypeScript or from its bundle', () => {
  const cases: Array<[string, string]> = [
    ['node --import tsx /r/agents/rig/main.ts --simulate 3', 'launcher'],
    ['node --import tsx /r/agents/brain/main.ts --shared /m', 'brain'],
    ['node /r/dist/agents/brain/main.js --shared /m', 'brain'],
    ['node --import tsx /r/agents/gpu/main.ts --shared /m --gpu 1', 'agent gpu-1'],
    ['node /r/dist/agents/gpu/main.js --shared /m --config /m/c.json --gpu 2', 'agent gpu-2'],
    ['node /r/dist/agents/sim/ollama-main.js --port 1 --gpu 0 --sim-dir /s', 'sim ollama 0'],
    ['node /r/dist/agents/worker/main.js --task {}', 'worker'],
    ['/usr/bin/node /r/dist/cli/forge.js rig --simulate 2 --shared /m', 'launcher'],
    ['node /r/bin/forge rig', 'launcher'],
    ['node /r/dist/cli/forge.js status --json', 'other'],
    ['/usr/bin/nvidia-smi --query-gpu=x', 'other'],
  ];
  for (const [cmd, role] of cases) assert.equal(roleOf(cmd), role, cmd);
});

test('coordination CPU per task counts the launcher, the brain (and its children) and the agents, never the workers or simulators', async () => {
  const { coordCpu } = await import('../../tools/bench/coordCpu.ts');
  const p = (pid: number, cmdline: string, cpuS: number, childrenS: number) => ({ pid, ppid: 1, cpuS, childrenS, cmdline });
  const before = [
    p(1, 'node /r/dist/cli/forge.js rig --simulate 2', 1, 0),
    p(2, 'node /r/dist/agents/brain/main.js --shared /m', 3, 0.5),
    p(3, 'node /r/dist/agents/gpu/main.js --shared /m --gpu 0', 13, 10),
    p(4, 'node /r/dist/agents/sim/ollama-main.js --port 1 --gpu 0', 1, 0),
  ];
  const after = [
    p(1, 'node /r/dist/cli/forge.js rig --simulate 2', 1.1, 0),
    // own 2.5 -> 3.0 (+0.5), children +0.1 (plan parsing)
    p(2, 'node /r/dist/agents/brain/main.js --shared /m', 3.6, 0.6),
    // own 3 -> 3.4 (+0.4); children +20 s: the workers, apart
    p(3, 'node /r/dist/agents/gpu/main.js --shared /m --gpu 0', 33.4, 30),
    p(4, 'node /r/dist/agents/sim/ollama-main.js --port 1 --gpu 0', 1.2, 0),
    p(5, 'node /r/dist/agents/worker/main.js --spare', 0.3, 0),
  ];
  const c = coordCpu(before, after, 100);
  // (0.1 + 0.5 + 0.1 + 0.4) s / 100 tasks = 11 ms
  assert.equal(c.coord_ms_per_task, 11);
  assert.equal(c.by_role_ms_per_task.agents, 4);
  assert.equal(c.by_role_ms_per_task.launcher, 1);
  assert.equal(c.agent_children_ms_per_task, 200);
  assert.equal(c.simulator_ollama_ms_per_task, 2);
});

test('file work per task: strace lines sorted into reads, writes, renames, fsyncs, listings and stats on the mount only', async () => {
  const { classify, countTrace } = await import('../../tools/bench/fileOps.ts');
  assert.equal(classify('openat(AT_FDCWD, "/m/tasks/queue/a.json", O_RDONLY|O_CLOEXEC) = 21'), 'reads');
  assert.equal(classify('[pid  12] openat(AT_FDCWD, "/m/tasks/queue", O_RDONLY|O_CLOEXEC|O_DIRECTORY) = 21'), 'dir_scans');
  assert.equal(classify('openat(AT_FDCWD, "/m/x.tmp", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 22'), 'writes');
  assert.equal(classify('openat(AT_FDCWD, "/m/logs/spool/a.log", O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC, 0666) = 22'), 'appends');
  assert.equal(classify('rename("/m/a", "/m/b") = 0'), 'renames');
  assert.equal(classify('fsync(22) = 0'), 'fsyncs');
  assert.equal(classify('statx(AT_FDCWD, "/m/tasks/queue/a.json", AT_STATX_SYNC_AS_STAT, STATX_ALL, {}) = 0'), 'stats');
  assert.equal(classify('write(1, "x", 1) = 1'), null);
  const text = [
    'openat(AT_FDCWD, "/m/tasks/queue/a.json", O_RDONLY|O_CLOEXEC) = 21',
    'openat(AT_FDCWD, "/usr/lib/x.so", O_RDONLY|O_CLOEXEC) = 21',
    'fsync(22) = 0',
    'rename("/m/tasks/queue/a.json", "/m/tasks/processing/a.json") = 0',
  ].join('\n');
  assert.deepEqual(countTrace(text, '/m'), { reads: 1, writes: 0, renames: 1, fsyncs: 1, dir_scans: 0, stats: 0, unlinks: 0, appends: 0 });
});
