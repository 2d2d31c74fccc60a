// --provider kubeconfig: opt-in only, context checks, node commands through the agent, real ENA counters.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKubeconfigProvider, KubeconfigProvider, nodeCommandArgv, AgentNode } from '../../harness/providers/kubeconfig/kubeconfig.js';
import { checkContextName, I_KNOW_FLAG, validateKubeconfigOptions } from '../../harness/providers/kubeconfig/options.js';
import { enaCounters, parseEthtoolStats } from '../../harness/providers/kubeconfig/ethtool.js';
import type { KubeClient } from '../../harness/providers/k8s/client.js';
import type { RunResult } from '../../harness/exec.js';

// `ethtool -S eth0` on a Nitro instance, as printed in the AWS EC2 User Guide ("ENA statistics", tab-indented
// there), and as ethtool prints it (5 spaces) with a nonzero allowance counter, trimmed after the queues.
const AWS_DOC_SAMPLE =
  'NIC statistics:\n\ttx_timeout: 0\n\tsuspend: 0\n\tresume: 0\n\twd_expired: 0\n\tinterface_up: 1\n\tinterface_down: 0\n' +
  '\tadmin_q_pause: 0\n\tbw_in_allowance_exceeded: 0\n\tbw_out_allowance_exceeded: 0\n\tpps_allowance_exceeded: 0\n' +
  '\tconntrack_allowance_available: 450878\n\tconntrack_allowance_exceeded: 0\n\tlinklocal_allowance_exceeded: 0\n' +
  '\tqueue_0_tx_cnt: 4329\n\tqueue_0_tx_bytes: 1075749\n\tqueue_0_tx_queue_stop: 0\n';
const ETHTOOL_SAMPLE = `NIC statistics:
     tx_timeout: 0
     suspend: 0
     resume: 0
     wd_expired: 0
     interface_up: 2
     interface_down: 1
     admin_q_pause: 0
     bw_in_allowance_exceeded: 0
     bw_out_allowance_exceeded: 12
     pps_allowance_exceeded: 946
     conntrack_allowance_exceeded: 18211
     linklocal_allowance_exceeded: 0
     conntrack_allowance_available: 0
     queue_0_tx_cnt: 368940
     queue_0_tx_bytes: 126196057
     queue_0_tx_queue_stop: 0
     queue_0_rx_cnt: 412177
     queue_0_rx_bytes: 512360181
     ena_admin_q_aborted_cmd: 0
     ena_admin_q_submitted_cmd: 30
     ena_admin_q_completed_cmd: 30
`;

