// A bounded, paced UDP sender for the rate-allowance tests: exactly `count` datagrams of `size` payload bytes to
// dst:port at `rate` per second (paced every few ms against the clock), then one JSON line on stdout:
// {"sent": N, "errors": E, "firstNs": ..., "lastNs": ...} (process.hrtime.bigint() of the first and last send,
// i.e. CLOCK_MONOTONIC: the clock the ENA program's token buckets use). Run inside a namespace:
//   ip netns exec NS node dist/test/ena/udp-sender.js DST PORT RATE COUNT SIZE
import { createSocket } from 'node:dgram';

const [dst, portS, rateS, countS, sizeS] = process.argv.slice(2);
const port = Number(portS),
  rate = Number(rateS),
  count = Number(countS),
  size = Number(sizeS ?? 16);
if (!dst || !(port > 0) || !(rate > 0) || !(count > 0) || !(count <= 1_000_000) || !(size >= 0 && size <= 1400)) {
  console.error('usage: udp-sender DST PORT RATE COUNT [SIZE]');
  process.exit(2);
}
const sock = createSocket('udp4');
const payload = Buffer.alloc(size, 0x61);
let sent = 0,
  errors = 0,
  pending = 0,
  firstNs = 0n,
  lastNs = 0n;
const t0 = process.hrtime.bigint();

function finish(): void {
  if (pending > 0 || sent < count) return;
  sock.close();
  process.stdout.write(`${JSON.stringify({ sent, errors, firstNs: String(firstNs), lastNs: String(lastNs) })}\n`);
}

function tick(): void {
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const due = Math.min(count, Math.floor(elapsed * rate) + 1);
  while (sent < due) {
    const now = process.hrtime.bigint();
    if (sent === 0) firstNs = now;
    lastNs = now;
    sent++;
    pending++;
    // an ENA drop (TC_ACT_SHOT on egress) may surface as an error of this send: counted, not fatal
    sock.send(payload, port, dst, (err) => {
      if (err) errors++;
      pending--;
      finish();
    });
  }
  if (sent < count) setTimeout(tick, 2);
}
tick();
