// The batch's outputs folder, as every task of this plan uses it (PLAN_FORMAT.md, "Outputs"):
// a task's result is BATCH_PATH/outputs/<task name>.json, and the children of a foreach task
// <template> are named <template>.1, <template>.2, ... in the order of its manifest.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

export function outputFile(batch, task) {
  return join(batch, 'outputs', `${task}.json`);
}

/** The names of a foreach template's children, one per manifest item. */
export function childNames(template, count) {
  return Array.from({ length: count }, (_, i) => `${template}.${i + 1}`);
}

/** A task's output, or {missing: reason} when there is none or it is not JSON. */
export async function readOutput(batch, task) {
  const file = outputFile(batch, task);
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { missing: `no output of task '${task}' at ${file} (${err.code ?? err.message})` };
  }
  try {
    return { value: JSON.parse(text) };
  } catch (err) {
    return { missing: `output of task '${task}' at ${file} is not JSON (${err.message})` };
  }
}

/** Writes JSON whole or not at all: a temporary name, then a rename (the brain may read it at once). */
export async function writeJsonWhole(file, value) {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n');
  await rename(tmp, file);
}

/**
 * The named options (all required, each a value) and the positional arguments after them, or
 * exit 1 with the usage. '--' ends the options, so a value after it may start with '-'.
 */
export function readArgs(usage, names, positionals) {
  let parsed;
  try {
    parsed = parseArgs({ options: Object.fromEntries(names.map((n) => [n, { type: 'string' }])), allowPositionals: true });
  } catch (err) {
    fail(usage, err.message);
  }
  const missing = names.filter((n) => parsed.values[n] === undefined).map((n) => `--${n}`);
  if (missing.length) fail(usage, `missing ${missing.join(', ')}`);
  if (parsed.positionals.length !== positionals) fail(usage, `expected ${positionals} argument(s) after the options, got ${parsed.positionals.length}`);
  return { ...parsed.values, positionals: parsed.positionals };
}

function fail(usage, why) {
  console.error(`${why}\nusage: ${usage}`);
  process.exit(1);
}
