// forge ask "PROMPT" [--model M] [--timeout S] [--json] [--shared DIR]: a realtime question.
// Writes requests/<id>.json (the same file a person or the RPi may write by hand), waits for
// the brain's answer beside it (requests/<id>.answer.json), prints the text, exits 0.
import '../agents/core/shortLived.ts';
import { parseCommand, runCommand, usageError, writeStdout } from '../agents/core/args.ts';
import { loadConfig } from '../agents/core/config.ts';
import { errorMessage } from '../agents/core/errors.ts';
import { mountPaths } from '../agents/core/paths.ts';
import { AskRequest, answerPath, newRequestId, requestPath, writeRequest } from '../agents/core/request.ts';
import { checkSchema } from '../agents/core/zodIssues.ts';
import { hotAgents, lookAtBrain, waitForAnswer } from '../agents/ask/askClient.ts';
import { brainIsDown } from '../agents/status/liveness.ts';
import { modelProblem, requestModel } from '../agents/brain/askDecide.ts';

const DEFAULT_TIMEOUT_S = 120;

const USAGE = `usage: forge ask "PROMPT" [--model M] [--timeout S] [--json] [--shared DIR]
  PROMPT         the question (one argument: quote it), at most 32768 characters
  --model M      a model the rig knows (config.json gpus[].model, models, default_model);
                 default: default_model, else the first GPU's model
  --timeout S    seconds to wait for the answer (default ${DEFAULT_TIMEOUT_S}); the model's run may take as long
  --json         print the whole answer as one JSON object: { id, ok, text, reason, model, agent,
                 task, prompt_tokens, output_tokens, request_ms, load_ms, asked_at, queued_at,
                 started_at, answered_at }
  --shared DIR   the shared mount (default: $RIG_SHARED, else ./shared)
  -h, --help     print this help and exit

The brain takes the question ahead of all batch work and a hot agent answers it. When no
agent holds the model, the brain loads it first (the answer waits for the load; this says so).
Exit 0: answered. Exit 1: no brain running, unknown model, the model failed or refused it, or
no answer within --timeout (the request stays in requests/ and its answer may still come).
Exit 2: a usage error.`;

function fail(message: string): never {
  process.stderr.write(`ask: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const { values, positionals, shared } = parseCommand(
    USAGE, { model: { type: 'string' }, timeout: { type: 'string' }, json: { type: 'boolean' } }, undefined, { positionals: { min: 1, max: 1 } },
  );
  const timeoutS = values.timeout === undefined ? DEFAULT_TIMEOUT_S : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0 || timeoutS > 3600) usageError(USAGE, `--timeout: expected seconds from 1 to 3600, e.g. --timeout 60; found '${values.timeout}'`);
  const draft = { prompt: positionals[0]!, ...(values.model !== undefined ? { model: values.model } : {}), timeout_s: timeoutS, asked_at: new Date().toISOString() };
  const checked = checkSchema(AskRequest, draft);
  if (!checked.ok) usageError(USAGE, checked.problems.map((p) => p.replace(/^prompt\b/, 'PROMPT').replace(/^model\b/, '--model')).join('\n'));
  const req = checked.value;

  const paths = mountPaths(shared);
  const config = await loadConfig(paths.config).catch((err: unknown) => fail(`cannot read the rig's config: ${errorMessage(err)}`));
  const model = requestModel(req, config);
  const problem = modelProblem(model, config);
  if (problem) fail(problem);
  const brain = await lookAtBrain(paths);
  if (brainIsDown(brain)) fail(`no brain is running on ${paths.root}, so nobody would answer (${brain.text})`);
  const hot = await hotAgents(paths, config, model).catch(() => [] as string[]);
  if (!hot.length) process.stderr.write(`ask: no agent holds ${model} hot: the brain loads it first, and the answer waits for the load\n`);

  const id = newRequestId();
  await writeRequest(paths, id, req).catch((err: unknown) => fail(`could not write ${requestPath(paths, id)}: ${errorMessage(err)}`));
  const started = performance.now();
  const got = await waitForAnswer(paths, id, timeoutS * 1000);
  if (!got.ok) {
    fail(`no answer within ${timeoutS} s; the request stays in ${requestPath(paths, id)} and its answer may still come to ${answerPath(paths, id)}`);
  }
  const { answer } = got;
  if (values.json) writeStdout(JSON.stringify(answer, null, 2) + '\n');
  else if (answer.ok) writeStdout(answer.text!.endsWith('\n') ? answer.text! : `${answer.text}\n`);
  if (!answer.ok) fail(`no answer: ${answer.reason}`);
  if (process.env.FORGE_ASK_TIMING) process.stderr.write(`ask: answered in ${Math.round(performance.now() - started)} ms\n`);
}

runCommand(main);
