// The lab's wrapper around a custom client (workloads.client.command, docs/client-contract.md). The lab starts it
// like a workload (root, in the client pod's network namespace, `--admin unix:...` first); it runs the client's
// command as an unprivileged user and answers the harness on the admin socket as the Alerting Engine would:
//   GET /healthz, GET /metrics.json (the client's Prometheus endpoint, scraped from inside the pod's namespace;
//   404 without --metrics-port), POST /backends (rewrites the targets file after --propagation-seconds, atomic
//   rename), POST /stop-load (kills the client, the guard stays: a stop is not a dead workload).
// Bounded in time three ways: --max-seconds; the dead-man lease (--lease-file older than --lease-seconds, or gone:
// the harness is dead or tore the variant down); and the client is started with setpriv --pdeathsig KILL, so a
// guard killed with SIGKILL takes it along. The client exiting by itself ends the guard with its code (the harness
// sees a dead workload).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { parseAdminAddress } from '../../workloads/common/admin-address.js';
import { repoRoot } from '../paths.js';
import { CLIENT_PATH, setprivArgv, targetsFileOf, writeTargets } from './client.js';
import { parsePromText } from './prom-text.js';

function main(): void {
  const { values: o, positionals: command } = parseArgs({
    allowPositionals: true,
    options: {
      admin: { type: 'string' },
      instance: { type: 'string', default: '0' },
      user: { type: 'string', default: 'nobody' },
      'max-seconds': { type: 'string' },
      'lease-file': { type: 'string' },
      'lease-seconds': { type: 'string', default: '5' },
      'targets-dir': { type: 'string' },
      backends: { type: 'string', default: '' },
      'propagation-seconds': { type: 'string', default: '0' },
      'metrics-port': { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
    },
  });
  const maxSeconds = Number(o['max-seconds']);
  if (!o.admin || !o['targets-dir'] || !(maxSeconds > 0) || command.length === 0) {
    process.stderr.write(
      'usage: client-guard --admin unix:PATH --targets-dir DIR --max-seconds S [--instance N] [--user U] [--lease-file F --lease-seconds S] [--backends IP:PORT,...] [--propagation-seconds S] [--metrics-port P] [--env K=V]... -- COMMAND...\n',
    );
    process.exit(2);
  }
  if (o.user === 'root') {
    process.stderr.write('client-guard: the client never runs as root\n');
    process.exit(2);
  }
  const instance = Number(o.instance);
  const say = (event: string, fields: Record<string, unknown> = {}) =>
    process.stderr.write(`${JSON.stringify({ ts: new Date().toISOString(), src: 'client-guard', event, ...fields })}\n`);
  const targets = targetsFileOf(o['targets-dir'], instance);
  writeTargets(
    targets,
    o.backends
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const env: Record<string, string> = {
    PATH: CLIENT_PATH,
    HOME: '/nonexistent',
    LANG: 'C.UTF-8',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
    NOTDNS_TARGETS: targets,
    NOTDNS_INSTANCE: String(instance),
  };
  for (const kv of o.env) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const gid = Number(execFileSync('id', ['-g', o.user], { encoding: 'utf8' }).trim());
  const child: ChildProcess = spawn('setpriv', setprivArgv(o.user, gid, command), {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true, // its own process group: a stop kills whatever the client started too
  });
  say('started', { pid: child.pid, user: o.user, command, targets });
  let ending = false;
  const killChild = async (why: string): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
    say('stopping-client', { why });
    const group = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* gone */
      }
    };
    group('SIGTERM');
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const t = setTimeout(() => group('SIGKILL'), 2000);
    await exited;
    clearTimeout(t);
  };
  const end = (why: string, code = 0) => {
    if (ending) return;
    ending = true;
    void killChild(why).then(() => {
      say('exit', { why, code });
      process.exit(code);
    });
  };
  let loadStopped = false;
  child.on('exit', (code, signal) => {
    if (ending || loadStopped) return;
    say('client-exited', { code, signal });
    ending = true;
    process.exit(code ?? 128 + 9);
  });
  child.on('error', (e) => {
    say('client-failed-to-start', { error: e.message });
    process.exit(127);
  });
  process.on('SIGTERM', () => end('SIGTERM'));
  process.on('SIGINT', () => end('SIGINT'));
  setTimeout(() => end(`max duration ${maxSeconds}s reached`), maxSeconds * 1000).unref();
  const leaseFile = o['lease-file'];
  const leaseMs = Number(o['lease-seconds']) * 1000;
  if (leaseFile) {
    setInterval(() => {
      let age: number;
      try {
        age = Date.now() - statSync(leaseFile).mtimeMs;
      } catch {
        return end('the lease file is gone (the harness tore the variant down)');
      }
      if (age > leaseMs) end(`the lease is ${Math.round(age)} ms old: the harness is gone or stuck`);
    }, 500).unref();
  }

  const pending = new Set<NodeJS.Timeout>();
  const metricsPort = o['metrics-port'] ? Number(o['metrics-port']) : undefined;
  const propagationMs = Number(o['propagation-seconds']) * 1000;
  const reply = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const route = `${req.method} ${req.url}`;
      if (route === 'GET /healthz') return reply(res, 200, 'ok');
      if (route === 'GET /metrics.json') {
        if (!metricsPort) return reply(res, 404, { error: 'custom client exposes no metrics (workloads.client has no metricsPort)' });
        const r = http.get({ host: '127.0.0.1', port: metricsPort, path: '/metrics', timeout: 2000, agent: false }, (m) => {
          const body: Buffer[] = [];
          m.on('data', (c: Buffer) => body.push(c));
          m.on('end', () =>
            m.statusCode === 200
              ? reply(res, 200, parsePromText(Buffer.concat(body).toString('utf8')))
              : reply(res, 502, { error: `client /metrics: HTTP ${m.statusCode}` }),
          );
        });
        r.on('timeout', () => r.destroy(new Error('no answer in 2 s')));
        r.on('error', (e) => reply(res, 502, { error: `client /metrics: ${e.message}` }));
        return;
      }
      if (route === 'POST /backends') {
        let backends: string[];
        try {
          backends = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { backends: string[] }).backends;
          if (!Array.isArray(backends) || !backends.every((b) => typeof b === 'string' && /^[\d.]+:\d+$/.test(b))) throw new Error();
        } catch {
          return reply(res, 400, { error: 'body must be {"backends": ["IP:PORT", ...]}' });
        }
        if (loadStopped) return reply(res, 409, { error: 'the load was stopped (POST /stop-load)' });
        // like the Alerting Engine (and external-dns + Route 53): the new set is seen after the propagation delay
        const t = setTimeout(() => {
          pending.delete(t);
          writeTargets(targets, backends);
          say('targets-updated', { backends });
        }, propagationMs);
        pending.add(t);
        return reply(res, 202, { backends, effectiveInMs: propagationMs });
      }
      if (route === 'POST /stop-load') {
        loadStopped = true;
        for (const t of pending) clearTimeout(t);
        void killChild('POST /stop-load').then(() => reply(res, 200, { stopped: true }));
        return;
      }
      reply(res, 404, { error: `no route ${route}` });
    });
  });
  const a = parseAdminAddress(o.admin);
  if (a.kind !== 'unix') {
    say('bad-admin', { admin: o.admin });
    process.exit(2);
  }
  rmSync(a.path, { force: true }); // a socket left by an earlier guard of the same name
  server.listen(a.path, () => say('admin-listening', { admin: o.admin }));
}

main();
