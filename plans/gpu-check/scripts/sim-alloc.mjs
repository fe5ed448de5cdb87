// The simulated stand-in for alloc.py (npm run gpu-check -- --simulate): same arguments,
// same last stdout line, but instead of CUDA memory it registers simulated GPU memory with
// the rig's nvidia-smi simulator, as <FORGE_SIM_DIR>/procs/<pid>.json, the way a CUDA
// process shows up in the real tool, and removes it before it exits.
//
// Usage: node scripts/sim-alloc.mjs --mb N [--seconds S] [--no-matmul] [--matmul-size M] [--context-mb C]
// The simulated process holds N + C MiB (C, default 300, stands for the CUDA context that
// nvidia-smi counts and PyTorch does not). Exit codes as alloc.py: 2 bad arguments, 4 no GPU.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    mb: { type: 'string' },
    seconds: { type: 'string', default: '20' },
    'no-matmul': { type: 'boolean', default: false },
    'matmul-size': { type: 'string', default: '8192' },
    'context-mb': { type: 'string', default: '300' },
  },
});
const mb = Number(values.mb);
const seconds = Number(values.seconds);
const contextMb = Number(values['context-mb']);
if (!Number.isInteger(mb) || mb <= 0 || !(seconds >= 0) || !Number.isInteger(contextMb) || contextMb < 0) {
  console.error(`sim-alloc.mjs: --mb must be a whole number > 0, --seconds >= 0, --context-mb >= 0; got ${JSON.stringify(values)}`);
  process.exit(2);
}
const simDir = process.env.FORGE_SIM_DIR;
const gpu = Number(process.env.CUDA_VISIBLE_DEVICES);
if (!simDir || process.env.CUDA_VISIBLE_DEVICES === undefined || !Number.isInteger(gpu)) {
  console.error(`sim-alloc.mjs: no simulated GPU: FORGE_SIM_DIR=${JSON.stringify(simDir)}, CUDA_VISIBLE_DEVICES=${JSON.stringify(process.env.CUDA_VISIBLE_DEVICES)}`);
  process.exit(4);
}

const procs = join(simDir, 'procs');
const procFile = join(procs, `${process.pid}.json`);
const unregister = () => rmSync(procFile, { force: true });
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    unregister();
    process.exit(sig === 'SIGTERM' ? 143 : 130);
  });
}
process.on('exit', unregister);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// What importing torch and creating the CUDA context take, roughly (shortened).
await sleep(300);
await mkdir(procs, { recursive: true });
const tmp = join(procs, `.${process.pid}.json.tmp`);
await writeFile(tmp, JSON.stringify({ pid: process.pid, gpu_index: gpu, used_mb: mb + contextMb, name: 'python3' }));
await rename(tmp, procFile);
console.error(`sim-alloc.mjs: pid ${process.pid} holds ${mb} MiB (+${contextMb} MiB context) on simulated GPU ${gpu} for ${seconds} s`);
const started = Date.now();
await sleep(seconds * 1000);
unregister();
console.log(JSON.stringify({
  pid: process.pid,
  requested_mb: mb,
  torch_allocated_mb: mb,
  torch_reserved_mb: mb,
  device: `simulated GPU ${gpu}`,
  torch: null,
  seconds: Math.round((Date.now() - started) / 10) / 100,
  matmul_iterations: 0,
  tflops: null,
  simulated: true,
}));
