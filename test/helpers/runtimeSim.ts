// Shared by the runtime and simulator tests: a RuntimeError of a kind, and the simulator as a process.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { RuntimeError } from '../../agents/llm/runtime.ts';

/** Awaits `p`, which must reject with a RuntimeError of `kind` whose message matches `pattern`. */
export async function rejectsWith(p: Promise<unknown>, kind: string, pattern: RegExp): Promise<RuntimeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof RuntimeError, `expected a RuntimeError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`expected a ${kind} RuntimeError`);
}

/** The URL a simulator process (agents/sim/ollama-main.ts) prints once it listens; rejects when it exits first. */
export function listeningUrl(child: ChildProcess & { stdout: NodeJS.ReadableStream }): Promise<string> {
  let out = '';
  return new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^listening (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`ollama-main exited ${code} before listening: ${out}`)));
  });
}
