// forge metrics [--listen PORT] [--shared DIR]: the rig's Prometheus metrics, from the files
// the brain and the agents write in metrics/ on the mount (agents/core/metricsFiles.ts).
// Without --listen, prints them once; with it, serves them on 127.0.0.1 for a Prometheus
// without node_exporter, reading the files again on every request.
import { createServer } from 'node:http';
import { parseCommand, runCommand, usageError, writeStdout } from '../agents/core/args.ts';
import { assembleMetrics, readMetricsFiles } from '../agents/core/metricsFiles.ts';
import { mountPaths } from '../agents/core/paths.ts';

const USAGE = `usage: forge metrics [--listen PORT] [--shared DIR]
  --listen PORT  serve GET /metrics on 127.0.0.1:PORT until SIGINT or SIGTERM
  --shared DIR   the shared mount (default: $RIG_SHARED, else ./shared)
  -h, --help     print this help and exit

Prints the Prometheus text of metrics/*.prom on the mount (the brain's and each agent's),
joined into one exposition, with forge_metrics_file_age_seconds for each file.`;

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

runCommand(async () => {
  const { values, shared } = parseCommand(USAGE, { listen: { type: 'string' } }, process.argv.slice(2), { positionals: { max: 0 } });
  const paths = mountPaths(shared);
  const collect = async () => {
    const { files, skipped } = await readMetricsFiles(paths, Date.now());
    for (const s of skipped) process.stderr.write(`forge metrics: skipped metrics/${s}\n`);
    return assembleMetrics(files);
  };
  if (values.listen === undefined) {
    writeStdout(await collect());
    return;
  }
  const port = Number(values.listen);
  if (!/^\d+$/.test(values.listen) || port < 1 || port > 65535) usageError(USAGE, `--listen: expected a port from 1 to 65535, e.g. --listen 9464; got '${values.listen}'`);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET /metrics\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    collect().then(
      (text) => res.writeHead(200, { 'content-type': CONTENT_TYPE }).end(req.method === 'HEAD' ? undefined : text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics not readable: ${String(err)}\n`),
    );
  });
  await new Promise<void>((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'it is in use by another process; choose another --listen PORT' : err.code === 'EACCES' ? 'permission denied' : err.message;
      process.stderr.write(`forge metrics: cannot listen on 127.0.0.1:${port}: ${why}\n`);
      process.exit(1);
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
  process.stderr.write(`forge metrics: serving ${paths.metrics} at http://127.0.0.1:${port}/metrics\n`);
  const stop = (sig: string) => {
    process.stderr.write(`forge metrics: ${sig}, stopping\n`);
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
});
