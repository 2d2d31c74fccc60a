// A long-lived TCP connection that must survive the flood (talk: established connections keep working while
// new ones fail). Runs inside a node namespace: connects once to an echo service and pings it every 200 ms;
// prints {"ok":N,"failed":M,"connected":bool} once a second. It never reconnects on its own: a lost connection
// shows as failures, which is what we want to see. Bounded by max seconds.
import net from 'node:net';

const [host, portS, maxS] = process.argv.slice(2);
if (!host || !portS) {
  process.stderr.write('usage: estab-agent HOST PORT [MAX_SECONDS]\n');
  process.exit(2);
}
const maxMs = Number(maxS ?? 600) * 1000;
let ok = 0, failed = 0, connected = false, outstanding = 0, seq = 0;
const sock = net.connect({ host, port: Number(portS) });
sock.setNoDelay(true);
sock.on('connect', () => { connected = true; });
sock.on('data', (d) => { ok += d.toString().split('\n').filter(Boolean).length; outstanding = 0; });
sock.on('error', () => { connected = false; });
sock.on('close', () => { connected = false; });
const ping = setInterval(() => {
  if (!connected) { failed++; return; }
  if (outstanding > 0) failed++; // the previous ping got no answer within 200 ms
  outstanding = 1;
  sock.write(`ping ${++seq}\n`);
}, 200);
const report = setInterval(() => process.stdout.write(JSON.stringify({ ok, failed, connected }) + '\n'), 1000);
const stop = () => { clearInterval(ping); clearInterval(report); sock.destroy(); process.exit(0); };
setTimeout(stop, maxMs).unref();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
