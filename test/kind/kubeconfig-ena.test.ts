// --provider kubeconfig and the ENA allowance: the real counters (ethtool -S on every ENA interface of a node, one exec,
// summed) are what the recorder samples by default, with nothing attached to a real ENI; the simulator only with
// --ena-simulator count|enforce. Node commands go through a fake KubeClient exec that plays the node.
import assert from 'node:assert/strict';
import type { RunResult } from '../../harness/exec.js';
import { enaMeasurementOf, installEna, realEnaSample } from '../../harness/ena-install.js';
import { capabilitiesOf } from '../../harness/providers/index.js';
import { tcxLinks } from '../../harness/ena/parse.js';
import { Recorder, type EnaSample } from '../../harness/probes/recorder.js';
import type { KubeClient } from '../../harness/providers/k8s/client.js';
import { KUBECONFIG_CAPABILITIES } from '../../harness/providers/capabilities.js';
import { createProvider } from '../../harness/providers/index.js';
import { AgentNode } from '../../harness/providers/kubeconfig/kubeconfig.js';
import { parseEthtoolSections, READ_ENA_SCRIPT, sumEnaCounters, type EthtoolSection } from '../../harness/providers/kubeconfig/ethtool.js';
import { ENA_SIMULATOR_FLAG, validateKubeconfigOptions } from '../../harness/providers/kubeconfig/options.js';
import type { Cluster } from '../../harness/providers/types.js';
import { expandVariant, loadExperiment } from '../../harness/spec/load.js';

// `ethtool -S` of two ENIs of one instance (ENA >= 2.8.1, as ethtool prints it), trimmed after the queues
const ens = (exceeded: number, available: number | undefined, pps: number) => `NIC statistics:
     tx_timeout: 0
     interface_up: 1
     bw_in_allowance_exceeded: 1
     bw_out_allowance_exceeded: 2
     pps_allowance_exceeded: ${pps}
     conntrack_allowance_exceeded: ${exceeded}
     linklocal_allowance_exceeded: 0
${available === undefined ? '' : `     conntrack_allowance_available: ${available}\n`}     queue_0_tx_cnt: 4329
`;
// a virtio NIC (another cloud) and a veth: no allowance counters
const VIRTIO = 'NIC statistics:\n     rx_queue_0_packets: 1234\n     rx_queue_0_bytes: 99999\n     tx_queue_0_packets: 17\n';
const VETH = 'NIC statistics:\n     peer_ifindex: 7\n     rx_queue_0_xdp_packets: 0\n';

interface FakeIface {
  driver: string;
  text: string;
  rc?: number;
}

/** What READ_ENA_SCRIPT prints on a node with these interfaces (the script is plain sh: same format, tested below). */
function scriptOutput(ifaces: Record<string, FakeIface>, names: string[]): string {
  return names
    .map((n) => {
      const i = ifaces[n] ?? {
        driver: '',
        text: `netlink error: no device matches name (offset 24)\nnetlink error: No such device\n`,
        rc: 1,
      };
      return `@@notdns-iface ${n} ${i.driver}\n${i.text}@@notdns-rc ${i.rc ?? 0}\n`;
    })
    .join('');
}

/** A fake KubeClient whose exec plays a node: READ_ENA_SCRIPT answered from `ifaces`; every argv recorded. */
function fakeClient(ifaces: Record<string, FakeIface>, execs: string[][] = []): KubeClient {
  return {
    exec: async (_ns: string, _pod: string, _c: string, argv: string[]): Promise<RunResult> => {
      execs.push(argv);
      const i = argv.indexOf(READ_ENA_SCRIPT);
      const stdout = i >= 0 ? scriptOutput(ifaces, argv.slice(i + 2)) : '';
      return {
        command: argv.join(' '),
        exitCode: i >= 0 ? 0 : 1,
        stdout,
        stderr: i >= 0 ? '' : 'not played by the fake',
        failed: i < 0,
        durationMs: 1,
      };
    },
  } as unknown as KubeClient;
}

const agent = (name: string, uplinks: string[], client: KubeClient) =>
  new AgentNode(name, '10.0.1.5', uplinks, client, 'nd-abc123', `agent-${name}`);