describe('kubeconfig: opt-in and context checks', () => {
  it('refuses without the flag, with a usage error that names it', () => {
    for (const o of [{}, { iKnowThisIsNotATestCluster: false }, { context: 'eks-test' }]) {
      assert.throws(
        () => validateKubeconfigOptions(o),
        (e: any) => e.kind === 'usage' && e.message.includes(I_KNOW_FLAG) && e.hint.includes(I_KNOW_FLAG),
      );
      assert.throws(
        () => createKubeconfigProvider(o),
        (e: any) => e.kind === 'usage',
      );
    }
    assert.equal(I_KNOW_FLAG, '--i-know-this-is-not-a-test-cluster');
    assert.ok(createKubeconfigProvider({ iKnowThisIsNotATestCluster: true }) instanceof KubeconfigProvider);
  });

  it('refuses production-looking and notdns-kind contexts', () => {
    for (const c of [
      'prod',
      'eks-prod-us-east-1',
      'arn:aws:eks:eu-west-1:1:cluster/production',
      'live-cluster',
      'PRD_main',
      'kind-nd-abc123',
      '',
    ]) {
      assert.throws(
        () => checkContextName(c),
        (e: any) => e.kind === 'usage',
        c,
      );
    }
    for (const c of ['eks-chaos-test', 'notdns-staging', 'kind-kind', 'productive-dev']) checkContextName(c);
  });

  it('checks the context exists in the kubeconfig', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nd-kc-'));
    try {
      const file = join(dir, 'config');
      await writeFile(
        file,
        `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:9'}\ncontexts:\n- name: eks-chaos-test\n  context: {cluster: c, user: u}\n- name: eks-prod\n  context: {cluster: c, user: u}\ncurrent-context: eks-prod\nusers:\n- name: u\n  user: {token: t}\n`,
      );
      const p = (context?: string) => new KubeconfigProvider({ iKnowThisIsNotATestCluster: true, kubeconfig: file, context });
      assert.throws(
        () => p('nope').connect(),
        (e: any) => e.kind === 'usage' && /no context "nope".*eks-chaos-test/.test(e.message),
      );
      assert.throws(
        () => p().connect(),
        (e: any) => e.kind === 'usage' && /eks-prod/.test(e.message),
        'the current context is checked too',
      );
      assert.equal(p('eks-chaos-test').connect().context, 'eks-chaos-test');
      await assert.rejects(
        p('eks-chaos-test').up(
          { nodes: 2, serverNodes: 1, eniHasAddress: false, unreachableOnDelete: false, nodeLocalDns: true },
          'abc123',
          { stateDir: dir },
        ),
        (e: any) => e.kind === 'usage' && /NOTDNS_WORKLOAD_IMAGE/.test(e.hint),
        'no image in a registry: refused before touching the cluster',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('kubeconfig: real ENA counters from ethtool -S', () => {
  it('parses the AWS documentation sample', () => {
    const s = parseEthtoolStats(AWS_DOC_SAMPLE);
    assert.equal(s.conntrack_allowance_available, 450878);
    assert.equal(s.queue_0_tx_bytes, 1075749);
    assert.deepEqual(enaCounters(s), {
      conntrackAllowanceExceeded: 0,
      conntrackAllowanceAvailable: 450878,
      bwInAllowanceExceeded: 0,
      bwOutAllowanceExceeded: 0,
      ppsAllowanceExceeded: 0,
      linklocalAllowanceExceeded: 0,
    });
  });

  it("parses ethtool's own layout with an exhausted allowance", () => {
    const c = enaCounters(parseEthtoolStats(ETHTOOL_SAMPLE))!;
    assert.equal(c.conntrackAllowanceExceeded, 18211);
    assert.equal(c.conntrackAllowanceAvailable, 0);
    assert.equal(c.ppsAllowanceExceeded, 946);
    assert.equal(Object.keys(parseEthtoolStats(ETHTOOL_SAMPLE)).length, 21);
  });

  it('not an ENA device (veth / old driver): no counters', () => {
    assert.equal(enaCounters(parseEthtoolStats('NIC statistics:\n     peer_ifindex: 7\n     rx_queue_0_xdp_packets: 0\n')), undefined);
    assert.equal(enaCounters(parseEthtoolStats('no stats available\n')), undefined);
    const old = enaCounters(parseEthtoolStats('NIC statistics:\n     conntrack_allowance_exceeded: 3\n'))!;
    assert.equal(old.conntrackAllowanceAvailable, undefined, 'ENA drivers before 2.8.1 lack the available counter');
  });

  it('AgentNode runs node commands with nsenter into PID 1 and reads ethtool -S through it', async () => {
    const execs: string[][] = [];
    const client = {
      exec: async (_ns: string, _pod: string, _c: string, argv: string[]): Promise<RunResult> => {
        execs.push(argv);
        return { command: '', exitCode: 0, stdout: ETHTOOL_SAMPLE, stderr: '', failed: false, durationMs: 1 };
      },
    } as unknown as KubeClient;
    const n = new AgentNode('ip-10-0-1-5.ec2.internal', '10.0.1.5', ['ens5', 'ens6'], client, 'nd-abc123', 'nd-node-agent-x');
    const c = await n.readEnaCounters('ens5');
    assert.equal(c.conntrackAllowanceExceeded, 18211);
    assert.deepEqual(execs[0], nodeCommandArgv('ethtool', ['-S', 'ens5']));
    assert.deepEqual(nodeCommandArgv('tc', ['qdisc', 'show']), [
      'nsenter',
      '-t',
      '1',
      '-m',
      '-u',
      '-i',
      '-n',
      '-p',
      '--',
      'tc',
      'qdisc',
      'show',
    ]);
    await n.exec('nstat', ['-az'], { env: { NSTAT_HISTORY: '/tmp/x' } });
    assert.deepEqual(execs[1], ['nsenter', '-t', '1', '-m', '-u', '-i', '-n', '-p', '--', 'env', 'NSTAT_HISTORY=/tmp/x', 'nstat', '-az']);
  });
});
