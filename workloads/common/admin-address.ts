// The one syntax for a workload's admin endpoint, shared by the server (--admin) and the harness's client:
//   unix:/abs/path.sock   HTTP over a unix socket (reachable from the host even when the workload runs in a netns)
//   tcp:PORT              listen on 0.0.0.0:PORT (a client connects to 127.0.0.1:PORT)
//   tcp:HOST:PORT         listen on / connect to HOST:PORT
import { isAbsolute } from 'node:path';
import { isIP } from 'node:net';

export type AdminAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host?: string; port: number };

export const ADMIN_ADDRESS_FORM = 'unix:/absolute/path.sock, tcp:PORT or tcp:HOST:PORT';

export function parseAdminAddress(s: string): AdminAddress {
  if (s.startsWith('unix:')) {
    const path = s.slice(5);
    if (!isAbsolute(path)) throw new Error(`expected ${ADMIN_ADDRESS_FORM}; "${s}" has a relative socket path`);
    return { kind: 'unix', path };
  }
  if (s.startsWith('tcp:')) {
    const rest = s.slice(4);
    const m = /^(?:(.+):)?(\d{1,5})$/.exec(rest);
    const port = m ? Number(m[2]) : NaN;
    const host = m?.[1]?.replace(/^\[(.*)\]$/, '$1');
    if (!m || port < 1 || port > 65535 || (host !== undefined && host !== 'localhost' && !isIP(host))) {
      throw new Error(`expected ${ADMIN_ADDRESS_FORM}, got "${s}"`);
    }
    return host === undefined ? { kind: 'tcp', port } : { kind: 'tcp', host, port };
  }
  throw new Error(`expected ${ADMIN_ADDRESS_FORM}, got "${s}"`);
}

export function formatAdminAddress(a: AdminAddress): string {
  return a.kind === 'unix' ? `unix:${a.path}` : a.host ? `tcp:${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}` : `tcp:${a.port}`;
}
