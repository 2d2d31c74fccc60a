// A workload's admin HTTP server (node:http) on a unix socket or a TCP port (see admin-address.ts):
//   GET /metrics        Prometheus text format of the workload's prom-client registry
//   GET /metrics.json   registry.getMetricsAsJSON() (WorkloadMetrics in metrics-types.ts)
//   GET /healthz        200 "ok" while the workload serves, 503 "not serving" otherwise
// plus routes a workload adds with route() (JSON in, JSON out; a handler throws HttpError for 4xx).
import http from 'node:http';
import { lstatSync, unlinkSync } from 'node:fs';
import type { Registry } from 'prom-client';
import { parseAdminAddress, formatAdminAddress, type AdminAddress } from './admin-address.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface RouteResult {
  status?: number;
  body: unknown;
}
export type RouteHandler = (body: unknown) => Promise<RouteResult> | RouteResult;

const MAX_BODY = 1 << 20;

export class AdminServer {
  private readonly server: http.Server;
  private readonly routes = new Map<string, RouteHandler>();
  private readonly address: AdminAddress;
  private serving: () => boolean = () => true;
  private socketPath?: string;
  private readonly onExit = () => this.unlinkSocket();

  constructor(
    address: string,
    private readonly registry: Registry,
  ) {
    this.address = parseAdminAddress(address);
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 1000;
  }

  /** What GET /healthz reports. */
  setServing(fn: () => boolean): void {
    this.serving = fn;
  }

  /** Add a route, e.g. route('POST', '/backends', handler). The body is parsed as JSON (undefined when empty). */
  route(method: 'GET' | 'POST', path: string, handler: RouteHandler): void {
    this.routes.set(`${method} ${path}`, handler);
  }

  async listen(): Promise<string> {
    const a = this.address;
    if (a.kind === 'unix') {
      removeStaleSocket(a.path);
      this.socketPath = a.path;
      process.once('exit', this.onExit);
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      const done = () => {
        this.server.off('error', reject);
        resolve();
      };
      if (a.kind === 'unix') this.server.listen(a.path, done);
      else this.server.listen(a.port, a.host ?? '0.0.0.0', done);
    });
    return formatAdminAddress(a);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.unlinkSocket();
    process.off('exit', this.onExit);
  }

  private unlinkSocket(): void {
    if (!this.socketPath) return;
    try {
      unlinkSync(this.socketPath);
    } catch {
      /* already gone */
    }
    this.socketPath = undefined;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method === 'GET' && path === '/metrics') {
        return send(res, 200, await this.registry.metrics(), this.registry.contentType);
      }
      if (req.method === 'GET' && path === '/metrics.json') {
        return send(res, 200, JSON.stringify(await this.registry.getMetricsAsJSON()), 'application/json');
      }
      if (req.method === 'GET' && path === '/healthz') {
        const ok = this.serving();
        return send(res, ok ? 200 : 503, ok ? 'ok\n' : 'not serving\n', 'text/plain');
      }
      const handler = this.routes.get(`${req.method} ${path}`);
      if (!handler) {
        const known = [...this.routes.keys(), 'GET /metrics', 'GET /metrics.json', 'GET /healthz'];
        throw new HttpError(404, `no route ${req.method} ${path}; known: ${known.join(', ')}`);
      }
      const body = await readJson(req);
      const r = await handler(body);
      return send(res, r.status ?? 200, JSON.stringify(r.body), 'application/json');
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      return send(res, status, JSON.stringify({ error: (e as Error).message }), 'application/json');
    }
  }
}

function removeStaleSocket(path: string): void {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`--admin: ${path} exists and is not a socket; refusing to remove it`);
  unlinkSync(path);
}

function send(res: http.ServerResponse, status: number, body: string, type: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new HttpError(413, `request body larger than ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `request body is not JSON: ${(e as Error).message}`);
  }
}
