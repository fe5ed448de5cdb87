// forge ask on a simulated rig: a question is answered by the agent that holds the model (the
// brain loads it first when none does, and ask says so), a request file written by hand gets
// its answer file, a bad one is quarantined with the reason as its answer, an unknown model and
// a rig with no brain are refused with exit 1. The time of an answer on an idle rig with a hot
// agent is printed, not asserted (the benchmark's business).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { commandArgsFor, projectRoot } from '../../agents/core/entry.ts';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import { AskAnswer, requestsDir } from '../../agents/core/request.ts';
import { lookAtBrain } from '../../agents/ask/askClient.ts';
import { brainIsDown } from '../../agents/status/liveness.ts';
import { simAnswerText } from '../../agents/sim/ollamaAnswers.ts';
import { freePortRange } from '../../tools/harness/ports.ts';
import { startRig, waitFor, waitForAgents } from '../../tools/harness/runRig.ts';
import { tempMount } from '../helpers/mount.ts';

async function ask(shared: string, ...args: string[]) {
  const t0 = performance.now();
  const r = await execa(process.execPath, [...commandArgsFor('ask'), ...args, '--shared', shared], { reject: false, cwd: projectRoot });
  return { code: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr), ms: Math.round(performance.now() - t0) };
}

const answerOf = async (dir: string, id: string) => AskAnswer.parse(JSON.parse(await readFile(join(dir, `${id}.answer.json`), 'utf8')));

test('forge ask: answered by a hot agent ahead of batch work; request files by hand; bad requests, unknown models and no brain refused', async () => {
  const { paths, cleanup } = await tempMount();
  const rig = startRig(paths.root, 1, await freePortRange(1), { quiet: true });
  const dir = requestsDir(paths);
  try {
    await waitForAgents(paths, [0], 60_000);
    // The agent may be up before the brain (started from TypeScript when its bundle is stale).
    await waitFor('the brain', async () => !brainIsDown(await lookAtBrain(paths)), 60_000);
    const config = JSON.parse(await readFile(paths.config, 'utf8')) as { gpus: Array<{ model: string }> };
    const model = config.gpus[0]!.model;

    // Cold: the brain loads the model first, and ask says the answer waits for it.
    const cold = await ask(paths.root, 'Say one word about rain.', '--json');
    assert.equal(cold.code, 0, cold.stderr);
    assert.match(cold.stderr, new RegExp(`no agent holds ${model.replace(/[.]/g, '\\.')} hot: the brain loads it first`));
    const first = AskAnswer.parse(JSON.parse(cold.stdout));
    assert.equal(first.ok, true);
    assert.ok(first.text!.startsWith(simAnswerText(model, 'Say one word about rain.')), first.text!);

    // Hot and idle: the time it took is printed for the record.
    await waitFor('gpu-0 hot', async () => (await readHeartbeat(paths, 0))?.model_loaded === true, 30_000);
    const hot = await ask(paths.root, 'What is two and two?', '--json');
    assert.equal(hot.code, 0, hot.stderr);
    assert.doesNotMatch(hot.stderr, /no agent holds/);
    process.stderr.write(`forge ask on an idle simulated rig with a hot agent: ${hot.ms} ms (command start included)\n`);
    const a = AskAnswer.parse(JSON.parse(hot.stdout));
    assert.equal(a.ok, true);
    assert.equal(a.agent, 'gpu-0');
    assert.equal(a.model, model);
    assert.ok(a.text!.startsWith(simAnswerText(model, 'What is two and two?')));
    assert.ok((a.output_tokens ?? 0) > 0 && (a.prompt_tokens ?? 0) > 0, JSON.stringify(a));
    assert.ok(a.queued_at && a.started_at && a.answered_at);
    // Its task ran as an llm task and was archived; the plain output is the text alone.
    const archived = await readdir(join(paths.tasks, 'archive', 'ask'));
    assert.ok(archived.includes(`ask__${a.id}.json`), archived.join(', '));
    const plain = await ask(paths.root, 'What is two and two?');
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, a.text);

    // A request written by hand, not atomically (cat > requests/x.json), gets its answer file.
    await writeFile(join(dir, 'by-hand.json'), JSON.stringify({ prompt: 'Name a colour.' }));
    const byHand = await waitFor('the answer to by-hand', () => answerOf(dir, 'by-hand').catch(() => null), 20_000);
    assert.equal(byHand.ok, true);
    assert.ok(byHand.text!.startsWith(simAnswerText(model, 'Name a colour.')));

    // A bad request: quarantined, its answer says why.
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ prompt: 'Hello', promt: 'typo' }));
    const bad = await waitFor('the answer to bad', () => answerOf(dir, 'bad').catch(() => null), 20_000);
    assert.equal(bad.ok, false);
    assert.match(bad.reason!, /promt/);
    assert.ok(!(await readdir(dir)).includes('bad.json'), 'moved out of requests/');
    const q = await readdir(join(paths.quarantine, 'requests'));
    assert.ok(q.some((n) => n.endsWith('-bad.json')) && q.some((n) => n.endsWith('-bad.json.why.txt')), q.join(', '));

    // A model the rig does not know: refused before anything is written.
    const unknown = await ask(paths.root, 'Hi', '--model', 'nosuch:1b');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /model 'nosuch:1b' is not known to the rig: use one of /);
    // A prompt over the limit: a usage error.
    const long = await ask(paths.root, 'x'.repeat(40_000));
    assert.equal(long.code, 2);
    assert.match(long.stderr, /PROMPT: must be at most 32768 characters/);
  } finally {
    rig.kill('SIGTERM');
    await rig;
  }
  try {
    // No brain: refused at once, nothing left waiting.
    const before = (await readdir(dir)).length;
    const none = await ask(paths.root, 'Anyone there?');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no brain is running/);
    assert.equal((await readdir(dir)).length, before);
  } finally {
    await cleanup();
  }
});
