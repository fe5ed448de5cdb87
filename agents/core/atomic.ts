// The one way to write a file another process may read: a temporary name in the same
// folder, fsync, then rename. A reader sees the old file or the new one, never half.
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Temporary files start with a dot and end with .tmp, so every lister skips them. */
export function isTempName(name: string): boolean {
  return name.startsWith('.') || name.endsWith('.tmp');
}

/**
 * Each temporary name's part after the pid: random per process (two hosts may run the same
 * pid on one mount), then counted up, so a write costs no call into the random source.
 * `wx` still refuses a name that is taken.
 */
let tempSerial = randomBytes(4).readUInt32BE(0);

/** 8 hex digits, different for every call in this process (for 2^32 calls), and unlike other processes' with high odds. */
export function uniqueHex(): string {
  tempSerial = (tempSerial + 1) >>> 0;
  return tempSerial.toString(16).padStart(8, '0');
}

export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${uniqueHex()}.tmp`);
}

export interface WriteOptions {
  /**
   * fsync before the rename (default true): the new file survives a crash of the machine that
   * holds it. On a network mount it is a round trip to the server; a file that only its own
   * writer reads (the brain's private tasks, rebuilt from the plan's seal if lost) skips it,
   * and so does a file whose loss is cheap and whose reader checks it (a training sample):
   * without it a reader still never sees half a file (close() sends an NFS client's data to
   * the server before the rename), but a power cut may leave the renamed file empty or short.
   */
  sync?: boolean;
  /**
   * JSON only: pad the file with spaces to a whole number of these bytes. A network client may
   * keep a file's size cached for seconds and cut its reads at that size; a file that is
   * rewritten often and grows and shrinks a little (a heartbeat) keeps one size this way, so a
   * reader's cached size is still right. JSON.parse ignores the trailing white space.
   */
  padTo?: number;
}

/** Pure: `text` followed by spaces and a newline up to a whole number of `block` bytes. */
export function padText(text: string, block: number): string {
  const bytes = Buffer.byteLength(text) + 1;
  const size = Math.ceil(bytes / block) * block;
  return text + ' '.repeat(size - bytes) + '\n';
}

/** Creates `path` (it must not exist) with `data`, synced to disk unless told not to; on failure nothing is left. */
export async function writeFileSynced(path: string, data: string | Uint8Array, o: WriteOptions = {}): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o644);
    await handle.writeFile(data);
    if (o.sync !== false) await handle.sync();
    await handle.close();
  } catch (err) {
    // A failed write (ENOSPC, EIO) leaves no temporary behind.
    if (handle) await handle.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw err;
  }
}

export async function writeFileAtomic(target: string, data: string | Uint8Array, o: WriteOptions = {}): Promise<void> {
  const tmp = tempPathFor(target);
  await writeFileSynced(tmp, data, o);
  try {
    await rename(tmp, target);
  } catch (err) {
    // The target stays as it was.
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

export async function writeJsonAtomic(target: string, value: unknown, o: WriteOptions = {}): Promise<void> {
  const text = JSON.stringify(value, null, 2);
  await writeFileAtomic(target, o.padTo ? padText(text, o.padTo) : text + '\n', o);
}
