// kind's own CoreDNS (kube-system/coredns, the upstream of node-local-dns), adjusted at up() in two ways; pure
// functions from what the cluster has to what notdns applies, tested without a cluster:
//  - names that exist: the Metrics Service looks up q<n>.default.svc.cluster.local (a new name each time, so
//    every lookup misses the node-local cache and goes upstream) and the dig check check<n>.default.svc...; the
//    kubernetes plugin answers NXDOMAIN for them, which the workloads count as errors. A `template` block answers
//    them with a fixed A record (the lab's zone does the same with a wildcard, harness/providers/lab/dns.ts).
//  - placement: CoreDNS runs off the nodes that host the Metrics Service, so node-local-dns's upstream TCP
//    connections from those nodes leave through their eth0, i.e. through the simulated ENA allowance.
import { createHash } from 'node:crypto';
import type { V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import { NotdnsError } from '../../errors.js';
import { parseDigRecords } from '../lab/dns.js';
import { ROLE_LABEL } from './config.js';

export const COREDNS_NAMESPACE = 'kube-system';
export const COREDNS_NAME = 'coredns';
/** The names the workloads look up: q<n> (workloads/metrics-service --dns-name-template) and check<n> (probes/recorder.ts). */
export const SYNTHETIC_NAME_REGEX = '^(q|check)[0-9]+[.]default[.]svc[.]cluster[.]local[.]$';
/** The address they resolve to (the same as in the lab's zone; nothing connects to it). */
export const SYNTHETIC_ANSWER_IP = '10.96.0.10';
/** Pod-template annotation with a hash of the Corefile: a changed Corefile rolls the CoreDNS pods. */
export const COREFILE_ANNOTATION = 'notdns.io/corefile';

const BEGIN = '# notdns: synthetic names (begin)';
const END = '# notdns: synthetic names (end)';

/** The template block, indented like the plugins of its server block. */
export function syntheticNamesBlock(indent: string, ip = SYNTHETIC_ANSWER_IP): string[] {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) throw new NotdnsError(`"${ip}" is not an IPv4 address`, { kind: 'harness' });
  const i2 = indent + indent;
  return [
    `${indent}${BEGIN}: the workloads' q<n> / check<n> names get an answer, never NXDOMAIN`,
    `${indent}template IN A default.svc.cluster.local {`,
    `${i2}match ${SYNTHETIC_NAME_REGEX}`,
    `${i2}answer "{{ .Name }} 60 IN A ${ip}"`,
    `${i2}fallthrough`,
    `${indent}}`,
    `${indent}${END}`,
  ];
}

/**
 * The Corefile with the synthetic-names template in the server block that serves cluster.local (the one with the
 * `kubernetes` plugin), right after its opening line. The plugin order is CoreDNS's own (template runs before
 * kubernetes whatever the Corefile's order), and `fallthrough` hands every other name to the next plugin.
 * Idempotent: a block from an earlier edit is replaced.
 */
export function withSyntheticNames(corefile: string, ip = SYNTHETIC_ANSWER_IP): string {
  const lines = corefile.split('\n');
  const b = lines.findIndex((l) => l.trim().startsWith(BEGIN));
  if (b >= 0) {
    const e = lines.findIndex((l, i) => i > b && l.trim() === END);
    if (e < 0) throw new NotdnsError('the CoreDNS Corefile has the start of a notdns block but not its end', { kind: 'harness' });
    lines.splice(b, e - b + 1);
  }
  const k = lines.findIndex((l) => /^\s+kubernetes\s+(\S+\s+)*cluster\.local(\s|$)/.test(l));
  if (k < 0) {
    throw new NotdnsError(
      'the CoreDNS Corefile has no `kubernetes cluster.local` plugin: cannot tell which server block answers the cluster zone',
      {
        kind: 'harness',
        hint: 'kubectl -n kube-system get configmap coredns -o yaml',
      },
    );
  }
  let open = -1;
  for (let i = k - 1; i >= 0; i--) {
    if (/^\S.*\{\s*$/.test(lines[i]!)) {
      open = i;
      break;
    }
  }
  if (open < 0) throw new NotdnsError('the CoreDNS Corefile has a kubernetes plugin outside any server block', { kind: 'harness' });
  const indent = /^\s+/.exec(lines[k]!)![0];
  lines.splice(open + 1, 0, ...syntheticNamesBlock(indent, ip));
  return lines.join('\n');
}

export function corefileHash(corefile: string): string {
  return createHash('sha256').update(corefile).digest('hex').slice(0, 16);
}

/** The coredns ConfigMap with a new Corefile (server-side apply: notdns takes over the Corefile field). */
export function corednsConfigMap(corefile: string): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: COREDNS_NAME, namespace: COREDNS_NAMESPACE },
    data: { Corefile: corefile },
  };
}

