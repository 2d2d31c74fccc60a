// --provider kind (nightly CI): see docs/kind.md.
export { createKindProvider, KindProvider, KindCluster, UNREACHABLE_EMULATION, type KindProviderOptions } from './kind.js';
export { kindDoctor, doctorProblems, type DoctorCheck } from './doctor.js';
export { KindNode } from './node.js';
