// The Metrics Service's gRPC server: Query + grpc.health.v1, and a graceful stop like grpc-go's GracefulStop.
import * as grpc from '@grpc/grpc-js';
import {
  loadProtos,
  METRICS_SERVICE,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type QueryRequest,
  type QueryResponse,
  type ServingStatus,
} from '../common/proto.js';
import type { EventLog } from '../common/cli.js';
import type { MsMetrics } from './metrics.js';

export interface ServerOptions {
  host: string;
  port: number;
  id: string;
  maxDelayMs: number;
}

type HealthStream = grpc.ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;

export class MetricsServer {
  private readonly server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  private serving = false;
  private inflight = 0;
  private readonly watchers = new Set<HealthStream>();

  constructor(
    private readonly opts: ServerOptions,
    private readonly m: MsMetrics,
    private readonly log: EventLog,
  ) {
    const p = loadProtos();
    this.server.addService(p.metricsService, { Query: this.query.bind(this) });
    this.server.addService(p.healthService, { Check: this.check.bind(this), Watch: this.watch.bind(this) });
    m.serving.set(0);
  }

  isServing(): boolean {
    return this.serving;
  }

  async listen(): Promise<number> {
    const addr = `${this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host}:${this.opts.port}`;
    const port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    this.setServing(true);
    this.log('listening', { address: addr, port, id: this.opts.id });
    return port;
  }

  /**
   * GracefulStop: tryShutdown() closes the listening socket (new connects get RST) and sends GOAWAY on every
   * connection; in-flight RPCs go on. After graceMs, forceShutdown() cancels what is left. With exitWhenDrained
   * the wait ends as soon as every RPC finished (grpc-go's behaviour); otherwise the process stays for the whole
   * grace period, like a pod whose long streams keep it terminating.
   */
  async gracefulStop(graceMs: number, exitWhenDrained: boolean): Promise<void> {
    this.setServing(false);
    this.log('tryShutdown', { inflight: this.inflight, graceMs });
    let drained = false;
    const drainedP = new Promise<void>((resolve) => {
      this.server.tryShutdown((err) => {
        drained = true;
        this.log('tryShutdown-done', { error: err?.message });
        resolve();
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await (exitWhenDrained ? Promise.race([drainedP, grace]) : grace);
    clearTimeout(timer);
    this.forceShutdown(drained);
  }

  forceShutdown(drained = false): void {
    this.setServing(false);
    this.log('forceShutdown', { drained, inflight: this.inflight });
    this.server.forceShutdown();
  }

  private setServing(on: boolean): void {
    this.serving = on;
    this.m.serving.set(on ? 1 : 0);
    const status: ServingStatus = on ? 'SERVING' : 'NOT_SERVING';
    for (const w of this.watchers) {
      w.write({ status: knownService(w.request.service) ? status : 'SERVICE_UNKNOWN' });
      // Watch streams would hold a graceful stop open until forceShutdown: end them once we stop serving.
      if (!on) w.end();
    }
    if (!on) this.watchers.clear();
  }

  private query(call: grpc.ServerUnaryCall<QueryRequest, QueryResponse>, cb: grpc.sendUnaryData<QueryResponse>): void {
    const delay = call.request.delay_ms ?? 0;
    if (delay > this.opts.maxDelayMs) {
      this.m.rpcs.inc({ code: 'INVALID_ARGUMENT' });
      cb({
        code: grpc.status.INVALID_ARGUMENT,
        details: `delay_ms ${delay} is above this server's --max-delay-ms ${this.opts.maxDelayMs}`,
      });
      return;
    }
    this.inflight++;
    this.m.inflight.inc();
    let finished = false;
    const finish = (code: string): boolean => {
      if (finished) return false;
      finished = true;
      this.inflight--;
      this.m.inflight.dec();
      this.m.rpcs.inc({ code });
      return true;
    };
    const answer = () => {
      if (finish('OK')) cb(null, { result: `ok ${call.request.query}`, server_id: this.opts.id });
    };
    if (delay <= 0) {
      answer();
      return;
    }
    const t = setTimeout(answer, delay);
    call.on('cancelled', () => {
      clearTimeout(t);
      finish('CANCELLED');
    });
  }

  private check(call: grpc.ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, cb: grpc.sendUnaryData<HealthCheckResponse>): void {
    if (!knownService(call.request.service)) {
      cb({ code: grpc.status.NOT_FOUND, details: `unknown service "${call.request.service}"` });
      return;
    }
    cb(null, { status: this.serving ? 'SERVING' : 'NOT_SERVING' });
  }

  private watch(call: HealthStream): void {
    const known = knownService(call.request.service);
    call.write({ status: !known ? 'SERVICE_UNKNOWN' : this.serving ? 'SERVING' : 'NOT_SERVING' });
    if (!this.serving) return void call.end();
    this.watchers.add(call);
    call.on('cancelled', () => this.watchers.delete(call));
  }
}

function knownService(s: string): boolean {
  return s === '' || s === METRICS_SERVICE;
}