describe('kubeconfig: the real ENA counters of a node (ethtool -S, summed over its ENA interfaces)', () => {
  const two: Record<string, FakeIface> = {
    ens5: { driver: 'ena', text: ens(100, 3000, 7) },
    ens6: { driver: 'ena', text: ens(23, 3000, 5) },
  };

  it('reads every uplink in one exec through nsenter, and sums the counters', async () => {
    const execs: string[][] = [];
    const n = agent('ip-10-0-1-5', ['ens5', 'ens6'], fakeClient(two, execs));
    const c = await n.readNodeEnaCounters();
    assert.equal(execs.length, 1, 'one exec per node and read');
    assert.deepEqual(execs[0], [
      'nsenter',
      '-t',
      '1',
      '-m',
      '-u',
      '-i',
      '-n',
      '-p',
      '--',
      'sh',
      '-c',
      READ_ENA_SCRIPT,
      'sh',
      'ens5',
      'ens6',
    ]);
    assert.deepEqual(c.interfaces, ['ens5', 'ens6']);
    assert.equal(c.conntrackAllowanceExceeded, 123);
    assert.equal(c.conntrackAllowanceAvailable, 6000);
    assert.equal(c.ppsAllowanceExceeded, 12);
    assert.equal(c.bwInAllowanceExceeded, 2);
    assert.equal(c.bwOutAllowanceExceeded, 4);
    assert.equal(c.linklocalAllowanceExceeded, 0);
    assert.equal(c.perInterface.ens6!.conntrackAllowanceExceeded, 23, 'the raw values are kept');
  });

  it('conntrack_allowance_available missing (ENA driver < 2.8.1) on any interface: absent, the rest still summed', async () => {
    const old = { ens5: { driver: 'ena', text: ens(4, undefined, 0) }, ens6: { driver: 'ena', text: ens(6, 900, 0) } };
    const c = await agent('n1', ['ens5', 'ens6'], fakeClient(old)).readNodeEnaCounters();
    assert.equal(c.conntrackAllowanceExceeded, 10);
    assert.equal(c.conntrackAllowanceAvailable, undefined);
    assert.ok(!('conntrackAllowanceAvailable' in c));
    const s = realEnaSample(c);
    assert.equal(s.allowanceExceeded, 10);
    assert.ok(!('allowanceAvailable' in s), 'no allowanceAvailable in the sample: no ena.allowanceAvailable series');
  });

  it('refuses a non-ENA interface with a message naming it, its driver and the way out', async () => {
    for (const [iface, driver, text] of [
      ['eth0', 'virtio_net', VIRTIO],
      ['veth1', '', VETH],
    ] as const) {
      const n = agent('gke-node-1', ['ens5', iface], fakeClient({ ens5: two.ens5!, [iface]: { driver, text } }));
      await assert.rejects(n.readNodeEnaCounters(), (e: any) => {
        assert.equal(e.kind, 'environment');
        assert.match(
          e.message,
          new RegExp(
            `^${iface} on node gke-node-1 is not an ENA interface \\(driver ${driver || 'none: a virtual device'}\\): its \`ethtool -S\` has no conntrack_allowance_exceeded`,
          ),
        );
        assert.match(e.hint, new RegExp(`${ENA_SIMULATOR_FLAG} enforce`));
        return true;
      });
    }
    await assert.rejects(
      agent('n2', ['ens9'], fakeClient({})).readNodeEnaCounters(),
      /ens9 on node n2 is not an ENA interface .*failed \(exit 1\): .*No such device/,
    );
  });

  it('no ethtool on the node: an environment error that says so', () => {
    const s: EthtoolSection[] = parseEthtoolSections('@@notdns-iface ens5 ena\nsh: 1: ethtool: not found\n@@notdns-rc 127\n');
    assert.throws(
      () => sumEnaCounters('n1', s),
      (e: any) => e.kind === 'environment' && /ethtool is not installed on node n1/.test(e.message),
    );
  });

  it('READ_ENA_SCRIPT prints what parseEthtoolSections reads (run with sh here, ethtool on a loopback and a missing device)', async () => {
    const { run } = await import('../../harness/exec.js');
    const have = await run('sh', ['-c', 'command -v ethtool'], { reject: false });
    const r = await run('sh', ['-c', READ_ENA_SCRIPT, 'sh', 'lo', 'nd-nonexistent0'], { reject: false });
    const s = parseEthtoolSections(r.stdout);
    assert.deepEqual(
      s.map((x) => [x.iface, x.driver]),
      [
        ['lo', ''],
        ['nd-nonexistent0', ''],
      ],
    );
    assert.notEqual(s[0]!.exitCode, 0, have.exitCode === 0 ? 'lo has no ethtool statistics' : 'no ethtool here');
    assert.notEqual(s[1]!.exitCode, 0);
    assert.throws(
      () => sumEnaCounters('here', s),
      have.exitCode === 0
        ? /lo on node here is not an ENA interface \(driver none: a virtual device\)/
        : /ethtool is not installed on node here/,
    );
  });
});

