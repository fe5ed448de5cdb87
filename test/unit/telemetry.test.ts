// The nvidia-smi parsers against real output (test/fixtures/nvidia-smi/h100-80gb, captured on
// an H100) and synthetic output for cases a single idle/loaded H100 cannot show.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  APP_QUERY_FIELDS,
  GPU_QUERY_FIELDS,
  type GpuReading,
  decodeThrottleReasons,
  detectDriverFailure,
  formatThrottleStatus,
  parseComputeAppsCsv,
  parseGpuCsv,
} from '../../agents/gpu/telemetry.ts';
import { matchWorkerVram } from '../../agents/gpu/readTelemetry.ts';
import { cpuLoadMeter, readHostStats } from '../../agents/gpu/hostStats.ts';

const REAL = fileURLToPath(new URL('../fixtures/nvidia-smi/h100-80gb/', import.meta.url));
const SYNTH = fileURLToPath(new URL('../fixtures/nvidia-smi/synthetic/', import.meta.url));
const real = (name: string) => readFileSync(REAL + name, 'utf8');
const synth = (name: string) => readFileSync(SYNTH + name, 'utf8');

const H100_UUID = 'GPU-5f897374-bd1f-eaf3-7333-79d97b19e34c';

function only(text: string): GpuReading {
  const { gpus, problems } = parseGpuCsv(text);
  assert.deepEqual(problems, []);
  assert.equal(gpus.length, 1);
  return gpus[0] as GpuReading;
}

describe('query fields', () => {
  it('are exactly the fields the real fixtures were captured with', () => {
    const readme = readFileSync(fileURLToPath(new URL('../fixtures/nvidia-smi/README.md', import.meta.url)), 'utf8');
    assert.ok(readme.includes(GPU_QUERY_FIELDS.join(',')));
    assert.ok(readme.includes(`--query-compute-apps=${APP_QUERY_FIELDS.join(',')}`));
  });
});

describe('parseGpuCsv on the real H100 output', () => {
  const idle: GpuReading = {
    index: 0,
    uuid: H100_UUID,
    name: 'NVIDIA H100 80GB HBM3',
    temperature_c: 42,
    power_draw_w: 131.44,
    power_limit_w: 700,
    memory_used_mb: 0,
    memory_total_mb: 81559,
    memory_free_mb: 81079,
    utilization_percent: 0,
    clock_sm_mhz: 1980,
    clock_max_sm_mhz: 1980,
    throttle_mask: 0x1,
    throttle_reasons: ['gpu_idle'],
    pstate: 'P0',
  };

  it('idle, noheader/nounits', () => {
    assert.deepEqual(only(real('query-gpu-idle.csv')), idle);
  });

  it('idle, with header and units: the same reading', () => {
    assert.deepEqual(only(real('query-gpu-idle-header.csv')), idle);
  });

  it('under load: 72 C, 687.38 W, 19427 of 81559 MiB, 100 %, 1575 MHz, sw_power_cap', () => {
    assert.deepEqual(only(real('query-gpu-load.csv')), {
      ...idle,
      temperature_c: 72,
      power_draw_w: 687.38,
      memory_used_mb: 19427,
      memory_free_mb: 61653,
      utilization_percent: 100,
      clock_sm_mhz: 1575,
      throttle_mask: 0x4,
      throttle_reasons: ['sw_power_cap'],
    });
  });

  it('under load, with header and units (a separate capture: 688.14 W, 1560 MHz)', () => {
    const g = only(real('query-gpu-load-header.csv'));
    assert.equal(g.power_draw_w, 688.14);
    assert.equal(g.clock_sm_mhz, 1560);
    assert.equal(g.memory_used_mb, 19427);
    assert.equal(g.utilization_percent, 100);
    assert.deepEqual(g.throttle_reasons, ['sw_power_cap']);
  });

  it('after the processes exited: memory back to 0, no reason active', () => {
    const g = only(real('query-gpu-after.csv'));
    assert.equal(g.temperature_c, 62);
    assert.equal(g.power_draw_w, 317.72);
    assert.equal(g.memory_used_mb, 0);
    assert.equal(g.utilization_percent, 16);
    assert.equal(g.throttle_mask, 0);
    assert.deepEqual(g.throttle_reasons, []);
    assert.equal(formatThrottleStatus(g.throttle_reasons), 'None');
  });
});

