// The launcher's children as processes: start each (a node entry or an executable), prefix
// its output with its name, keep the last lines of its stderr, apply decideExit when it ends,
// and stop them all in order: the agents and the brain first (agents stop their workers and
// write a last heartbeat), then the LLM servers. A GPU's LLM server runs in a process group
// of its own, so the terminal's Ctrl-C reaches it only through the rig, after its agent, and
// whatever it started (Ollama's runners, vLLM's workers, holding GPU memory) goes with it.
import { connect } from 'node:net';
import { execa, type ResultPromise } from 'execa';
import type { DecisionLog } from '../core/decisionLog.ts';
import { nodeArgsFor } from '../core/entry.ts';
import { type ChildExit, childTitle, decideExit } from './decideExit.ts';
import type { ChildSpec } from './roles.ts';
import { describeCommand } from './runtimeServers.ts';

/** Stderr lines kept per child for the RESTART and GIVE_UP lines, each cut to TAIL_CHARS. */
const TAIL_LINES = 6;
const TAIL_CHARS = 300;
/** SIGTERM, then SIGKILL after this long. */
const STOP_GRACE_MS = 10_000;

interface Child {
  spec: ChildSpec;
  proc: ResultPromise | null;
  restarts: number[];
  stderrTail: string[];
  timer: NodeJS.Timeout | null;
}

export interface SupervisorOptions {
  children: ChildSpec[];
  decisions: DecisionLog;
  /** The mount's root, given to node children as RIG_SHARED. */
  shared: string;
  log: (line: string) => void;
}

