#!/usr/bin/python3
"""The C-core reference client: the talk's own stack (gRPC C-core, here through Debian's python3-grpcio 1.51).

Run by the lab as a custom client (docs/client-contract.md): it reads the backend set from $NOTDNS_TARGETS (one
IP:PORT per line, rewritten atomically by the harness when "DNS" changes) and opens, like the Alerting Engine's
per-backend discovery, $NOTDNS_CHANNELS_PER_BACKEND channels per backend IP, each `ipv4:IP:PORT` with
grpc.use_local_subchannel_pool=1 (its own subchannel, so its own TCP connection) and C-core's pick_first. Every
channel calls notdns.v1.Metrics/Query every $NOTDNS_CALL_INTERVAL_MS (random phase, one call in flight) with a
$NOTDNS_CALL_DEADLINE_MS deadline, fail-fast (no wait_for_ready), as the Alerting Engine does.

Reconnect options, the talk's three (unset = C-core's defaults: the talk's fix):
  grpc.min_reconnect_backoff_ms      = $NOTDNS_CONNECT_TIMEOUT_MS   (C-core: also the minimum connect deadline)
  grpc.initial_reconnect_backoff_ms  = $NOTDNS_RECONNECT_INITIAL_MS
  grpc.max_reconnect_backoff_ms      = $NOTDNS_RECONNECT_MAX_MS
C-core decides when to connect and reconnect; this script only makes calls.

With $NOTDNS_METRICS_PORT it serves Prometheus text on 0.0.0.0:PORT/metrics under the Alerting Engine's names:
ae_calls_total, ae_call_errors_total{code}, ae_call_latency_seconds{quantile} (last 10 s). No connect attempts and
no channel states: grpcio only shows them through channel.subscribe, whose polling thread per channel makes
close() wait up to 0.2 s per channel (measured: the removed channels of a rollout kept reconnecting for ~10 s
while the loop closed them one by one). The harness counts connect attempts exactly anyway (tcp.activeOpens).

No code generation: the request is encoded by hand (three proto3 fields) and the reply is not decoded.
Ends by itself after $NOTDNS_MAX_SECONDS; SIGTERM ends it at once.
"""
import os
import random
import signal
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc

METHOD = '/notdns.v1.Metrics/Query'


def env_int(name, default=None):
    v = os.environ.get(name)
    return int(v) if v not in (None, '') else default


def encode_query(query, delay_ms, client_id):
    """notdns.v1.QueryRequest {query = 1; delay_ms = 2; client_id = 3} in the proto3 wire format."""

    def varint(n):
        out = bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            if n:
                out.append(b | 0x80)
            else:
                out.append(b)
                return bytes(out)

    def string(field, s):
        b = s.encode()
        return bytes([(field << 3) | 2]) + varint(len(b)) + b

    msg = string(1, query)
    if delay_ms:
        msg += bytes([(2 << 3) | 0]) + varint(delay_ms)
    return msg + string(3, client_id)


def flag(name):
    """--name VALUE on the command line (the experiment's client command), else None."""
    argv = sys.argv[1:]
    return int(argv[argv.index(name) + 1]) if name in argv else None


def channel_options():
    """The talk's options when the variant sets them; none (C-core's defaults) otherwise. Command-line flags
    (--min-reconnect-backoff-ms, --initial-reconnect-backoff-ms, --max-reconnect-backoff-ms) override the
    environment: the talk's min (100 ms) is not one of the Alerting Engine's knobs."""
    opts = [('grpc.use_local_subchannel_pool', 1), ('grpc.enable_retries', 0)]
    timeout = flag('--min-reconnect-backoff-ms') or env_int('NOTDNS_CONNECT_TIMEOUT_MS')
    initial = flag('--initial-reconnect-backoff-ms') or env_int('NOTDNS_RECONNECT_INITIAL_MS')
    maximum = flag('--max-reconnect-backoff-ms') or env_int('NOTDNS_RECONNECT_MAX_MS')
    if timeout:
        opts.append(('grpc.min_reconnect_backoff_ms', timeout))
    if initial:
        opts.append(('grpc.initial_reconnect_backoff_ms', initial))
    if maximum:
        opts.append(('grpc.max_reconnect_backoff_ms', maximum))
    return opts


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = 0
        self.errors = {}
        self.latencies = deque()  # (monotonic time, seconds)

    def call_done(self, latency, code):
        now = time.monotonic()
        with self.lock:
            self.calls += 1
            if code is not None:
                self.errors[code] = self.errors.get(code, 0) + 1
            self.latencies.append((now, latency))
            while self.latencies and self.latencies[0][0] < now - 10:
                self.latencies.popleft()

    def prometheus(self):
        with self.lock:
            lat = sorted(x for _, x in self.latencies)
            out = [
                '# TYPE ae_calls_total counter',
                f'ae_calls_total {self.calls}',
                '# TYPE ae_call_errors_total counter',
            ]
            out += [f'ae_call_errors_total{{code="{c}"}} {n}' for c, n in sorted(self.errors.items())]
            out += ['# TYPE ae_call_latency_seconds summary']
            for q in (0.5, 0.9, 0.99):
                v = lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float('nan')
                out.append(f'ae_call_latency_seconds{{quantile="{q}"}} {v}')
            out.append(f'ae_call_latency_seconds_count {len(lat)}')
            return '\n'.join(out) + '\n'


