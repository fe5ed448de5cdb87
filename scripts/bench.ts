// forge bench [--quick] [--json] [--json-out FILE] [--only PART,PART] [--llm-gpus N] [--bigbatch-items N] [--bigbatch-limit-s S]
// forge bench --netfs [--profiles none,nfs,default] [--quick] [--json]
// Measures the rig's speed on this machine (docs/PERFORMANCE.md says what and why) and prints
// a table, or with --json one object. Progress goes to stderr. Parts: limits, hop, idle_gap,
// throughput, scale, idle, bullmq, llm, bigbatch. It builds the bundles first (forge build), once its
// options are known to be good: --help and a usage error build nothing.
import { writeFile } from 'node:fs/promises';
import { parseStrict, usageError } from '../agents/core/args.ts';
import { distDir } from '../agents/core/entry.ts';
import { PARTS, type Part, runBench } from '../tools/bench/runBench.ts';
import { renderTable, toJson } from '../tools/bench/report.ts';
import { PROFILES, renderNetfsTable, runNetfsBench } from '../tools/bench/netfs.ts';
import { buildBundles, buildCli } from './bundle.ts';

const usage = `usage: forge bench [--quick] [--json] [--json-out FILE] [--only ${PARTS.join(',')}] [--llm-gpus N]
                   [--bigbatch-items N] [--bigbatch-limit-s S]
       forge bench --netfs [--profiles ${PROFILES.join(',')}] [--quick] [--json] [--json-out FILE]
  --quick          shorter runs of each part (a smoke test, not figures to quote)
  --json           print one JSON object instead of the table (progress stays on stderr)
  --json-out FILE  also write that JSON object to FILE
  --only PARTS     only these parts, comma-separated: ${PARTS.join(', ')}
  --llm-gpus N     simulated GPUs of the llm part's larger rig, 2 to 16 (default 3); it is compared with a 1-GPU rig
  --bigbatch-items N    items of the bigbatch part's foreach, 1 to 100000 (default 100000; 300 with --quick)
  --bigbatch-limit-s S  stop the bigbatch part after S seconds and report its figures so far (done-once unchecked; none-twice checked)
  --netfs          brain and agents on different sshfs clients of one folder, per cache profile (needs root, sshd, sshfs, fuse3)
  --profiles LIST  with --netfs: the cache profiles to run, comma-separated: ${PROFILES.join(', ')} (default all)
  -h, --help       print this help and exit`;
const refuse = (problem: string): never => usageError(usage, problem);
const { values } = parseStrict(usage, { quick: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, 'json-out': { type: 'string' }, only: { type: 'string' }, netfs: { type: 'boolean', default: false }, profiles: { type: 'string' }, 'llm-gpus': { type: 'string' }, 'bigbatch-items': { type: 'string' }, 'bigbatch-limit-s': { type: 'string' } }, undefined, { positionals: { max: 0 } });
const say = (line: string) => process.stderr.write(line + '\n');
if (values.netfs) {
  const profiles = values.profiles?.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = profiles?.filter((p) => !(PROFILES as readonly string[]).includes(p)) ?? [];
  if (bad.length) refuse(`--profiles ${values.profiles}: unknown profile(s) ${bad.join(', ')}; profiles: ${PROFILES.join(', ')}`);
  if (values.only || values['llm-gpus'] !== undefined) refuse(`${values.only ? '--only' : '--llm-gpus'} does not apply to --netfs`);
  if (values['bigbatch-items'] !== undefined || values['bigbatch-limit-s'] !== undefined) refuse('--bigbatch-items and --bigbatch-limit-s do not apply to --netfs');
  try {
    await buildBundles(distDir(), say);
    await buildCli(distDir(), say);
    const r = await runNetfsBench({ quick: values.quick, profiles: profiles as (typeof PROFILES)[number][] | undefined, say });
    const json = JSON.stringify(r, null, 2) + '\n';
    if (values['json-out']) await writeFile(values['json-out'], json);
    process.stdout.write(values.json ? json : renderNetfsTable(r) + '\n');
    process.exit(0);
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
if (values.profiles) refuse('--profiles applies only to --netfs');
const llmGpusText = values['llm-gpus'];
if (llmGpusText !== undefined && (!/^\d+$/.test(llmGpusText) || Number(llmGpusText) < 2 || Number(llmGpusText) > 16)) {
  refuse(`--llm-gpus ${llmGpusText}: expected a whole number from 2 to 16 (the llm part compares that many GPUs with one)`);
}
const wholeIn = (text: string | undefined, lo: number, hi: number) => text === undefined || (/^\d+$/.test(text) && Number(text) >= lo && Number(text) <= hi);
const bigItems = values['bigbatch-items'];
// 100,000: the most items one foreach manifest may hold (agents/plan/limits.ts).
if (!wholeIn(bigItems, 1, 100_000)) refuse(`--bigbatch-items ${bigItems}: expected a whole number from 1 to 100000 (the most items of one foreach)`);
const bigLimit = values['bigbatch-limit-s'];
if (!wholeIn(bigLimit, 5, 86_400)) refuse(`--bigbatch-limit-s ${bigLimit}: expected whole seconds from 5 to 86400`);
const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
const unknown = only?.filter((p) => !(PARTS as readonly string[]).includes(p)) ?? [];
if (unknown.length) refuse(`--only ${values.only}: unknown part(s) ${unknown.join(', ')}; parts: ${PARTS.join(', ')}`);
// The rig's processes run from their bundles, as they would in use: built now, on stderr.
await buildBundles(distDir(), say);
// The forge command too: status and submit are timed as a person starts them (bin/forge).
await buildCli(distDir(), say);
const result = await runBench({ quick: values.quick, parts: only as Part[] | undefined, ...(llmGpusText !== undefined ? { llmGpus: Number(llmGpusText) } : {}),
  ...(bigItems !== undefined ? { bigbatchItems: Number(bigItems) } : {}), ...(bigLimit !== undefined ? { bigbatchLimitS: Number(bigLimit) } : {}), say });
const json = JSON.stringify(toJson(result), null, 2) + '\n';
// --json-out keeps the machine-readable object beside the table (docs/PERFORMANCE.md shows both).
if (values['json-out']) await writeFile(values['json-out'], json);
process.stdout.write(values.json ? json : renderTable(result) + '\n');
// Bench children (rigs, redis) are stopped by now; exit even if a library keeps a handle open.
process.exit(0);
