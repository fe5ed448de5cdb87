// "Transcribes" one video into RESULTS_DIR/<id>.json (simulated work).
// Usage: node scripts/transcribe.mjs [--work-ms N] [--vram-mb N] -- ID PATH RESULTS_DIR
//
// Under the rig's GPU simulator (FORGE_SIM_DIR set), the script registers the GPU memory it
// "uses" as <FORGE_SIM_DIR>/procs/<pid>.json while it runs, the way a real CUDA process shows
// up in nvidia-smi, and removes the file before it exits.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'work-ms': { type: 'string', default: '150' }, 'vram-mb': { type: 'string', default: '600' } },
});
const [id, path, resultsDir] = positionals;
const workMs = Number(values['work-ms']);
const vramMb = Number(values['vram-mb']);
if (resultsDir === undefined || !Number.isFinite(workMs) || !Number.isFinite(vramMb)) {
  console.error(`usage: node scripts/transcribe.mjs [--work-ms N] [--vram-mb N] -- ID PATH RESULTS_DIR; got ${JSON.stringify(process.argv.slice(2))}`);
  process.exit(1);
}
// The id comes from the manifest and names a file: it must stay one plain file name.
if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(id) || id.includes('..')) {
  console.error(`video id ${JSON.stringify(id)} cannot name a result file: use letters, digits, '.', '_' and '-'`);
  process.exit(1);
}

const simDir = process.env.FORGE_SIM_DIR;
let procFile = null;
function unregister() {
  if (procFile) rmSync(procFile, { force: true });
  procFile = null;
}
if (simDir) {
  const gpu = Number(process.env.CUDA_VISIBLE_DEVICES);
  if (Number.isInteger(gpu)) {
    const procs = join(simDir, 'procs');
    await mkdir(procs, { recursive: true });
    procFile = join(procs, `${process.pid}.json`);
    const tmp = join(procs, `.${process.pid}.json.tmp`);
    await writeFile(tmp, JSON.stringify({ pid: process.pid, gpu_index: gpu, used_mb: vramMb, name: 'node' }));
    await rename(tmp, procFile);
    for (const sig of ['SIGTERM', 'SIGINT']) {
      process.on(sig, () => {
        unregister();
        process.exit(sig === 'SIGTERM' ? 143 : 130);
      });
    }
    process.on('exit', unregister);
  } else {
    console.error(`FORGE_SIM_DIR is set but CUDA_VISIBLE_DEVICES is ${JSON.stringify(process.env.CUDA_VISIBLE_DEVICES)}; not registering simulated GPU memory`);
  }
}

try {
  await new Promise((r) => setTimeout(r, workMs));
  const words = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'the', 'lazy', 'dog'];
  const seed = [...id].reduce((a, c) => a + c.charCodeAt(0), 0);
  const text = Array.from({ length: 5 + (seed % 7) }, (_, i) => words[(seed + i) % words.length]).join(' ');
  const result = { id, path, text, words: text.split(' ').length, work_ms: workMs };
  await mkdir(resultsDir, { recursive: true });
  const out = join(resultsDir, `${id}.json`);
  const tmp = join(resultsDir, `.${id}.json.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify(result, null, 2) + '\n');
  await rename(tmp, out);
  console.log(JSON.stringify({ ok: true, wrote: out, words: result.words }));
} finally {
  unregister();
  await rm(join(resultsDir, `.${id}.json.${process.pid}.tmp`), { force: true });
}
