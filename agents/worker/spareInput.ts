// A spare worker's input (--spare): the agent starts it before it has a task; the task comes
// later on stdin as one envelope line (core/workerProtocol.ts) with the task's environment.
import { formatTaskReceivedLine, parseSpareEnvelope } from '../core/workerProtocol.ts';

/** The task given to the worker cannot be read or is not one. */
export class TaskInputError extends Error {}

/**
 * A spare's task (the LLM code is loaded only by an LLM task, as in any worker): waits for the
 * envelope line, sets its env in process.env and returns the task and when it arrived; null
 * when stdin ends first. Later, the end of stdin aborts the task: the agent died.
 */
export async function awaitTask(stop: AbortController, log: (line: string) => void, maxBytes: number): Promise<{ task: unknown; arrivedAt: number } | null> {
  const line = await readLine(maxBytes);
  if (line === null) return null;
  const arrivedAt = Date.now();
  const parsed = parseSpareEnvelope(line);
  if (!parsed.ok) throw new TaskInputError(parsed.reason);
  Object.assign(process.env, parsed.envelope.env);
  const task = parsed.envelope.task as { id?: unknown } | null;
  log(formatTaskReceivedLine(typeof task?.id === 'string' ? task.id : 'unknown'));
  process.stdin.on('end', () => {
    if (stop.signal.aborted) return;
    log('stdin closed (the agent is gone): ending the task');
    stop.abort('SIGHUP');
  });
  process.stdin.resume();
  return { task: parsed.envelope.task, arrivedAt };
}

/** The first line of stdin (without its newline), refused past max bytes; null when stdin ends before one. */
function readLine(max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err: Error | null, line: string | null) => {
      process.stdin.off('data', onData).off('end', onEnd);
      // Whatever comes after the line is read and dropped, so 'end' is still seen.
      process.stdin.on('data', () => {});
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer) => {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        size += chunk.length;
        chunks.push(chunk);
        if (size > max) done(new TaskInputError(`the task envelope on stdin is over ${max} bytes`), null);
        return;
      }
      chunks.push(chunk.subarray(0, nl));
      done(null, Buffer.concat(chunks).toString('utf8'));
    };
    const onEnd = () => done(null, null);
    process.stdin.on('data', onData).on('end', onEnd);
  });
}

