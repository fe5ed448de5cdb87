// Which process group a pid belongs to (Linux /proc). Workers lead their own group, so a
// GPU process whose group is a worker's pid is that worker's. nvidia-smi reports host pids:
// inside a container with its own pid namespace they do not match (see docs).
import { readFile } from 'node:fs/promises';

export async function processGroupOf(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state ppid pgrp ...
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(rest[2]);
    return Number.isFinite(pgrp) ? pgrp : null;
  } catch {
    return null;
  }
}
