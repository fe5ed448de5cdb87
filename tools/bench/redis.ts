// A throw-away redis-server for the BullMQ peer: Debian's package, on a free loopback port,
// no persistence, stopped after. Absent redis-server is a normal outcome with a hint.
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { freePortRange } from '../harness/ports.ts';

export const REDIS_HINT = 'redis-server is not installed; on Debian/Ubuntu: apt-get update && apt-get install -y redis-server (the bench starts and stops its own server on loopback)';

export interface RedisServer {
  port: number;
  pid: number | null;
  version: string;
  stop(): Promise<void>;
}

export async function redisAvailable(): Promise<string | null> {
  const r = await execa('redis-server', ['--version'], { reject: false });
  return r.exitCode === 0 ? String(r.stdout).trim() : null;
}

export async function startRedis(): Promise<RedisServer> {
  const version = await redisAvailable();
  if (version === null) throw new Error(REDIS_HINT);
  const port = await freePortRange(1);
  const proc: ResultPromise = execa('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], {
    reject: false, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', cleanup: true,
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 10_000;
  while (!out.includes('Ready to accept connections')) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`redis-server did not start on 127.0.0.1:${port}: ${out.slice(-400)}`);
    }
    await sleep(20);
  }
  return {
    port,
    pid: proc.pid ?? null,
    version,
    stop: async () => {
      proc.kill('SIGTERM');
      const force = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await proc;
      clearTimeout(force);
    },
  };
}
