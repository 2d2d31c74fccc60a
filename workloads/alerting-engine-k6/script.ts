// A second, optional load source against the Metrics Service: k6's gRPC client calling notdns.v1.Metrics/Query.
// k6 >= 0.57 runs TypeScript directly:  k6 run workloads/alerting-engine-k6/script.ts  (see README.md).
// The flood in the experiments comes from the grpc-js Alerting Engine: k6 has no reconnect-backoff setting, so
// this script cannot reproduce the talk's 100–300 ms backoff; it reconnects at most once per iteration.
import grpc from 'k6/net/grpc';
import { check, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';

/** host:port of the Metrics Service (a headless Service name resolves to one pod IP per connect). */
const TARGET: string = __ENV.TARGET || '127.0.0.1:50051';
/** Folder holding metrics.proto (the Job mounts it at /scripts). */
const PROTO_DIR: string = __ENV.PROTO_DIR || '../proto';
const VUS: number = Number(__ENV.VUS || '10');
const DURATION: string = __ENV.DURATION || '30s';
/** Pause between calls of one VU, in seconds. */
const INTERVAL_S: number = Number(__ENV.INTERVAL_S || '0.1');
/** QueryRequest.delay_ms: long calls keep old pods busy during their graceful stop. */
const DELAY_MS: number = Number(__ENV.DELAY_MS || '0');
const CALL_TIMEOUT: string = __ENV.CALL_TIMEOUT || '2s';
const CONNECT_TIMEOUT: string = __ENV.CONNECT_TIMEOUT || '2s';

export const options: Options = {
  scenarios: {
    query: { executor: 'constant-vus', vus: VUS, duration: DURATION, gracefulStop: '5s' },
  },
  // a rollout makes calls fail for a moment; the run itself only fails when almost nothing worked
  thresholds: { checks: ['rate>0.5'] },
};

const client = new grpc.Client();
client.load([PROTO_DIR], 'metrics.proto');

const connects = new Counter('notdns_k6_connects');
const connectErrors = new Counter('notdns_k6_connect_errors');
const callErrors = new Counter('notdns_k6_call_errors');
const answeredBy = new Counter('notdns_k6_answers');
const latency = new Trend('notdns_k6_query_ms', true);

interface QueryResponse {
  result: string;
  serverId: string;
}

let connected = false;

function connect(): boolean {
  try {
    client.connect(TARGET, { plaintext: true, timeout: CONNECT_TIMEOUT });
    connects.add(1);
    connected = true;
  } catch (e) {
    connectErrors.add(1, { error: String(e).slice(0, 80) });
    connected = false;
  }
  return connected;
}

export default function (): void {
  if (!connected && !connect()) {
    sleep(INTERVAL_S);
    return;
  }
  const t0 = Date.now();
  const res = client.invoke(
    'notdns.v1.Metrics/Query',
    { query: 'up', delay_ms: DELAY_MS, client_id: `k6/${__VU}/${__ITER}` },
    { timeout: CALL_TIMEOUT },
  );
  latency.add(Date.now() - t0);
  const ok = check(res, { 'status is OK': (r) => !!r && r.status === grpc.StatusOK });
  if (ok) {
    const msg = res.message as QueryResponse | null;
    answeredBy.add(1, { server: msg?.serverId ?? 'unknown' });
  } else {
    callErrors.add(1, { status: String(res?.status ?? 'none') });
    // GOAWAY / RST from a stopping pod: drop the connection and dial again next iteration (no backoff knob)
    if (res?.status === grpc.StatusUnavailable) {
      client.close();
      connected = false;
    }
  }
  sleep(INTERVAL_S);
}

export function teardown(): void {
  client.close();
}
