// Loads workloads/proto/*.proto at run time with @grpc/proto-loader. The .proto files are not copied by tsc, so
// they are looked up next to this module (source layout) and from dist/workloads/common/ back to the source tree.
// NOTDNS_PROTO_DIR overrides both (for images that ship the protos elsewhere).
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface QueryRequest {
  query: string;
  delay_ms: number;
  client_id: string;
}
export interface QueryResponse {
  result: string;
  server_id: string;
}
export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
export interface HealthCheckRequest {
  service: string;
}
export interface HealthCheckResponse {
  status: ServingStatus;
}

export const METRICS_SERVICE = 'notdns.v1.Metrics';

export interface Protos {
  /** Service definition for server.addService (method Query). */
  metricsService: grpc.ServiceDefinition;
  /** The Query method: path and (de)serializers for grpc.Client.makeUnaryRequest. */
  query: grpc.MethodDefinition<QueryRequest, QueryResponse>;
  healthService: grpc.ServiceDefinition;
  healthCheck: grpc.MethodDefinition<HealthCheckRequest, HealthCheckResponse>;
}

export function protoDir(): string {
  const candidates = [
    process.env.NOTDNS_PROTO_DIR,
    fileURLToPath(new URL('../proto/', import.meta.url)),
    fileURLToPath(new URL('../../../workloads/proto/', import.meta.url)),
  ].filter((d): d is string => !!d);
  const found = candidates.find((d) => existsSync(join(d, 'metrics.proto')));
  if (!found) {
    throw new Error(`metrics.proto not found in ${candidates.join(', ')} (set NOTDNS_PROTO_DIR to the folder that holds it)`);
  }
  return found;
}

let cached: Protos | undefined;

export function loadProtos(): Protos {
  if (cached) return cached;
  const dir = protoDir();
  const def = protoLoader.loadSync([join(dir, 'metrics.proto'), join(dir, 'health.proto')], {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [dir],
  });
  const metricsService = def['notdns.v1.Metrics'] as grpc.ServiceDefinition;
  const healthService = def['grpc.health.v1.Health'] as grpc.ServiceDefinition;
  if (!metricsService?.Query || !healthService?.Check) throw new Error(`unexpected contents in ${dir}: services Metrics/Health missing`);
  cached = {
    metricsService,
    query: metricsService.Query as grpc.MethodDefinition<QueryRequest, QueryResponse>,
    healthService,
    healthCheck: healthService.Check as grpc.MethodDefinition<HealthCheckRequest, HealthCheckResponse>,
  };
  return cached;
}
