// npm run bench -- [--quick] [--json] [--json-out FILE] [--only PART,PART] [--llm-gpus N]
// npm run bench -- --netfs [--profiles none,nfs,default] [--quick] [--json]
// Measures the rig's speed on this machine (docs/PERFORMANCE.md says what and why) and prints
// a table, or with --json one object. Progress goes to stderr. Parts: limits, hop, idle_gap,
// throughput, scale, idle, bullmq, llm.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { PARTS, type Part, runBench } from '../tools/bench/runBench.ts';
import { renderTable, toJson } from '../tools/bench/report.ts';
import { PROFILES, renderNetfsTable, runNetfsBench } from '../tools/bench/netfs.ts';

const usage = `usage: npm run bench -- [--quick] [--json] [--json-out FILE] [--only ${PARTS.join(',')}] [--llm-gpus N]
       npm run bench -- --netfs [--profiles ${PROFILES.join(',')}] [--quick] [--json] [--json-out FILE]
  --llm-gpus N  simulated GPUs of the llm part's larger rig, 2 to 16 (default 3); it is compared with a 1-GPU rig
  --netfs       brain and agents on different sshfs clients of one folder, per cache profile (needs root, sshd, sshfs, fuse3)`;
let values;
try {
  ({ values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, 'json-out': { type: 'string' }, only: { type: 'string' }, netfs: { type: 'boolean', default: false }, profiles: { type: 'string' }, 'llm-gpus': { type: 'string' }, help: { type: 'boolean', default: false } } }));
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n${usage}\n`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(usage + '\n');
  process.exit(0);
}
if (values.netfs) {
  const profiles = values.profiles?.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = profiles?.filter((p) => !(PROFILES as readonly string[]).includes(p)) ?? [];
  if (bad.length || values.only || values['llm-gpus'] !== undefined) {
    process.stderr.write(`${bad.length ? `--profiles ${values.profiles}: unknown profile(s) ${bad.join(', ')}; profiles: ${PROFILES.join(', ')}` : `${values.only ? '--only' : '--llm-gpus'} does not apply to --netfs`}\n${usage}\n`);
    process.exit(2);
  }
  try {
    const r = await runNetfsBench({ quick: values.quick, profiles: profiles as (typeof PROFILES)[number][] | undefined, say: (l) => process.stderr.write(l + '\n') });
    const json = JSON.stringify(r, null, 2) + '\n';
    if (values['json-out']) await writeFile(values['json-out'], json);
    process.stdout.write(values.json ? json : renderNetfsTable(r) + '\n');
    process.exit(0);
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
if (values.profiles) {
  process.stderr.write(`--profiles applies only to --netfs\n${usage}\n`);
  process.exit(2);
}
const llmGpusText = values['llm-gpus'];
if (llmGpusText !== undefined && (!/^\d+$/.test(llmGpusText) || Number(llmGpusText) < 2 || Number(llmGpusText) > 16)) {
  process.stderr.write(`--llm-gpus ${llmGpusText}: expected a whole number from 2 to 16 (the llm part compares that many GPUs with one)\n${usage}\n`);
  process.exit(2);
}
const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
const unknown = only?.filter((p) => !(PARTS as readonly string[]).includes(p)) ?? [];
if (unknown.length) {
  process.stderr.write(`--only ${values.only}: unknown part(s) ${unknown.join(', ')}; parts: ${PARTS.join(', ')}\n`);
  process.exit(2);
}
const result = await runBench({ quick: values.quick, parts: only as Part[] | undefined, ...(llmGpusText !== undefined ? { llmGpus: Number(llmGpusText) } : {}), say: (l) => process.stderr.write(l + '\n') });
const json = JSON.stringify(toJson(result), null, 2) + '\n';
// --json-out keeps the machine-readable object beside the table (docs/PERFORMANCE.md shows both).
if (values['json-out']) await writeFile(values['json-out'], json);
process.stdout.write(values.json ? json : renderTable(result) + '\n');
// Bench children (rigs, redis) are stopped by now; exit even if a library keeps a handle open.
process.exit(0);
