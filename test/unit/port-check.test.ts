// The rig's port check: which ports it checks, /proc/net/tcp parsing, and the refusal's words.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config, defaultGpus } from '../../agents/core/config.ts';
import { type BusyPort, commandLine, decodeAddress, describeRefusal, holdingInodes, parseProcNetTcp, portsToCheck, socketInode } from '../../agents/rig/portCheck.ts';
import { planRole } from '../../agents/rig/roles.ts';

const base = { configFile: '/m/config.json', shared: '/m', simDir: '/m/sim', role: undefined, gpus: undefined };

test('ports checked: every managed or simulated server, never an unmanaged real GPU', () => {
  const managed = Config.parse({ ollama_host: '127.0.0.2', gpus: [{ ...defaultGpus(1)[0], manage: true }, defaultGpus(2)[1], { ...defaultGpus(3)[2], port: 12000, manage: true, runtime: 'openai', serve: { argv: ['llama-server', '--port', '{port}'] } }] });
  const cases: Array<{ name: string; plan: ReturnType<typeof planRole>; want: Array<[string, number, number]> }> = [
    { name: 'real, none managed', plan: planRole({ ...base, simulated: false, config: Config.parse({ gpus: defaultGpus(2) }) }), want: [] },
    { name: 'real, GPUs 0 and 2 managed', plan: planRole({ ...base, simulated: false, config: managed }), want: [['127.0.0.2', 11435, 0], ['127.0.0.2', 12000, 2]] },
    { name: 'real, --role brain', plan: planRole({ ...base, simulated: false, config: managed, role: 'brain' }), want: [] },
    { name: 'real, --gpus 1 (unmanaged)', plan: planRole({ ...base, simulated: false, config: managed, role: 'agents', gpus: '1' }), want: [] },
    { name: 'simulated, 2 GPUs from 20000', plan: planRole({ ...base, simulated: true, config: Config.parse({ gpus: defaultGpus(2, 20000) }) }), want: [['127.0.0.1', 20000, 0], ['127.0.0.1', 20001, 1]] },
  ];
  for (const c of cases) {
    assert.notEqual(typeof c.plan, 'string', c.name);
    if (typeof c.plan === 'string') continue;
    assert.deepEqual(portsToCheck(c.plan.children).map((n) => [n.host, n.port, n.gpu]), c.want, c.name);
  }
});

test('/proc/net/tcp and tcp6 lines: address, port, state, inode; the header and garbage skipped', () => {
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:4E20 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 51234 1 0000000000000000 100 0 0 10 0',
    '   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1608 1 000000007d322359 100 0 0 10 0',
    '   2: 0100007F:4E20 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000  1000        0 777 1',
    '   3: 0100007F:4E2 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 9',
    'garbage',
    '',
  ].join('\n');
  assert.deepEqual(parseProcNetTcp(tcp), [
    { address: '127.0.0.1', port: 20000, state: '0A', inode: 51234 },
    { address: '0.0.0.0', port: 2024, state: '0A', inode: 1608 },
    { address: '127.0.0.1', port: 20000, state: '01', inode: 777 },
  ]);
  const tcp6 = '   0: 00000000000000000000000001000000:4E21 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 424242 1';
  assert.deepEqual(parseProcNetTcp(tcp6), [{ address: '0:0:0:0:0:0:0:1', port: 20001, state: '0A', inode: 424242 }]);
  assert.equal(decodeAddress('0101A8C0'), '192.168.1.1');
});

test('the holding sockets: listeners first, else any socket bound to the port; inode 0 (a socket in TIME_WAIT) is none', () => {
  const s = (port: number, state: string, inode: number) => ({ address: '127.0.0.1', port, state, inode });
  assert.deepEqual(holdingInodes([s(20000, '0A', 5), s(20000, '01', 6), s(20001, '0A', 7)], 20000), [5]);
  assert.deepEqual(holdingInodes([s(20000, '01', 6), s(20000, '06', 0)], 20000), [6]);
  assert.deepEqual(holdingInodes([s(20001, '0A', 7)], 20000), []);
  assert.equal(socketInode('socket:[51234]'), 51234);
  assert.equal(socketInode('pipe:[51234]'), null);
  assert.equal(socketInode('/dev/null'), null);
  assert.equal(commandLine('node\0--import\0tsx\0server.ts\0'), 'node --import tsx server.ts');
  assert.equal(commandLine('x'.repeat(10), 4), 'xxxx…');
});

test('the refusal names every port, its GPU and holder; in simulation it offers a free --base-port', () => {
  const busy: BusyPort[] = [
    { host: '127.0.0.1', port: 20000, gpu: 0, name: 'runtime-0', code: 'EADDRINUSE', holders: [{ pid: 4242, command: 'node other-rig.ts' }] },
    { host: '127.0.0.1', port: 20001, gpu: 1, name: 'runtime-1', code: 'EADDRINUSE', holders: [null] },
  ];
  assert.equal(
    describeRefusal(busy, { simulated: true, basePort: 20000, freeBase: 20002, count: 2 }),
    [
      "rig: not starting: 2 ports this rig's LLM servers need are not free; nothing was started.",
      '  127.0.0.1:20000 (GPU 0, runtime-0): held by pid 4242 (node other-rig.ts)',
      '  127.0.0.1:20001 (GPU 1, runtime-1): held by a process this user cannot see (another user\'s, or in another network namespace; `sudo ss -ltnp` names it)',
      'Simulated GPUs listen on --base-port 20000 + their index: `--base-port 20002` picks other ports (20002-20003 are free now), or stop the process holding them.',
      '',
    ].join('\n'),
  );
  const one = describeRefusal([{ ...busy[0]!, code: 'EADDRNOTAVAIL', holders: [] }], { simulated: false, basePort: 11435, freeBase: null, count: 1 });
  assert.equal(
    one,
    [
      "rig: not starting: a port this rig's LLM servers need is not free; nothing was started.",
      '  127.0.0.1:20000 (GPU 0, runtime-0): cannot listen there: EADDRNOTAVAIL',
      "Stop the process holding each port (a server left by a rig that was killed, or another rig's), or give the GPU another port (gpus[].port in the config).",
      '',
    ].join('\n'),
  );
  assert.match(describeRefusal(busy.slice(0, 1), { simulated: true, basePort: 20000, freeBase: null, count: 1 }), /`--base-port P` picks other ports \(P to P\+N-1 for N GPUs\)/);
  assert.match(describeRefusal(busy.slice(0, 1), { simulated: true, basePort: 20000, freeBase: 20001, count: 1 }), /`--base-port 20001` picks other ports \(20001 is free now\)/);
});