describe('kubeconfig: the ENA reader for the recorder (installEna)', () => {
  const cfgOf = async () => expandVariant((await loadExperiment('rollout-syn-flood')).experiment, 'baseline');
  const cluster = (nodes: AgentNode[], enaSimulator?: 'off' | 'count' | 'enforce') =>
    Object.assign(
      {
        provider: 'kubeconfig',
        capabilities: KUBECONFIG_CAPABILITIES,
        runId: 'abc123',
        nodes,
        podCidr: '10.0.0.0/16',
        dns: { upstream: '10.100.0.10', nodeLocal: '10.100.0.10' },
        pods: () => [],
      },
      enaSimulator ? { enaSimulator } : {},
    ) as unknown as Cluster;

  it('what measures the allowance: lab and kind the simulator, kubeconfig the real counters unless --ena-simulator', () => {
    assert.deepEqual(enaMeasurementOf({ capabilities: capabilitiesOf('lab') }), { simulator: 'experiment', realCounters: false });
    assert.deepEqual(enaMeasurementOf({ capabilities: capabilitiesOf('kind') }), { simulator: 'experiment', realCounters: false });
    assert.deepEqual(enaMeasurementOf({ capabilities: capabilitiesOf('kubeconfig') }), { simulator: 'none', realCounters: true });
    assert.deepEqual(enaMeasurementOf({ capabilities: capabilitiesOf('kubeconfig'), enaSimulator: 'off' }), {
      simulator: 'none',
      realCounters: true,
    });
    assert.deepEqual(enaMeasurementOf({ capabilities: capabilitiesOf('kubeconfig'), enaSimulator: 'count' }), {
      simulator: 'count',
      realCounters: true,
    });
    assert.deepEqual(enaMeasurementOf({ capabilities: capabilitiesOf('kubeconfig'), enaSimulator: 'enforce' }), {
      simulator: 'experiment',
      realCounters: false,
    });
  });

  it('default: nothing attached (no tc, no bpftool on the node), the recorder gets the real counters and no SYN series', async () => {
    const execs: string[][] = [];
    let exceeded = 100;
    const ifaces: Record<string, FakeIface> = { ens5: { driver: 'ena', text: ens(100, 5000, 0) } };
    const client = fakeClient(ifaces, execs);
    const nodes = [agent('node-a', ['ens5'], client), agent('node-b', ['ens5'], client)];
    const ena = await installEna(cluster(nodes), await cfgOf(), '/nonexistent-state-dir');
    assert.deepEqual(ena.handles, []);
    assert.match(ena.describe, /real counters \(ethtool -S\), nothing attached/);
    assert.equal(execs.length, 2, 'one ethtool read per node at install (checks every node is ENA)');
    assert.ok(
      execs.every((a) => a.includes(READ_ENA_SCRIPT)),
      'no other command ran on the nodes: no tc, no bpftool',
    );

    let sampled!: () => void;
    const first = new Promise<void>((r) => {
      sampled = r;
    });
    const rec = new Recorder(cluster(nodes), { intervalMs: 60_000, ena: ena.read, onSample: () => sampled() });
    rec.start();
    await first;
    exceeded += 250;
    ifaces.ens5 = { driver: 'ena', text: ens(exceeded, 0, 0) };
    await rec.stop();
    const series = new Map(rec.allSeries().map((s) => [`${s.probe}|${s.target}`, s.points.map((p) => p[1])]));
    assert.deepEqual(series.get('ena.allowanceExceeded|node-a'), [100, 350]);
    assert.deepEqual(series.get('ena.allowanceAvailable|node-b'), [5000, 0]);
    const probes = new Set(rec.allSeries().map((s) => s.probe));
    for (const p of ['syn.in', 'syn.out', 'syn.toOldPodIps', 'ena.trackedFlows', 'ena.newFlows', 'ena.flowsBySyn'])
      assert.ok(!probes.has(p as never), `${p}: only the simulator counts it`);
    await ena.remove();
  });

  it('refuses, before the run, a node whose uplinks are not ENA', async () => {
    const client = fakeClient({ ens5: { driver: 'ena', text: ens(1, 1, 0) }, eth0: { driver: 'virtio_net', text: VIRTIO } });
    await assert.rejects(
      installEna(cluster([agent('ok', ['ens5'], client), agent('gke-1', ['eth0'], client)]), await cfgOf(), '/nonexistent-state-dir'),
      /eth0 on node gke-1 is not an ENA interface \(driver virtio_net\)/,
    );
  });

  it('--ena-simulator count: the allowance counters stay the real ones, the SYN and flow counts come from the simulator', () => {
    const sim: EnaSample = {
      allowanceExceeded: 0,
      allowanceAvailable: 65_000,
      trackedFlows: 536,
      newFlows: 900,
      flowsByFlag: { syn: 800, fin: 0, rst: 0, none: 100 },
      synsByDst: { '10.0.3.4': 790 },
      synsByDstEgress: {},
    };
    const real = sumEnaCounters('n', parseEthtoolSections(`@@notdns-iface ens5 ena\n${ens(42, 17, 3)}@@notdns-rc 0\n`));
    const s = realEnaSample(real, sim);
    assert.deepEqual(s, {
      allowanceExceeded: 42,
      allowanceAvailable: 17,
      trackedFlows: 536,
      newFlows: 900,
      flowsByFlag: sim.flowsByFlag,
      synsByDst: sim.synsByDst,
      synsByDstEgress: {},
      otherAllowances: { bwInExceeded: 1, bwOutExceeded: 2, ppsExceeded: 3, linklocalExceeded: 0 },
    });
  });

  it("--ena-simulator count|enforce on a node with tcx programs (Cilium's default): refused before anything is attached", async () => {
    const execs: string[][] = [];
    // the node's bpftool 7.1 (type 11, no device) for two of Cilium's links
    const client = {
      exec: async (_ns: string, _pod: string, _c: string, argv: string[]): Promise<RunResult> => {
        execs.push(argv);
        const out = argv.includes('link')
          ? JSON.stringify([
              { id: 12, type: 11, prog_id: 680 },
              { id: 15, type: 11, prog_id: 688 },
              { id: 3, type: 'netns', prog_id: 9 },
            ])
          : '';
        return { command: argv.join(' '), exitCode: 0, stdout: out, stderr: '', failed: false, durationMs: 1 };
      },
    } as unknown as KubeClient;
    for (const mode of ['count', 'enforce'] as const) {
      execs.length = 0;
      await assert.rejects(
        installEna(cluster([agent('ip-10-0-1-5', ['ens5'], client)], mode), await cfgOf(), '/nonexistent-state-dir'),
        (e: any) => {
          assert.equal(e.kind, 'environment');
          assert.match(e.message, /node ip-10-0-1-5 runs 2 tcx program\(s\) \(link ids 12, 15\)/);
          assert.match(e.hint, /--ena-simulator off.*bpf\.enableTCX=false/);
          return true;
        },
      );
      assert.deepEqual(
        execs.map((a) => a.slice(9).join(' ')),
        ['bpftool -j link show'],
        `${mode}: nothing but the check ran on the node`,
      );
    }
  });

  it('tcx links as bpftool prints them: 7.1 (type 11, no device) and >= 7.3 (type tcx, ifindex, attach type)', () => {
    assert.deepEqual(
      tcxLinks([
        { id: 12, type: 11, prog_id: 680 },
        { id: 2, type: 'xdp', prog_id: 5, ifindex: 2 },
      ]),
      [{ id: 12, progId: 680 }],
    );
    assert.deepEqual(tcxLinks([{ id: 15, type: 'tcx', prog_id: 688, ifindex: 2, attach_type: 'tcx_egress' }]), [
      { id: 15, progId: 688, ifindex: 2, attachType: 'tcx_egress' },
    ]);
    assert.deepEqual(tcxLinks([]), []);
    assert.throws(() => tcxLinks({ error: 'x' }), /not an array/);
  });

  it('--ena-simulator: kubeconfig only, three modes, the opt-in guard still first', async () => {
    assert.throws(
      () => validateKubeconfigOptions({ enaSimulator: 'count' }),
      (e: any) => e.kind === 'usage' && /i-know-this-is-not-a-test-cluster/.test(e.message),
    );
    assert.throws(
      () => validateKubeconfigOptions({ iKnowThisIsNotATestCluster: true, enaSimulator: 'on' as never }),
      (e: any) => e.kind === 'usage' && /--ena-simulator "on" is not one of off, count, enforce/.test(e.message),
    );
    for (const m of ['off', 'count', 'enforce'] as const) validateKubeconfigOptions({ iKnowThisIsNotATestCluster: true, enaSimulator: m });
    for (const p of ['lab', 'kind'] as const) {
      await assert.rejects(
        createProvider(p, { enaSimulator: 'off' }),
        (e: any) => e.kind === 'usage' && /--ena-simulator applies to --provider kubeconfig only/.test(e.message),
      );
    }
  });
});
