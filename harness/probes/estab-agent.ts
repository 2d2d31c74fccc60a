// A long-lived TCP connection that must survive the flood (talk: established connections keep working while
// new ones fail). Runs inside a node namespace: connects once to an echo service and sends a numbered ping every
// 200 ms; a ping counts as ok when its echo comes back, as failed when it has no echo after 1 s or the
// connection is gone. Prints {"ok":N,"failed":M,"connected":bool} once a second. It never reconnects: a lost
// connection shows as failures, which is what we want to see. Bounded by max seconds.
import net from 'node:net';

const [host, portS, maxS] = process.argv.slice(2);
if (!host || !portS) {
  process.stderr.write('usage: estab-agent HOST PORT [MAX_SECONDS]\n');
  process.exit(2);
}
const maxMs = Number(maxS ?? 600) * 1000;
const PING_MS = 200,
  LOST_AFTER_MS = 1000;
let ok = 0,
  failed = 0,
  connected = false,
  seq = 0,
  buf = '';
const outstanding = new Map<number, number>(); // seq → sent at
const sock = net.connect({ host, port: Number(portS) });
sock.setNoDelay(true);
sock.setEncoding('utf8');
sock.on('connect', () => {
  connected = true;
});
sock.on('data', (d: string) => {
  const lines = (buf + d).split('\n');
  buf = lines.pop() ?? '';
  for (const l of lines) {
    const n = Number(/^ping (\d+)$/.exec(l)?.[1]);
    if (outstanding.delete(n)) ok++;
  }
});
sock.on('error', () => {
  connected = false;
});
sock.on('close', () => {
  connected = false;
});
const ping = setInterval(() => {
  const now = Date.now();
  for (const [n, at] of outstanding)
    if (now - at > LOST_AFTER_MS) {
      outstanding.delete(n);
      failed++;
    }
  if (!connected) {
    failed++;
    return;
  }
  outstanding.set(++seq, now);
  sock.write(`ping ${seq}\n`);
}, PING_MS);
const report = setInterval(() => process.stdout.write(JSON.stringify({ ok, failed, connected }) + '\n'), 1000);
const stop = () => {
  clearInterval(ping);
  clearInterval(report);
  sock.destroy();
  process.exit(0);
};
setTimeout(stop, maxMs).unref();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
