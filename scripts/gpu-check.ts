// npm run gpu-check -- [--simulate] [--json] [--out DIR] [options]
// Runs the GPU agent against nvidia-smi with a real workload (PyTorch allocations and matmuls;
// with --simulate, the project's simulator and simulated memory) and prints the agent's
// measured memory against nvidia-smi's, and its health transitions. Exit 0 PASS, 1 FAIL,
// 2 when the check cannot run here. docs/GPU_CHECK.md explains it.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GPU_CHECK_USAGE, parseGpuCheckArgs } from '../tools/gpucheck/options.ts';
import { formatReport } from '../tools/gpucheck/reportText.ts';
import { runGpuCheck } from '../tools/gpucheck/run.ts';

const parsed = parseGpuCheckArgs(process.argv.slice(2));
if (!parsed.ok) {
  for (const p of parsed.problems) process.stderr.write(`gpu-check: ${p}\n`);
  process.stderr.write(`${GPU_CHECK_USAGE}\n`);
  process.exit(2);
}
const opts = parsed.options;
if (opts.help) {
  process.stdout.write(`${GPU_CHECK_USAGE}\n`);
  process.exit(0);
}
// `npm run` starts us in the package root; paths a person typed are relative to where they were.
const cwd = process.env.npm_lifecycle_event === 'gpu-check' && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();
if (opts.outDir !== null) opts.outDir = resolve(cwd, opts.outDir);
if (opts.shared !== null) opts.shared = resolve(cwd, opts.shared);
if (opts.nvidiaSmi !== null && opts.nvidiaSmi.includes('/')) opts.nvidiaSmi = resolve(cwd, opts.nvidiaSmi);

const say = (line: string) => process.stderr.write(`gpu-check: ${line}\n`);
const stop = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stop.signal.aborted) process.exit(130);
    say(`${sig}: stopping the rig and cleaning up (again to exit at once)`);
    stop.abort(sig);
  });
}

const outcome = await runGpuCheck(opts, say, stop.signal).catch((err: unknown) => {
  process.stderr.write(`gpu-check: the check itself broke: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
if (outcome.report === null) {
  process.stderr.write(`gpu-check: cannot run the check here: ${outcome.message}\n`);
  process.exit(outcome.code);
}
const text = formatReport(outcome.report);
const json = JSON.stringify(outcome.report, null, 2) + '\n';
process.stdout.write(opts.json ? json : text);
if (opts.outDir !== null) {
  await mkdir(opts.outDir, { recursive: true });
  await writeFile(join(opts.outDir, 'report.json'), json);
  await writeFile(join(opts.outDir, 'report.txt'), text);
  say(`wrote ${join(opts.outDir, 'report.json')} and report.txt`);
}
if (outcome.kept) say(`the check's mount is kept at ${outcome.kept} (logs/brain_decisions.log, logs/gpu-check-rig.log, plans/gpu-check/batches/)`);
process.exit(stop.signal.aborted ? 130 : outcome.code);