describe('parseComputeAppsCsv on the real H100 output', () => {
  const load = [
    { pid: 427, process_name: 'python3', used_memory_mb: 6122, gpu_uuid: H100_UUID },
    { pid: 426, process_name: 'python3', used_memory_mb: 13290, gpu_uuid: H100_UUID },
  ];

  it('idle prints nothing at all: no processes, no problems', () => {
    assert.equal(real('compute-apps-idle.csv'), '');
    assert.deepEqual(parseComputeAppsCsv(real('compute-apps-idle.csv')), { procs: [], problems: [] });
  });

  it('idle with header: only the header line', () => {
    assert.deepEqual(parseComputeAppsCsv(real('compute-apps-idle-header.csv')), { procs: [], problems: [] });
  });

  it('load: pid 426 holds 13290 MiB and 427 holds 6122 MiB', () => {
    assert.deepEqual(parseComputeAppsCsv(real('compute-apps-load.csv')), { procs: load, problems: [] });
  });

  it('load with header (used_gpu_memory [MiB], values in MiB): the same', () => {
    assert.deepEqual(parseComputeAppsCsv(real('compute-apps-load-header.csv')), { procs: load, problems: [] });
  });
});

describe('parseGpuCsv on synthetic output', () => {
  it('[N/A], [Not Supported], N/A and empty fields become null, never NaN', () => {
    const { gpus, problems } = parseGpuCsv(synth('query-gpu-na.csv'));
    assert.deepEqual(problems, []);
    assert.equal(gpus.length, 2);
    const [a, b] = gpus as [GpuReading, GpuReading];
    assert.equal(a.power_draw_w, null);
    assert.equal(a.power_limit_w, null);
    assert.equal(a.temperature_c, 54);
    assert.equal(a.memory_used_mb, 1203);
    assert.equal(a.pstate, 'P2');
    assert.deepEqual(b, {
      index: 1,
      uuid: 'GPU-0a1b2c3d-0000-4000-8000-000000000001',
      name: 'NVIDIA GeForce GTX 1060 6GB',
      temperature_c: null,
      power_draw_w: null,
      power_limit_w: null,
      memory_used_mb: null,
      memory_total_mb: 6144,
      memory_free_mb: null,
      utilization_percent: null,
      clock_sm_mhz: null,
      clock_max_sm_mhz: 1911,
      throttle_mask: null,
      throttle_reasons: [],
      pstate: null,
    });
    for (const g of gpus) for (const v of Object.values(g)) assert.ok(!Number.isNaN(v));
  });

  it('several GPUs: one reading per line, in index order', () => {
    const { gpus, problems } = parseGpuCsv(synth('query-gpu-multi.csv'));
    assert.deepEqual(problems, []);
    assert.deepEqual(
      gpus.map((g) => [g.index, g.temperature_c, g.memory_used_mb, g.throttle_reasons]),
      [
        [0, 41, 0, ['gpu_idle']],
        [1, 78, 5012, ['sw_power_cap']],
        [2, 87, 3320, ['sw_thermal_slowdown', 'hw_thermal_slowdown']],
      ],
    );
  });

  it('several GPUs with header and units, [N/A] included', () => {
    const { gpus, problems } = parseGpuCsv(synth('query-gpu-multi-header.csv'));
    assert.deepEqual(problems, []);
    assert.deepEqual(
      gpus.map((g) => [g.index, g.power_draw_w, g.power_limit_w, g.memory_free_mb, g.clock_sm_mhz]),
      [
        [0, 9.52, 120, 6059, 139],
        [1, null, null, 1047, 1506],
      ],
    );
  });

  it('a malformed line among good ones: the good ones parse, each bad one is a problem', () => {
    const { gpus, problems } = parseGpuCsv(synth('query-gpu-malformed.csv'));
    assert.deepEqual(
      gpus.map((g) => [g.index, g.temperature_c]),
      [
        [0, 41],
        [2, null],
      ],
    );
    assert.deepEqual(problems, [
      'line 2: expected 14 comma-separated fields, found 3: "1, GPU-0a1b2c3d-0000-4000-8000-000000000001, NVIDIA GeForce GTX 10"',
      'line 3: index: expected a GPU index (0, 1, ...), found "x"; line skipped',
      'line 4: temperature.gpu: expected a number, found "hot"',
    ]);
  });

  it('a header names the columns, whatever their order', () => {
    const text = 'memory.used [MiB], uuid, index\n512 MiB, GPU-x, 3\n';
    const { gpus, problems } = parseGpuCsv(text);
    assert.deepEqual(problems, []);
    assert.equal(gpus[0]?.index, 3);
    assert.equal(gpus[0]?.memory_used_mb, 512);
    assert.equal(gpus[0]?.temperature_c, null);
  });

  it('a value with the wrong unit is a problem, not a wrong number', () => {
    const line = real('query-gpu-idle.csv').replace('131.44', '131.44 kW');
    const { gpus, problems } = parseGpuCsv(line);
    assert.equal(gpus[0]?.power_draw_w, null);
    assert.deepEqual(problems, ['line 1: power.draw: expected a number in W, found "131.44 kW"']);
  });

  it('empty text, and text with no index column', () => {
    assert.deepEqual(parseGpuCsv(''), { gpus: [], problems: [] });
    assert.deepEqual(parseGpuCsv('42, 131.44\n', ['temperature.gpu', 'power.draw']), {
      gpus: [],
      problems: ['line 1: no "index" column; cannot tell the GPUs apart'],
    });
  });

  it('driver failure text is not mistaken for a GPU line', () => {
    const { gpus, problems } = parseGpuCsv(synth('driver-failure.txt'));
    assert.deepEqual(gpus, []);
    assert.equal(problems.length, 1);
  });
});

