// Providers by name: the one place that knows which providers exist and what each needs before it can start.
// kind and kubeconfig are loaded only when asked for (the Kubernetes client is large).
import { NotdnsError } from '../errors.js';
import { CAPABILITIES } from './capabilities.js';
import type { Capabilities, Provider, ProviderName } from './types.js';
import type { KubeconfigProviderOptions } from './kubeconfig/options.js';

export const PROVIDER_NAMES = ['lab', 'kind', 'kubeconfig'] as const satisfies readonly ProviderName[];

export interface ProviderOptions {
  /** kubeconfig: the explicit opt-in (--i-know-this-is-not-a-test-cluster). */
  iKnowThisIsNotATestCluster?: boolean;
  /** kubeconfig: the context to use. */
  context?: string;
  /** kubeconfig: the pod network, when the nodes do not say it (--pod-cidr). */
  podCidr?: string;
  /** kubeconfig: --ena-simulator off|count|enforce (default off: the nodes' real ENA counters, nothing attached). */
  enaSimulator?: string;
}

export function capabilitiesOf(name: ProviderName): Capabilities {
  return CAPABILITIES[name];
}

/** The lab creates network namespaces, veth pairs and tc programs: root only. */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new NotdnsError(`${what} needs root: the lab creates network namespaces, veth pairs and tc programs.`, {
      kind: 'environment',
      hint: 'Run it as root (e.g. `sudo bin/notdns ...`); `notdns doctor` checks everything else.',
    });
  }
}

export async function createProvider(name: ProviderName, opts: ProviderOptions = {}): Promise<Provider> {
  if (opts.enaSimulator !== undefined && name !== 'kubeconfig') {
    throw new NotdnsError(
      `--ena-simulator applies to --provider kubeconfig only: ${name} has no real ENA, it always simulates the allowance (the experiment's ena settings).`,
      { kind: 'usage' },
    );
  }
  switch (name) {
    case 'lab': {
      requireRoot('the lab provider');
      const { LabProvider } = await import('./lab/lab.js');
      return new LabProvider();
    }
    case 'kind': {
      const { createKindProvider } = await import('./kind/index.js');
      return createKindProvider({});
    }
    case 'kubeconfig': {
      const { createKubeconfigProvider } = await import('./kubeconfig/index.js');
      return createKubeconfigProvider({
        iKnowThisIsNotATestCluster: !!opts.iKnowThisIsNotATestCluster,
        context: opts.context,
        podCidr: opts.podCidr,
        enaSimulator: opts.enaSimulator as KubeconfigProviderOptions['enaSimulator'],
      });
    }
  }
}