class Slot:
    """One channel (its own subchannel and TCP connection) and its call loop state."""

    def __init__(self, cid, target, stats):
        self.cid = cid
        self.channel = grpc.insecure_channel(f'ipv4:{target}', options=channel_options())
        self.call = self.channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
        self.in_flight = False
        self.closed = False
        self.stats = stats

    def fire(self, request, deadline_s):
        if self.in_flight or self.closed:
            return
        self.in_flight = True
        start = time.monotonic()
        fut = self.call.future(request, timeout=deadline_s)

        def done(f):
            self.in_flight = False
            code = f.code()
            self.stats.call_done(time.monotonic() - start, None if code == grpc.StatusCode.OK else code.name)

        fut.add_done_callback(done)

    def close(self):
        self.closed = True
        self.channel.close()


def read_targets(path):
    try:
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]
    except OSError:
        return None


def main():
    path = os.environ.get('NOTDNS_TARGETS')
    if not path:
        print('NOTDNS_TARGETS is not set (see docs/client-contract.md)', file=sys.stderr)
        return 2
    per_backend = env_int('NOTDNS_CHANNELS_PER_BACKEND', 1)
    interval = env_int('NOTDNS_CALL_INTERVAL_MS', 1000) / 1000
    deadline = env_int('NOTDNS_CALL_DEADLINE_MS', 1000) / 1000
    max_seconds = env_int('NOTDNS_MAX_SECONDS', 600)
    metrics_port = env_int('NOTDNS_METRICS_PORT')
    instance = os.environ.get('NOTDNS_INSTANCE', '0')
    stats = Stats()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    if metrics_port:

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = stats.prometheus().encode() if self.path == '/metrics' else b'not found\n'
                self.send_response(200 if self.path == '/metrics' else 404)
                self.send_header('content-type', 'text/plain; version=0.0.4')
                self.send_header('content-length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(('0.0.0.0', metrics_port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()

    slots = {}  # target -> [(Slot, next call time)]
    next_id = 0
    request = None
    log = lambda event, **kw: print({'ts': time.strftime('%H:%M:%S'), 'event': event, **kw}, flush=True)
    log('start', grpc=grpc.__version__, options=channel_options(), per_backend=per_backend, instance=instance)
    started = time.monotonic()
    last_read = 0
    current = []
    while not stop.is_set() and time.monotonic() - started < max_seconds:
        now = time.monotonic()
        if now - last_read >= 0.5:
            last_read = now
            want = read_targets(path)
            if want is not None and want != current:
                # closed off the loop, all at once: the calls of the other channels keep their schedule
                gone = [s for t in [t for t in slots if t not in want] for s, _ in slots.pop(t)]
                if gone:
                    threading.Thread(target=lambda g=gone: [s.close() for s in g], daemon=True).start()
                for t in [t for t in want if t not in slots]:
                    slots[t] = []
                    for _ in range(per_backend):
                        slots[t].append([Slot(next_id, t, stats), now + random.random() * interval])
                        next_id += 1
                log('targets', targets=want)
                current = want
        for t, lst in slots.items():
            for entry in lst:
                s, due = entry
                if due <= now:
                    s.fire(encode_query('alerts', 0, f'{os.getpid()}/{s.cid}'), deadline)
                    entry[1] = due + interval if due + interval > now else now + interval
        stop.wait(0.01)
    log('stop', calls=stats.calls, errors=sum(stats.errors.values()))
    for lst in slots.values():
        for s, _ in lst:
            s.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
