// The rig's check of its ports before it starts anything: which ports it will bind (each
// managed or simulated GPU's LLM server), reading who holds a port from /proc/net/tcp, and
// the message that refuses the start. Pure: portProbe.ts does the listening and the reading.
// A GPU that is neither managed nor simulated has no server of the rig's: its port belongs
// to a server the operator runs, which should be listening, so it is never checked.
import type { ChildSpec } from './roles.ts';

/** A port one of the rig's servers will listen on. */
export interface PortNeed {
  host: string;
  port: number;
  gpu: number;
  /** The server's child name, e.g. runtime-0. */
  name: string;
}

/** Who holds a port: a process found by its socket's inode, or none this user can see. */
export type PortHolder = { pid: number; command: string } | null;

/** A port the rig needs that it could not listen on. */
export interface BusyPort extends PortNeed {
  /** The listen error: EADDRINUSE for a taken port; anything else (EADDRNOTAVAIL, EACCES) also stops the server. */
  code: string;
  holders: PortHolder[];
}

/** One socket of /proc/net/tcp or tcp6. */
export interface ProcSocket {
  address: string;
  port: number;
  /** The kernel's state in hex: 0A is LISTEN. */
  state: string;
  inode: number;
}

export const TCP_LISTEN = '0A';

/** The ports the rig's servers will bind, in the children's order. */
export function portsToCheck(children: readonly ChildSpec[]): PortNeed[] {
  const out: PortNeed[] = [];
  for (const c of children) {
    if (c.kind !== 'runtime' || !c.listen || c.gpu === null) continue;
    out.push({ host: c.listen.host, port: c.listen.port, gpu: c.gpu, name: c.name });
  }
  return out;
}

/**
 * The sockets of /proc/net/tcp or /proc/net/tcp6 (the header line and malformed lines are
 * skipped). A line reads `sl local rem st tx:rx tr:when retr uid timeout inode ...`, the
 * local address as hex `ADDR:PORT`, ADDR in the kernel's byte order (32-bit words, little
 * endian on the machines we run on).
 */
export function parseProcNetTcp(text: string): ProcSocket[] {
  const out: ProcSocket[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^\d+:$/.test(f[0]!)) continue;
    const m = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(f[1]!);
    const inode = Number(f[9]);
    if (!m || !/^[0-9A-Fa-f]{2}$/.test(f[3]!) || !Number.isInteger(inode)) continue;
    out.push({ address: decodeAddress(m[1]!), port: parseInt(m[2]!, 16), state: f[3]!.toUpperCase(), inode });
  }
  return out;
}

/** 0100007F → 127.0.0.1; a 32-digit IPv6 address → its eight groups, e.g. 0:0:0:0:0:0:0:1. */
export function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

/** The inodes of the sockets holding `port`: its listeners, else any socket bound to it. */
export function holdingInodes(sockets: readonly ProcSocket[], port: number): number[] {
  const onPort = sockets.filter((s) => s.port === port && s.inode > 0);
  const listening = onPort.filter((s) => s.state === TCP_LISTEN);
  return [...new Set((listening.length ? listening : onPort).map((s) => s.inode))];
}

/** The inode of a `/proc/PID/fd/N` link's target `socket:[12345]`, or null for anything else. */
export function socketInode(link: string): number | null {
  const m = /^socket:\[(\d+)\]$/.exec(link);
  return m ? Number(m[1]) : null;
}

/** /proc/PID/cmdline (NUL-separated) as one line, cut to `max` characters. */
export function commandLine(cmdline: string, max = 160): string {
  const text = cmdline.split('\0').filter((a) => a !== '').join(' ');
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function describeHolders(holders: readonly PortHolder[]): string {
  const seen = holders.filter((h): h is { pid: number; command: string } => h !== null);
  if (!seen.length) return 'held by a process this user cannot see (another user\'s, or in another network namespace; `sudo ss -ltnp` names it)';
  return seen.map((h) => `held by pid ${h.pid} (${h.command || 'no command line'})`).join('; ');
}

function describeBusy(b: BusyPort): string {
  const what = b.code === 'EADDRINUSE' ? describeHolders(b.holders) : `cannot listen there: ${b.code}`;
  return `  ${b.host}:${b.port} (GPU ${b.gpu}, ${b.name}): ${what}`;
}

export interface RefusalContext {
  /** --simulate: the ports come from --base-port. */
  simulated: boolean;
  basePort: number;
  /** A base port whose consecutive ports are all free now, for the simulated hint; null when none was found. */
  freeBase: number | null;
  /** How many ports a simulated rig takes from its base. */
  count: number;
}

/** What the rig prints, naming every busy port, when it refuses to start. */
export function describeRefusal(busy: readonly BusyPort[], ctx: RefusalContext): string {
  const n = busy.length;
  const lines = [`rig: not starting: ${n === 1 ? 'a port' : `${n} ports`} this rig's LLM servers need ${n === 1 ? 'is' : 'are'} not free; nothing was started.`];
  for (const b of busy) lines.push(describeBusy(b));
  if (ctx.simulated) {
    const range = ctx.freeBase === null ? '' : ` (${ctx.freeBase}${ctx.count > 1 ? `-${ctx.freeBase + ctx.count - 1}` : ''} ${ctx.count > 1 ? 'are' : 'is'} free now)`;
    const hint = ctx.freeBase === null ? '`--base-port P` picks other ports (P to P+N-1 for N GPUs)' : `\`--base-port ${ctx.freeBase}\` picks other ports${range}`;
    lines.push(`Simulated GPUs listen on --base-port ${ctx.basePort} + their index: ${hint}, or stop the process holding them.`);
  } else {
    lines.push('Stop the process holding each port (a server left by a rig that was killed, or another rig\'s), or give the GPU another port (gpus[].port in the config).');
  }
  return lines.join('\n') + '\n';
}