describe('parseComputeAppsCsv on synthetic output', () => {
  it('[N/A] memory is null; a comma inside a process name is kept', () => {
    const { procs, problems } = parseComputeAppsCsv(synth('compute-apps-multi.csv'));
    assert.deepEqual(problems, []);
    assert.deepEqual(procs, [
      { pid: 2201, process_name: 'python3', used_memory_mb: 4988, gpu_uuid: 'GPU-0a1b2c3d-0000-4000-8000-000000000001' },
      {
        pid: 2345,
        process_name: '/opt/models/run,v2/bin/python',
        used_memory_mb: 3296,
        gpu_uuid: 'GPU-0a1b2c3d-0000-4000-8000-000000000002',
      },
      { pid: 2399, process_name: 'ollama', used_memory_mb: null, gpu_uuid: 'GPU-0a1b2c3d-0000-4000-8000-000000000002' },
    ]);
  });

  it('bad lines are problems, good lines still parse', () => {
    const text = 'abc, python3, 10, GPU-a\n12, python3, 10\n13, python3, lots, GPU-a\n14, python3, 20, GPU-a\n';
    const { procs, problems } = parseComputeAppsCsv(text);
    assert.deepEqual(
      procs.map((p) => [p.pid, p.used_memory_mb]),
      [
        [13, null],
        [14, 20],
      ],
    );
    assert.deepEqual(problems, [
      'line 1: pid: expected a process id, found "abc"; line skipped',
      'line 2: expected 4 comma-separated fields, found 3: "12, python3, 10"',
      'line 3: used_memory: expected a number in MiB, found "lots"',
    ]);
  });
});

describe('decodeThrottleReasons / formatThrottleStatus', () => {
  const cases: [string | number | bigint | null, string[]][] = [
    ['0x0000000000000000', []],
    ['0x0000000000000001', ['gpu_idle']],
    ['0x0000000000000004', ['sw_power_cap']],
    [0x1ff, [
      'gpu_idle',
      'applications_clocks_setting',
      'sw_power_cap',
      'hw_slowdown',
      'sync_boost',
      'sw_thermal_slowdown',
      'hw_thermal_slowdown',
      'hw_power_brake_slowdown',
      'display_clock_setting',
    ]],
    [0x48n, ['hw_slowdown', 'hw_thermal_slowdown']],
    ['0x0000000000000a00', ['unknown_0x200', 'unknown_0x800']],
    ['0x8000000000000004', ['sw_power_cap', 'unknown_0x8000000000000000']],
    ['[N/A]', []],
    ['garbage', []],
    [null, []],
  ];
  for (const [mask, names] of cases) {
    it(`${String(mask)} → [${names.join(', ')}]`, () => assert.deepEqual(decodeThrottleReasons(mask), names));
  }

  it("formats as the heartbeat's throttle_status", () => {
    assert.equal(formatThrottleStatus([]), 'None');
    assert.equal(formatThrottleStatus(['sw_power_cap']), 'sw_power_cap');
    assert.equal(formatThrottleStatus(['sw_power_cap', 'hw_slowdown']), 'sw_power_cap,hw_slowdown');
  });
});