/**
 * The partial coredns Deployment notdns applies: its pods only on nodes that do not host the Metrics Service
 * (role label not `server`: the control plane and the client nodes, which kubeadm's tolerations allow), and a
 * Corefile hash on the pod template so that the pods restart with the new Corefile now rather than at the next
 * `reload` poll.
 */
export function corednsDeploymentPatch(corefile: string): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: COREDNS_NAME, namespace: COREDNS_NAMESPACE },
    spec: {
      selector: { matchLabels: { 'k8s-app': 'kube-dns' } },
      template: {
        metadata: { labels: { 'k8s-app': 'kube-dns' }, annotations: { [COREFILE_ANNOTATION]: corefileHash(corefile) } },
        spec: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: ROLE_LABEL, operator: 'NotIn', values: ['server'] }] }],
              },
            },
          },
          containers: [{ name: 'coredns' }],
        },
      },
    },
  };
}

/** CoreDNS's kubernetes plugin: `ttl` 0..3600 (its default 5 s; kubeadm's Corefile sets 30). */
export const KUBERNETES_TTL_MAX = 3600;

/**
 * DNS discovery on kind: the TTL the kubernetes plugin gives its answers (the Metrics Service's headless Service
 * records) = the experiment's metricsService.dns.ttlSeconds. Replaces the `ttl` line of the `kubernetes
 * cluster.local` block or adds one (and the block's braces if it has none).
 */
export function withKubernetesTtl(corefile: string, ttlSeconds: number): string {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 0 || ttlSeconds > KUBERNETES_TTL_MAX)
    throw new NotdnsError(
      `metricsService.dns.ttlSeconds ${ttlSeconds}: CoreDNS's kubernetes plugin takes a ttl from 0 to ${KUBERNETES_TTL_MAX}`,
      { kind: 'usage', hint: `Set workloads.metricsService.dns.ttlSeconds to at most ${KUBERNETES_TTL_MAX} for --provider kind.` },
    );
  const lines = corefile.split('\n');
  const k = lines.findIndex((l) => /^\s+kubernetes\s+(\S+\s+)*cluster\.local(\s|$)/.test(l));
  if (k < 0)
    throw new NotdnsError('the CoreDNS Corefile has no `kubernetes cluster.local` plugin: cannot set its ttl', { kind: 'harness' });
  const indent = /^\s+/.exec(lines[k]!)![0];
  if (!/\{\s*$/.test(lines[k]!)) {
    lines.splice(k, 1, `${lines[k]!.trimEnd()} {`, `${indent}${indent}ttl ${ttlSeconds}`, `${indent}}`);
    return lines.join('\n');
  }
  let close = -1;
  for (let i = k + 1; i < lines.length; i++) {
    if (/^\s*\}\s*$/.test(lines[i]!)) {
      close = i;
      break;
    }
  }
  if (close < 0) throw new NotdnsError('the CoreDNS Corefile has a kubernetes block without its closing brace', { kind: 'harness' });
  const t = lines.findIndex((l, i) => i > k && i < close && /^\s*ttl(\s|$)/.test(l));
  if (t >= 0) lines[t] = `${/^\s*/.exec(lines[t]!)![0]}ttl ${ttlSeconds}`;
  else lines.splice(close, 0, `${indent}${indent}ttl ${ttlSeconds}`);
  return lines.join('\n');
}

/**
 * Kubernetes serves DNS discovery's records itself (EndpointSlice → CoreDNS's watch): ask `dig` (the upstream,
 * from a node) until the answer is exactly `ips`; resolves to the milliseconds that took, or null after timeoutMs.
 */
export async function waitForRecords(
  dig: () => Promise<string>,
  ips: readonly string[],
  timeoutMs: number,
  o: { now?: () => number; sleep?: (ms: number) => Promise<void>; everyMs?: number } = {},
): Promise<number | null> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const want = [...ips].sort().join(',');
  const start = now();
  for (;;) {
    if (parseDigRecords(await dig()).ips.join(',') === want) return now() - start;
    if (now() - start >= timeoutMs) return null;
    await sleep(o.everyMs ?? 250);
  }
}
