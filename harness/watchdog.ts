// The dead-man switch's second half on the lab (harness/stop.ts has the first: the lease). A detached process the
// harness starts per variant once the lab is up: every 250 ms it looks at the harness pid and the lease file.
//  - lease file gone: the harness tore the variant down (or `notdns down` removed the state dir): exit quietly;
//  - harness pid gone, or the lease older than its maximum age: detach the ENA simulator of that run (sweepEna:
//    its tc filters from the manifests, then the run's bpffs), log it, exit. The Alerting Engine stops its load by
//    itself on the same lease (--lease-file); `notdns down --all` removes the rest of the lab.
// Usage: node dist/harness/watchdog.js <harness-pid> <lease-file> <lease-seconds> <state-dir> <log-file>
import { appendFileSync, statSync } from 'node:fs';
import { sweepEna } from './ena/index.js';
import { pidAlive } from './stop.js';

const [pidArg, leaseFile, secondsArg, stateDir, logFile] = process.argv.slice(2);
const pid = Number(pidArg),
  maxAgeMs = Number(secondsArg) * 1000;
if (!pid || !leaseFile || !(maxAgeMs > 0) || !stateDir || !logFile) {
  process.stderr.write('usage: watchdog <harness-pid> <lease-file> <lease-seconds> <state-dir> <log-file>\n');
  process.exit(2);
}

const say = (event: string, fields: Record<string, unknown> = {}) => {
  try {
    appendFileSync(logFile, JSON.stringify({ ts: new Date().toISOString(), event, pid: process.pid, harness: pid, ...fields }) + '\n');
  } catch {
    /* log dir gone */
  }
};

say('watching', { leaseFile, leaseSeconds: maxAgeMs / 1000 });
let busy = false;
const timer = setInterval(() => {
  if (busy) return;
  let age: number;
  try {
    age = Date.now() - statSync(leaseFile).mtimeMs;
  } catch {
    say('lease-removed: the harness finished its teardown');
    process.exit(0);
  }
  const dead = !pidAlive(pid);
  if (!dead && age <= maxAgeMs) return;
  busy = true;
  clearInterval(timer);
  const why = dead ? 'harness-gone' : 'lease-expired';
  say(why, { leaseAgeMs: Math.round(age) });
  sweepEna(stateDir).then(
    (r) => {
      say('ena-detached', { detached: r.detached, unmounted: r.unmounted, errors: r.errors });
      process.exit(r.errors.length ? 1 : 0);
    },
    (e: unknown) => {
      say('ena-detach-failed', { error: (e as Error).message });
      process.exit(1);
    },
  );
}, 250);
