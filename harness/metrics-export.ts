// `notdns run --metrics-listen ADDR`: every live series of the run as Prometheus text, on an address the user names
// (loopback by default), for a Prometheus next to the run (and the Grafana dashboard manifests/grafana/notdns.json).
//  - One metric per catalog probe, named by metricName(): notdns_<probe id in snake case>, `_total` for counters.
//  - Labels: experiment, run, variant, probe (the catalog id), target (node, pod or `all`).
//  - notdns_stop_condition_tripped{experiment,run,variant}: 1 once a stop condition tripped or `notdns stop` stopped
//    the variant, else 0.
//  - The recorder hands every sample to sample() (its `sink`); the server answers from the latest values, so a
//    scrape never waits for a sample. close() stops listening (the run's end).
// docs/prometheus.md documents the names and the address forms.
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { NotdnsError } from './errors.js';
import { CATALOG, probeDef } from './probes/catalog.js';

/** The Prometheus name of a probe: notdns_syn_to_old_pod_ips_total (counter), notdns_ct_count (gauge). */
export function metricName(probe: string): string {
  const def = probeDef(probe);
  if (!def) throw new Error(`no probe ${probe} in the catalog`);
  const base = probe
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toLowerCase();
  return `notdns_${base}${def.kind === 'counter' ? '_total' : ''}`;
}

export const STOP_METRIC = 'notdns_stop_condition_tripped';

/** Every metric name notdns exports (the catalog's, then the stop-condition state). */
export function exportedMetricNames(): string[] {
  return [...CATALOG.map((p) => metricName(p.id)), STOP_METRIC];
}

const LABELS = ['experiment', 'run', 'variant', 'probe', 'target'] as const;

export interface ListenAddress {
  host: string;
  port: number;
}

/** `127.0.0.1:9464`, `[::1]:9464`, `:0` (loopback, any free port), `9464`. A host must be an IP literal. */
export function parseListen(s: string): ListenAddress {
  const bad = (why: string) =>
    new NotdnsError(`--metrics-listen ${JSON.stringify(s)}: ${why}`, {
      kind: 'usage',
      hint: 'Give HOST:PORT with an IP literal, e.g. --metrics-listen 127.0.0.1:9464, or :0 for a free loopback port (printed at the start).',
    });
  const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^[\]:]*)):)?(\d{1,5})$/.exec(s.trim());
  if (!m) throw bad('not HOST:PORT');
  const host = m[1] ?? (m[2] || '127.0.0.1');
  const port = Number(m[3]);
  if (!isIP(host)) throw bad(`"${host}" is not an IP address (no names: notdns listens only where you say)`);
  if (port > 65535) throw bad('the port must be at most 65535');
  return { host, port };
}

export class MetricsExporter {
  readonly registry = new Registry();
  /** probe → series key → the latest point (a scrape of one metric reads only its probe's series). */
  private readonly latest = new Map<string, Map<string, { labels: Record<string, string>; value: number }>>();
  private readonly stopped = new Map<string, boolean>();
  private server?: Server;
  private readonly experiment: string;
  /** Scrapes answered (for the run's log). */
  scrapes = 0;

  constructor(opts: { experiment: string }) {
    this.experiment = opts.experiment;
    const self = this;
    for (const p of CATALOG) {
      const name = metricName(p.id);
      const collect = function (this: Counter | Gauge) {
        this.reset();
        for (const { labels, value } of self.latest.get(p.id)?.values() ?? []) {
          if (this instanceof Counter) this.inc(labels, Math.max(0, value));
          else (this as Gauge).set(labels, value);
        }
      };
      const cfg = { name, help: `${p.label} (${p.unit}); notdns probe ${p.id}`, labelNames: LABELS, registers: [this.registry], collect };
      if (p.kind === 'counter') new Counter(cfg);
      else new Gauge(cfg);
    }
    new Gauge({
      name: STOP_METRIC,
      help: 'notdns: 1 once a stop condition tripped (or `notdns stop`) in this variant, else 0',
      labelNames: ['experiment', 'run', 'variant'] as const,
      registers: [this.registry],
      collect(this: Gauge) {
        this.reset();
        for (const [k, v] of self.stopped) {
          const [run, variant] = k.split('|') as [string, string];
          this.set({ experiment: self.experiment, run, variant }, v ? 1 : 0);
        }
      },
    });
  }

  /** One sample of one series (the recorder's sink): the latest value is what a scrape sees. */
  sample(run: string, variant: string, probe: string, target: string, value: number): void {
    let byKey = this.latest.get(probe);
    if (!byKey) {
      byKey = new Map();
      this.latest.set(probe, byKey);
    }
    const k = `${run}|${variant}|${target}`;
    const cur = byKey.get(k);
    if (cur) cur.value = value;
    else byKey.set(k, { labels: { experiment: this.experiment, run, variant, probe, target }, value });
  }

  /** The variant started (0) or was stopped (1). */
  setStopped(run: string, variant: string, tripped: boolean): void {
    this.stopped.set(`${run}|${variant}`, tripped);
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** Listen; resolves with the bound address (port 0 → the one the kernel chose). */
  async listen(addr: ListenAddress): Promise<ListenAddress> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || !(req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('notdns: only GET /metrics\n');
        return;
      }
      this.metrics().then(
        (body) => {
          this.scrapes++;
          res.writeHead(200, { 'content-type': this.registry.contentType }).end(body);
        },
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new NotdnsError(`--metrics-listen ${addr.host}:${addr.port}: ${e.code ?? e.message}`, {
            kind: 'environment',
            cause: e,
            hint: 'Another process may hold that port: choose another, or :0 for a free one.',
          }),
        ),
      );
      server.listen(addr.port, addr.host, () => resolve());
    });
    this.server = server;
    const a = server.address();
    return { host: addr.host, port: typeof a === 'object' && a ? a.port : addr.port };
  }

  /** Stop listening and drop open connections: nothing is left listening after the run. */
  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}
