// The harness side of admin.ts: HTTP over the workload's unix socket or TCP port (same address syntax as --admin).
import http from 'node:http';
import { parseAdminAddress } from './admin-address.js';
import type { WorkloadMetrics } from './metrics-types.js';

export class AdminRequestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'AdminRequestError';
  }
}

export interface AdminResponse {
  status: number;
  body: string;
}

/** One HTTP request to a workload's admin endpoint. Resolves for every HTTP status; rejects on I/O errors/timeouts. */
export function adminRequest(admin: string, method: string, path: string, body?: unknown, timeoutMs = 5000): Promise<AdminResponse> {
  const a = parseAdminAddress(admin);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const target = a.kind === 'unix' ? { socketPath: a.path } : { host: a.host ?? '127.0.0.1', port: a.port };
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        ...target,
        method,
        path,
        agent: false,
        timeout: timeoutMs,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new AdminRequestError(`${method} ${path} on ${admin}: no answer within ${timeoutMs} ms`)));
    req.on('error', (e) =>
      reject(e instanceof AdminRequestError ? e : new AdminRequestError(`${method} ${path} on ${admin}: ${e.message}`)),
    );
    req.end(payload);
  });
}

function parseBody(r: AdminResponse): unknown {
  try {
    return r.body ? JSON.parse(r.body) : undefined;
  } catch {
    return r.body;
  }
}

/** GET /metrics.json: the workload's prom-client registry as JSON. */
export async function fetchMetrics(admin: string, timeoutMs = 5000): Promise<WorkloadMetrics> {
  const r = await adminRequest(admin, 'GET', '/metrics.json', undefined, timeoutMs);
  if (r.status !== 200) throw new AdminRequestError(`GET /metrics.json on ${admin}: HTTP ${r.status}: ${r.body.slice(0, 200)}`, r.status);
  return JSON.parse(r.body) as WorkloadMetrics;
}

/** POST a JSON body to a control route (e.g. /backends). Returns the parsed JSON answer; throws AdminRequestError
 * (with .status and the workload's {error} message) on a non-2xx answer. */
export async function postControl(admin: string, path: string, body: unknown, timeoutMs = 5000): Promise<unknown> {
  const r = await adminRequest(admin, 'POST', path, body, timeoutMs);
  const parsed = parseBody(r);
  if (r.status < 200 || r.status > 299) {
    const msg = (parsed as { error?: string } | undefined)?.error ?? r.body.slice(0, 200);
    throw new AdminRequestError(`POST ${path} on ${admin}: HTTP ${r.status}: ${msg}`, r.status, parsed);
  }
  return parsed;
}

/** GET /healthz: true when the workload answers 200. */
export async function isHealthy(admin: string, timeoutMs = 2000): Promise<boolean> {
  try {
    return (await adminRequest(admin, 'GET', '/healthz', undefined, timeoutMs)).status === 200;
  } catch {
    return false;
  }
}
