// What the scripts know of the mount: its root (the batch folder is <shared>/plans/<plan>/batches/<id>),
// where a base model's adapters live, and bounded reads of its JSON files.
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The mount's root, from the batch folder the rig gives every task as {BATCH_PATH}. */
export function sharedOf(batchPath) {
  return resolve(batchPath, '..', '..', '..', '..');
}

/** `m` is `m:latest`, as Ollama names models; an adapter version (`#...`) is not part of the base. */
export function normalizeBase(model) {
  const base = model.split('#')[0];
  return base.slice(base.lastIndexOf('/') + 1).includes(':') ? base : `${base}:latest`;
}

/** The base's folder under adapters/: every character but letters, digits, '.', '_' and '-' as %XX (as the rig writes it). */
export function baseFolder(shared, base) {
  const name = [...normalizeBase(base)].map((c) => (/[A-Za-z0-9._-]/.test(c) ? c : [...Buffer.from(c)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''))).join('');
  return join(shared, 'adapters', name);
}

/** The last `max` bytes of a file as text ('' when it is missing). */
export async function readTail(file, max) {
  let h;
  try {
    h = await open(file, 'r');
  } catch (err) {
    if (err.code === 'ENOENT') return '';
    throw err;
  }
  try {
    const { size } = await h.stat();
    const length = Math.min(size, max);
    const buf = Buffer.alloc(length);
    await h.read(buf, 0, length, size - length);
    return buf.toString('utf8');
  } finally {
    await h.close();
  }
}

/** A small JSON file, or null when it is missing. */
export async function readJson(file) {
  const text = await readTail(file, 1024 * 1024);
  return text ? JSON.parse(text) : null;
}
