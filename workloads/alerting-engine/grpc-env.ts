// Imported first by main.ts, before anything loads grpc-js: grpc-js reads GRPC_NODE_USE_ALTERNATIVE_RESOLVER once,
// when it loads, and only with it does its DNS resolver honour the server of `dns://server/name` (dns-round-robin
// points it at node-local DNS). Other modes keep grpc-js's default (getaddrinfo).
const argv = process.argv.join(' ');
if (/--discovery[ =]dns-round-robin\b/.test(argv)) process.env.GRPC_NODE_USE_ALTERNATIVE_RESOLVER ??= 'true';
export {};
