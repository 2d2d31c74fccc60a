// --provider kubeconfig (an existing cluster, opt-in): see docs/kind.md, "Existing clusters".
export { createKubeconfigProvider, KubeconfigProvider, KubeconfigCluster, AgentNode, nodeCommandArgv } from './kubeconfig.js';
export { validateKubeconfigOptions, checkContextName, I_KNOW_FLAG, type KubeconfigProviderOptions } from './options.js';
export { parseEthtoolStats, enaCounters, type EnaCounters } from './ethtool.js';