describe('detectDriverFailure', () => {
  it('the driver is not loaded (exit 9)', () => {
    assert.equal(
      detectDriverFailure(synth('driver-failure.txt'), '', 9),
      "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
    );
  });

  it('no such GPU (exit 6), NVML mismatch, a lost GPU', () => {
    assert.equal(detectDriverFailure(synth('no-devices.txt'), '', 6), 'No devices were found');
    assert.equal(detectDriverFailure(synth('nvml-mismatch.txt'), '', 18), 'Failed to initialize NVML: Driver/library version mismatch');
    assert.match(detectDriverFailure(synth('gpu-lost.txt'), '', 15) ?? '', /GPU is lost/);
  });

  it('found on stderr too, and even with exit 0', () => {
    assert.equal(detectDriverFailure('', 'No devices were found\n', 0), 'No devices were found');
  });

  it('any other non-zero exit: the code and the first line said', () => {
    assert.equal(detectDriverFailure('', 'Segmentation fault\n', 139), 'nvidia-smi failed (exit code 139): Segmentation fault');
    assert.equal(detectDriverFailure('', '', 1), 'nvidia-smi failed (exit code 1) and printed nothing');
    assert.equal(detectDriverFailure('', '', null), 'nvidia-smi failed (no exit code) and printed nothing');
  });

  it('every real fixture of a successful run is no failure, [N/A] fields included', () => {
    for (const f of ['query-gpu-idle.csv', 'query-gpu-load-header.csv', 'compute-apps-idle.csv', 'compute-apps-load.csv', 'nvidia-smi-load.txt']) {
      assert.equal(detectDriverFailure(real(f), '', 0), null, f);
    }
    const lostField = '0, GPU-a, X, [Unknown Error], 1, 2, 3, 4, 5, 6, 7, 8, 0x0, P0\n';
    assert.equal(detectDriverFailure(lostField, '', 0), null);
    assert.equal(detectDriverFailure(synth('query-gpu-na.csv'), '', 0), null);
  });
});

describe('matchWorkerVram', () => {
  const procs = [
    { pid: 426, process_name: 'python3', used_memory_mb: 13290, gpu_uuid: 'GPU-a' },
    { pid: 427, process_name: 'python3', used_memory_mb: 6122, gpu_uuid: 'GPU-a' },
    { pid: 500, process_name: 'ollama', used_memory_mb: null, gpu_uuid: 'GPU-a' },
  ];

  it('matches listed pids only, without a descendants function', () => {
    assert.deepEqual([...matchWorkerVram(procs, [426, 999, 500])], [[426, 13290]]);
  });

  it("sums a worker's descendants (a shell running python)", () => {
    const tree: Record<number, number[]> = { 100: [426, 427], 200: [] };
    assert.deepEqual([...matchWorkerVram(procs, [100, 200], (pid) => tree[pid] ?? [])], [[100, 19412]]);
  });
});

describe('readHostStats', () => {
  it('reads this machine', async () => {
    const s = await readHostStats();
    assert.ok(s.cpu_load_percent === null || (s.cpu_load_percent >= 0 && s.cpu_load_percent <= 100));
    assert.ok(typeof s.mem_available_mb === 'number' && s.mem_available_mb > 0);
  });

  it('CPU load is the busy share of CPU time since the previous reading, over every CPU', () => {
    const times = (busy: number, idle: number) => ({ times: { user: busy, nice: 0, sys: 0, irq: 0, idle } });
    let now = [times(100, 300), times(50, 350)];
    const load = cpuLoadMeter(() => now);
    assert.equal(load(), 18.75); // since boot: 150 busy of 800
    now = [times(180, 320), times(50, 450)]; // +80 busy, +120 idle
    assert.equal(load(), 40);
    assert.equal(load(), 0); // nothing elapsed
  });

  it('never throws: a failing or hanging source gives nulls', async () => {
    const failing = {
      currentLoad: () => Promise.reject(new Error('no /proc')),
      mem: () => new Promise<{ available: number }>(() => {}),
    };
    assert.deepEqual(await readHostStats({ source: failing, timeoutMs: 50 }), { cpu_load_percent: null, mem_available_mb: null });
    const odd = { currentLoad: async () => ({ currentLoad: NaN }), mem: async () => ({ available: 2 * 1024 * 1024 * 1024 }) };
    assert.deepEqual(await readHostStats({ source: odd }), { cpu_load_percent: null, mem_available_mb: 2048 });
  });
});
