// Every TCP connect of this process goes through net.connect (grpc-js's Http2SubchannelConnector calls it for each
// attempt), so wrapping it gives, per attempt:
//  - a count (ae_connect_attempts_total): one socket = one source port = one new flow;
//  - the safety net: a destination outside --allow-cidr never gets a SYN (the attempt fails at once);
//  - a per-attempt connect deadline (--connect-timeout-ms), which grpc-js lacks. C-core has one (attempt deadline =
//    max(min connect timeout, backoff)); without it a SYN into a black hole lives for the kernel's SYN retries
//    (~130 s, same 5-tuple = no new flow). The socket is destroyed, grpc-js sees a failed attempt, its subchannel
//    backs off and reconnects on a NEW socket - exactly a C-core subchannel's behaviour.
// Why not close and replace the channel instead: grpc-js's channel.close() does not abort a pending TCP connect (the
// SYN_SENT socket keeps retransmitting for ~130 s and holds its port), and pick_first's sticky TRANSIENT_FAILURE hides
// a reconnect's CONNECTING phase from the channel state, so a channel-level timer misses the case that matters
// (graceful stop, then the pod IP turns into a black hole).
import net from 'node:net';
import type { ConnectErrorKind } from './metrics.js';

export interface ConnectGuardHooks {
  /** 0 = no deadline (grpc-js behaviour). */
  timeoutMs: number;
  /** Destination policy; a refused destination gets no packet at all. */
  allowed: (host: string) => boolean;
  onAttempt: () => void;
  onTimeout: () => void;
  onError: (kind: ConnectErrorKind) => void;
}

interface Pending {
  startedAt: number;
  key: string;
}

type ConnectFn = (...args: unknown[]) => net.Socket;

const CODES: Record<string, ConnectErrorKind> = {
  ECONNREFUSED: 'refused',
  ETIMEDOUT: 'timeout',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  NOTDNS_CONNECT_TIMEOUT: 'connect_timeout',
  NOTDNS_NOT_ALLOWED: 'not_allowed',
  NOTDNS_BACKEND_REMOVED: 'backend_removed',
};

let installed: ConnectGuard | undefined;

export class ConnectGuard {
  /** Sockets still connecting, in start order (Map keeps insertion order), so a sweep stops at the first young one. */
  private readonly pending = new Map<net.Socket, Pending>();

  constructor(private readonly hooks: ConnectGuardHooks) {}

  /** Wrap net.connect (once per process). */
  install(): void {
    if (installed) throw new Error('a ConnectGuard is already installed in this process');
    installed = this;
    const mod = net as unknown as { connect: ConnectFn };
    const orig = mod.connect;
    mod.connect = (...args: unknown[]) => this.connect(orig, args);
  }

  get inProgress(): number {
    return this.pending.size;
  }

  /** Destroy attempts older than the deadline. Cheap: stops at the first attempt that is still young. */
  sweep(now = performance.now()): void {
    const t = this.hooks.timeoutMs;
    if (t <= 0) return;
    for (const [socket, p] of this.pending) {
      if (now - p.startedAt < t) break;
      this.hooks.onTimeout();
      this.fail(socket, 'NOTDNS_CONNECT_TIMEOUT', `connect to ${p.key} timed out after ${t} ms (--connect-timeout-ms)`);
    }
  }

  /** Abort attempts to a backend that left the set (its channels are closed; grpc-js would leave them running). */
  abortTo(key: string): void {
    for (const [socket, p] of this.pending) {
      if (p.key === key) this.fail(socket, 'NOTDNS_BACKEND_REMOVED', `backend ${key} removed`);
    }
  }

  abortAll(): void {
    for (const socket of this.pending.keys()) this.fail(socket, 'NOTDNS_BACKEND_REMOVED', 'shutting down');
  }

  private connect(orig: ConnectFn, args: unknown[]): net.Socket {
    const { host, port } = destination(args);
    this.hooks.onAttempt();
    if (host !== undefined && !this.hooks.allowed(host)) {
      const s = new net.Socket();
      process.nextTick(() => {
        this.hooks.onError('not_allowed');
        s.destroy(codeError('NOTDNS_NOT_ALLOWED', `refusing to connect to ${host}:${port}: outside --allow-cidr`));
      });
      return s;
    }
    const socket = orig.apply(net, args);
    if (host === undefined) return socket; // unix socket: not a network flow
    this.pending.set(socket, { startedAt: performance.now(), key: `${host}:${port}` });
    socket.once('connect', () => this.pending.delete(socket));
    socket.once('error', (e: NodeJS.ErrnoException) => {
      if (this.pending.delete(socket)) this.hooks.onError(CODES[e.code ?? ''] ?? 'other');
    });
    socket.once('close', () => this.pending.delete(socket));
    return socket;
  }

  private fail(socket: net.Socket, code: string, message: string): void {
    // Counted here: the 'error' event comes later and finds the socket no longer pending.
    if (this.pending.delete(socket)) this.hooks.onError(CODES[code]);
    socket.destroy(codeError(code, message));
  }
}

function codeError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/** The destination of a net.connect call: (options) or (port, host); undefined host for unix sockets. */
function destination(args: unknown[]): { host?: string; port?: number } {
  const a0 = args[0];
  if (a0 !== null && typeof a0 === 'object') {
    const o = a0 as { host?: string; port?: number | string; path?: string };
    if (o.path !== undefined) return {};
    return { host: o.host ?? 'localhost', port: Number(o.port) };
  }
  if (typeof a0 === 'number' || (typeof a0 === 'string' && /^\d+$/.test(a0))) {
    return { host: typeof args[1] === 'string' ? args[1] : 'localhost', port: Number(a0) };
  }
  return {};
}
