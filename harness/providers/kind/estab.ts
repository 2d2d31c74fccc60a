// The established-connection probe (estab.ok / estab.failed) where the harness's Node agent (probes/estab-agent.ts)
// cannot run: a kind node has no node binary, but it has bash (kindest/base), and bash's /dev/tcp keeps a TCP
// connection open on a file descriptor. ESTAB_AGENT_SH is the same agent in bash, run with `docker exec` in the
// node container (the node's own netns, or a pod's through nsenter): it connects once, sends "ping <n>\n" and waits
// up to 1 s for that line to come back (ok), else counts a failure; a closed connection is never reopened, so from
// then on every tick is a failure. It prints the Node agent's line, {"ok":N,"failed":M,"connected":bool}, once a
// second, and stops after MAX_SECONDS or on SIGTERM.
// One difference from the Node agent: pings are sequential (one outstanding at a time, 200 ms apart when answered),
// so while echoes are lost it counts one failure per 1.2 s where the Node agent counts five per second. Zero or
// not zero, which is what the expectations ask, is the same.
// A `docker exec` client that is killed does not kill its process in the container: the agent writes its pid to
// PIDFILE and estabStopArgv kills it there.
// Its peer (the lab's is an echo on the upstream DNS host): ECHO_SERVER_SH, a TCP echo in perl (perl-base is
// Essential in Debian, so in kindest/node too) started in the control-plane node container, so that the agents'
// connections leave the Metrics Service nodes through their eth0, where the ENA simulator sees an established flow.

/** bash -c ESTAB_AGENT_SH estab HOST PORT MAX_SECONDS [PIDFILE] */
export const ESTAB_AGENT_SH = [
  'trap "" PIPE',
  'host=$1 port=$2 max=${3:-600} pidfile=$4',
  '[ -n "$pidfile" ] && echo $$ > "$pidfile"',
  'ok=0 failed=0 connected=false seq=0',
  'report() { printf \'{"ok":%d,"failed":%d,"connected":%s}\\n\' "$ok" "$failed" "$connected"; }',
  "trap 'report; exit 0' TERM INT",
  'exec 3<>"/dev/tcp/$host/$port" && connected=true',
  'end=$((SECONDS + max)) last=$SECONDS',
  'while [ "$SECONDS" -lt "$end" ]; do',
  '  if $connected; then',
  '    seq=$((seq + 1)) got=false rc=0',
  '    if printf "ping %d\\n" "$seq" >&3; then',
  '      while :; do read -r -t 1 line <&3; rc=$?; [ "$rc" -ne 0 ] && break; [ "$line" = "ping $seq" ] && { got=true; break; }; done',
  '    else rc=1; fi',
  '    if $got; then ok=$((ok + 1)); else failed=$((failed + 1))',
  // read's status: > 128 a timeout (the connection may still be there), else end of file or an error: it is gone
  '      if [ "$rc" -le 128 ]; then connected=false; exec 3>&-; fi; fi',
  '  else failed=$((failed + 1)); fi',
  '  [ "$SECONDS" -ne "$last" ] && { report; last=$SECONDS; }',
  '  sleep 0.2',
  'done',
  'report',
].join('\n');

/** argv (inside a node: `docker exec <node> ...`) of the agent, in the node's netns or, with `netns`, a pod's. */
export function estabAgentArgv(o: { host: string; port: number; maxSeconds: number; pidfile: string; netns?: string }): string[] {
  const a = ['bash', '-c', ESTAB_AGENT_SH, 'estab', o.host, String(o.port), String(Math.ceil(o.maxSeconds)), o.pidfile];
  return o.netns ? ['nsenter', `--net=${o.netns}`, ...a] : a;
}

/** argv (inside the node) stopping the agent that wrote `pidfile` (its last line is printed on the way out). */
export function estabStopArgv(pidfile: string): string[] {
  return ['sh', '-c', '[ -f "$1" ] && kill -TERM "$(cat "$1")" 2>/dev/null; rm -f "$1"; true', 'sh', pidfile];
}

export interface EstabLine {
  ok: number;
  failed: number;
  connected: boolean;
}

/** One line of the agent's output, or undefined for anything else (a partial line, bash's own error). */
export function parseEstabLine(line: string): EstabLine | undefined {
  const m = /^\{"ok":(\d+),"failed":(\d+),"connected":(true|false)\}$/.exec(line.trim());
  return m ? { ok: Number(m[1]), failed: Number(m[2]), connected: m[3] === 'true' } : undefined;
}

/** The echo's port in the control-plane container (the control plane's own ports are 6443, 10250, 10257, 10259, 2379-2381). */
export const KIND_ECHO_PORT = 7007;

/** sh -c ECHO_SERVER_SH sh PIDFILE PORT MAX_SECONDS: a TCP echo, one child per connection, listening MAX_SECONDS. */
export const ECHO_SERVER_SH =
  'echo $$ > "$1"; exec perl -MIO::Socket::INET -e \'$SIG{CHLD} = "IGNORE"; alarm $ARGV[1]; ' +
  '$s = IO::Socket::INET->new(LocalPort => $ARGV[0], Listen => 16, ReuseAddr => 1) or die "listen: $!"; ' +
  'while (1) { $c = $s->accept or next; if (!fork) { close $s; $c->autoflush(1); print $c $_ while <$c>; exit 0 } close $c }\' "$2" "$3"';

/** argv (inside a node) starting the echo detached from the exec (`docker exec -d`). */
export function echoServerArgv(pidfile: string, port: number, maxSeconds: number): string[] {
  return ['sh', '-c', ECHO_SERVER_SH, 'sh', pidfile, String(port), String(Math.ceil(maxSeconds))];
}

/** argv (inside the node) stopping the echo and its connections' children (pgrep is in procps). */
export function echoStopArgv(pidfile: string): string[] {
  return ['sh', '-c', '[ -f "$1" ] && p=$(cat "$1") && kill $(pgrep -P "$p") "$p" 2>/dev/null; rm -f "$1"; true', 'sh', pidfile];
}

/** argv (inside the node) that waits up to 5 s until the echo accepts a connection on loopback. */
export function echoReadyArgv(port: number): string[] {
  return [
    'bash',
    '-c',
    'for i in $(seq 50); do { : 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null && exit 0; sleep 0.1; done; exit 1',
    'bash',
    String(port),
  ];
}
