// A small, real schema check for Kubernetes objects, driven by @kubernetes/client-node's generated models
// (generated from the Kubernetes OpenAPI spec): every field must exist in the model (catches typos and wrong
// nesting), have the model's type, and every field the model declares required (no `?` in the generated .d.ts)
// must be present. CRDs notdns uses (CiliumLocalRedirectPolicy) get a small vendored schema below.
import * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

interface Attr {
  name: string;
  baseName: string;
  type: string;
}
type Model = { getAttributeTypeMap(): Attr[] };

/** apiVersion/kind pairs notdns applies, and their model class. */
export const KNOWN_KINDS: Record<string, string> = {
  'v1/Namespace': 'V1Namespace',
  'v1/Service': 'V1Service',
  'v1/ServiceAccount': 'V1ServiceAccount',
  'v1/ConfigMap': 'V1ConfigMap',
  'apps/v1/Deployment': 'V1Deployment',
  'apps/v1/DaemonSet': 'V1DaemonSet',
  'batch/v1/Job': 'V1Job',
};

const require = createRequire(import.meta.url);
const modelsDir = join(dirname(require.resolve('@kubernetes/client-node')), 'gen', 'models');
const requiredCache = new Map<string, string[]>();

/** Required properties of a generated model: `'name': T;` (optional ones are `'name'?: T;`). */
export function requiredFields(typeName: string): string[] {
  let r = requiredCache.get(typeName);
  if (!r) {
    const dts = readFileSync(join(modelsDir, `${typeName}.d.ts`), 'utf8');
    r = [...dts.matchAll(/^ {4}'([A-Za-z0-9_$]+)': /gm)].map((m) => m[1]!);
    requiredCache.set(typeName, r);
  }
  return r;
}

function model(typeName: string): Model | undefined {
  const m = (k8s as unknown as Record<string, unknown>)[typeName] as Model | undefined;
  return m && typeof m.getAttributeTypeMap === 'function' ? m : undefined;
}

export function validateAs(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const err = (what: string) => [`${path}: ${what} (got ${JSON.stringify(value)?.slice(0, 60)})`];
  switch (type) {
    case 'string':
      return typeof value === 'string' ? [] : err('expected a string');
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? [] : err('expected a number');
    case 'boolean':
      return typeof value === 'boolean' ? [] : err('expected a boolean');
    case 'Date':
      return typeof value === 'string' ? [] : err('expected a timestamp string');
    case 'IntOrString':
      return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)) ? [] : err('expected an int or a string');
    case 'any':
      return [];
  }
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) return Array.isArray(value) ? value.flatMap((v, i) => validateAs(v, arr[1]!, `${path}[${i}]`)) : err('expected a list');
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== 'object' || Array.isArray(value)) return err('expected a map');
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => validateAs(v, map[1]!, `${path}.${k}`));
  }
  const m = model(type);
  if (!m) return [`${path}: no model ${type} in @kubernetes/client-node`];
  if (typeof value !== 'object' || Array.isArray(value)) return err(`expected an object (${type})`);
  const attrs = m.getAttributeTypeMap();
  const out: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const a = attrs.find((x) => x.baseName === k);
    if (!a) {
      out.push(`${path}.${k}: unknown field for ${type}`);
      continue;
    }
    out.push(...validateAs(v, a.type, `${path}.${k}`));
  }
  for (const r of requiredFields(type)) {
    const a = attrs.find((x) => x.name === r);
    if ((value as Record<string, unknown>)[a?.baseName ?? r] === undefined) out.push(`${path}.${a?.baseName ?? r}: required by ${type}`);
  }
  return out;
}

/** Errors of one object (empty when valid). Unknown apiVersion/kind pairs are errors too. */
export function validateObject(o: { apiVersion?: string; kind?: string; [k: string]: unknown }): string[] {
  const key = `${o.apiVersion}/${o.kind}`;
  const name = `${o.kind}/${(o.metadata as { name?: string } | undefined)?.name ?? '?'}`;
  if (key === 'cilium.io/v2/CiliumLocalRedirectPolicy') return validateLrp(o).map((e) => `${name}${e}`);
  const t = KNOWN_KINDS[key];
  if (!t) return [`${name}: unknown apiVersion/kind pair ${key}`];
  const errs = validateAs(o, t, name);
  if (!(o.metadata as { name?: string } | undefined)?.name) errs.push(`${name}: metadata.name is required`);
  return errs;
}

/** The parts of the CiliumLocalRedirectPolicy CRD (cilium.io/v2) notdns relies on. */
export function validateLrp(o: Record<string, unknown>): string[] {
  const out: string[] = [];
  const spec = o.spec as Record<string, any> | undefined;
  const fe = spec?.redirectFrontend,
    be = spec?.redirectBackend;
  if (!fe) out.push('.spec.redirectFrontend: required');
  else {
    const keys = Object.keys(fe);
    if (keys.length !== 1 || !['serviceMatcher', 'addressMatcher'].includes(keys[0]!))
      out.push('.spec.redirectFrontend: exactly one of serviceMatcher, addressMatcher');
    if (fe.serviceMatcher && (typeof fe.serviceMatcher.serviceName !== 'string' || typeof fe.serviceMatcher.namespace !== 'string'))
      out.push('.spec.redirectFrontend.serviceMatcher: serviceName and namespace are required');
  }
  if (!be) out.push('.spec.redirectBackend: required');
  else {
    if (!be.localEndpointSelector || typeof be.localEndpointSelector !== 'object')
      out.push('.spec.redirectBackend.localEndpointSelector: required');
    if (!Array.isArray(be.toPorts) || be.toPorts.length === 0) out.push('.spec.redirectBackend.toPorts: required, non-empty');
    for (const [i, p] of (be.toPorts ?? []).entries()) {
      if (typeof p.port !== 'string' || !/^\d+$/.test(p.port))
        out.push(`.spec.redirectBackend.toPorts[${i}].port: a port number as a string`);
      if (!['TCP', 'UDP', 'SCTP'].includes(p.protocol)) out.push(`.spec.redirectBackend.toPorts[${i}].protocol: TCP, UDP or SCTP`);
    }
  }
  const extra = Object.keys(spec ?? {}).filter(
    (k) => !['redirectFrontend', 'redirectBackend', 'skipRedirectFromBackend', 'description'].includes(k),
  );
  if (extra.length) out.push(`.spec: unknown fields ${extra.join(', ')}`);
  return out;
}