function prefixLines(name: string, stream: NodeJS.ReadableStream | null | undefined, out: NodeJS.WriteStream, tail?: string[]): void {
  let buf = '';
  const emit = (line: string) => {
    out.write(`[${name}] ${line}\n`);
    if (!tail) return;
    tail.push(line.length > TAIL_CHARS ? `${line.slice(0, TAIL_CHARS)}…` : line);
    if (tail.length > TAIL_LINES) tail.shift();
  };
  stream?.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      emit(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  stream?.on('end', () => {
    if (buf) emit(buf);
    buf = '';
  });
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/** Sends a signal to a runtime's whole process group, or to another child itself. */
function signalChild(c: Child, sig: NodeJS.Signals): void {
  const pid = c.proc?.pid;
  if (pid === undefined) return;
  if (c.spec.kind === 'runtime') killGroup(pid, sig);
  else c.proc?.kill(sig);
}

/** Whether something accepts connections at host:port now. */
function isListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export class Supervisor {
  private readonly children: Child[];
  private readonly o: SupervisorOptions;
  private stopping = false;

  constructor(o: SupervisorOptions) {
    this.o = o;
    this.children = o.children.map((spec) => ({ spec, proc: null, restarts: [], stderrTail: [], timer: null }));
    // A rig that exits any other way (a crash) takes its servers' groups along: they are
    // detached from it, so nothing else would.
    process.on('exit', () => {
      for (const c of this.children) if (c.spec.kind === 'runtime') signalChild(c, 'SIGKILL');
    });
  }

  /**
   * Starts the servers, waits up to `waitMs` for them to listen, then starts the rest. Their
   * ports were found free just before (main.ts refuses to start otherwise: portCheck.ts).
   */
  async start(waitMs: number): Promise<void> {
    const runtimes = this.children.filter((c) => c.spec.kind === 'runtime');
    for (const c of runtimes) this.launch(c);
    await this.waitListening(runtimes, waitMs);
    if (this.stopping) return;
    for (const c of this.children) if (c.spec.kind !== 'runtime') this.launch(c);
  }

  private launch(c: Child): void {
    const p = c.spec.program;
    c.stderrTail = [];
    // buffer: false: the output is read from the streams; a server logging for weeks must not pile up in memory.
    const proc =
      p.type === 'node'
        ? execa(process.execPath, [...nodeArgsFor(p.entry), ...p.args], { reject: false, buffer: false, stdin: 'ignore', cleanup: true, detached: c.spec.kind === 'runtime', env: { ...process.env, RIG_SHARED: this.o.shared } })
        : execa(p.file, p.args, { reject: false, buffer: false, stdin: 'ignore', detached: true, env: { ...process.env, ...p.env } });
    c.proc = proc;
    prefixLines(c.spec.name, proc.stdout, process.stdout);
    prefixLines(c.spec.name, proc.stderr, process.stderr, c.stderrTail);
    if (c.spec.kind === 'runtime' && proc.pid !== undefined) {
      const env = p.type === 'exec' ? Object.entries(p.env).map(([k, v]) => `${k}=${v}`).join(' ') : '';
      const command = p.type === 'exec' ? describeCommand(p.file, p.args) : `${p.entry} ${p.args.join(' ')}`;
      this.o.log(`${childTitle(c.spec)} started, pid ${proc.pid}: ${env ? `${env} ` : ''}${command}`);
    }
    void proc.then((res) => this.onExit(c, proc, res));
  }

  private async onExit(c: Child, proc: ResultPromise, res: Awaited<ResultPromise>): Promise<void> {
    c.proc = null;
    // Whatever a dead server left in its group (runners holding GPU memory or its port) goes before the next one starts.
    if (c.spec.kind === 'runtime' && proc.pid !== undefined) killGroup(proc.pid, 'SIGKILL');
    const exit: ChildExit = { exitCode: res.exitCode, signal: res.signal, spawnError: res.exitCode === undefined && res.signal === undefined ? (res.code ?? 'unknown error') : undefined, stderrTail: c.stderrTail };
    const action = decideExit(c.spec, exit, c.restarts, Date.now(), this.stopping);
    if (action.do === 'nothing') return;
    if (action.do === 'note') {
      this.o.log(action.log);
      return;
    }
    if (action.do === 'give_up') {
      process.stderr.write(`\n!!! ${action.reason}\n\n`);
      await this.o.decisions.write({ who: 'rig', what: 'GIVE_UP', reason: action.reason }).catch(() => {});
      return;
    }
    c.restarts.push(Date.now());
    await this.o.decisions.write({ who: 'rig', what: 'RESTART', reason: action.reason }).catch(() => {});
    this.o.log(action.log);
    c.timer = setTimeout(() => {
      c.timer = null;
      if (!this.stopping) this.launch(c);
    }, action.delayMs);
  }

  /** Until each server listens, has ended, or `waitMs` passed; says which were not listening yet. */
  private async waitListening(runtimes: Child[], waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    let waiting = runtimes.filter((c) => c.spec.listen);
    while (waiting.length && Date.now() < deadline && !this.stopping) {
      const listening = await Promise.all(waiting.map((c) => isListening(c.spec.listen!.host, c.spec.listen!.port)));
      waiting = waiting.filter((c, i) => !listening[i] && c.proc !== null);
      if (waiting.length) await new Promise((r) => setTimeout(r, 100));
    }
    for (const c of waiting) {
      this.o.log(`${childTitle(c.spec)} not listening on ${c.spec.listen!.host}:${c.spec.listen!.port} after ${Math.round(waitMs / 1000)} s; starting its agent anyway (it finds the server once it answers)`);
    }
  }

  /** Agents and the brain first, then the servers: SIGTERM, SIGKILL after 10 s. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const c of this.children) if (c.timer) clearTimeout(c.timer);
    await this.stopGroup(this.children.filter((c) => c.spec.kind !== 'runtime'));
    await this.stopGroup(this.children.filter((c) => c.spec.kind === 'runtime'));
  }

  private async stopGroup(group: Child[]): Promise<void> {
    const live = group.filter((c) => c.proc);
    const running = live.map((c) => c.proc);
    for (const c of live) signalChild(c, 'SIGTERM');
    const force = setTimeout(() => {
      for (const c of live) signalChild(c, 'SIGKILL');
    }, STOP_GRACE_MS);
    await Promise.all(running);
    clearTimeout(force);
  }

  get names(): string[] {
    return this.children.map((c) => c.spec.name);
  }
}
