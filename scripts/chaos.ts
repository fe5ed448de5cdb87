// forge chaos [--trials N] [--seed S] [--gpus N] [--keep] [--json] [--deadline-s S] [--brain-ops]
// Fault injection: runs trials of real batches on a simulated rig while it SIGKILLs the
// brain, agents, workers and tasks and drops garbage into the mount's folders, then checks
// every batch and every task (tools/chaos/check.ts). Exits 0 when every trial passed.
// Trial i uses seed S+i; a failed one is replayed alone with --trials 1 --seed S+i.
// --brain-ops kills the brain at file operations instead (each life just before its j-th
// commit, j = 1, 2, ...), under strace's syscall injection.
import { execa } from 'execa';
import { parseStrict, usageError } from '../agents/core/args.ts';
import { formatTotals, totalsOf } from '../tools/chaos/report.ts';
import { trialSeed } from '../tools/chaos/prng.ts';
import { type TrialResult, runTrial } from '../tools/chaos/trial.ts';

const usage = `usage: forge chaos [--trials N] [--seed S] [--gpus N] [--keep] [--json] [--deadline-s S] [--brain-ops]
  --trials N      trials to run, 1 to 10000 (default 5); trial i uses seed S+i
  --seed S        the first trial's seed, 0 to 2^32-1 (default: from the clock); replays a trial with --trials 1
  --gpus N        simulated GPUs of each trial's rig, 1 to 8 (default: chosen by the seed)
  --keep          keep a failed trial's mount for a look
  --json          print the totals as one JSON object
  --deadline-s S  how long a trial's batches may take before it fails, 10 to 3600 s (default 90)
  --brain-ops     kill the brain at file operations instead (needs strace)
  -h, --help      print this help and exit`;

const { values } = parseStrict(usage, {
  trials: { type: 'string', default: '5' },
  seed: { type: 'string' },
  gpus: { type: 'string' },
  keep: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  'deadline-s': { type: 'string', default: '90' },
  'brain-ops': { type: 'boolean', default: false },
}, undefined, { positionals: { max: 0 } });
const whole = (name: string, text: string, lo: number, hi: number): number => {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < lo || n > hi) usageError(usage, `--${name} ${text}: give a whole number from ${lo} to ${hi}`);
  return n;
};
const trials = whole('trials', values.trials, 1, 10_000);
const seed = values.seed === undefined ? Date.now() % 1_000_000_000 : whole('seed', values.seed, 0, 2 ** 32 - 1);
const gpus = values.gpus === undefined ? null : whole('gpus', values.gpus, 1, 8);
const deadlineMs = whole('deadline-s', values['deadline-s'], 10, 3600) * 1000;
const note = (s: string) => process.stderr.write(`chaos: ${s}\n`);
const brainOps = values['brain-ops'];
const replay = (s: number) => `npm run chaos -- --trials 1 --seed ${s}${gpus === null ? '' : ` --gpus ${gpus}`}${brainOps ? ' --brain-ops' : ''}`;
if (brainOps && (await execa('strace', ['-V'], { reject: false })).exitCode !== 0) {
  process.stderr.write('chaos: --brain-ops: strace is not installed (Debian: apt-get install strace); it delivers the kills at file operations\n');
  process.exit(1);
}

note(`seed ${seed}, ${trials} trial(s)${gpus === null ? '' : `, ${gpus} GPUs`}${brainOps ? ', brain killed at file operations' : ''}`);
const results: TrialResult[] = [];
let stopping = false;
process.on('SIGINT', () => {
  if (stopping) process.exit(130);
  stopping = true;
  note('interrupted: finishing the current trial, then reporting (Ctrl-C again to quit now)');
});
for (let i = 0; i < trials && !stopping; i++) {
  const s = trialSeed(seed, i);
  const r = await runTrial({ seed: s, gpus, deadlineMs, keep: values.keep ? 'failed' : false, say: note, brainOps });
  results.push(r);
  const v = r.verdict;
  note(
    `trial ${i + 1}/${trials} seed ${s}: ${r.ok ? 'PASS' : 'FAIL'} in ${(r.durationMs / 1000).toFixed(1)} s ` +
      `(${r.gpus} GPUs, ${r.batches} batch(es), ${v.tasksChecked} tasks; kills brain ${v.kills.brain}, agent ${v.kills.agent}, ` +
      `worker ${v.kills.worker}, task ${v.kills.task}; garbage ${v.garbage.dropped}; longest recovery ${(v.longestRecoveryMs / 1000).toFixed(1)} s)`,
  );
  if (!r.ok) {
    for (const p of v.problems) note(`  ${p}`);
    note(`  replay: ${replay(s)}${r.kept ? `; mount kept at ${r.kept}` : ' (add --keep to keep the mount)'}`);
  }
}
const totals = totalsOf(seed, results);
process.stdout.write((values.json ? JSON.stringify(totals) : formatTotals(totals)) + '\n');
process.exit(totals.ok ? 0 : 1);
