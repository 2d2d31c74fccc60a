// docs/results-schema.json is generated from the zod types in harness/results.ts and checked in; a test keeps
// it current. Regenerate: `npm run build && node dist/harness/report/schema-doc.js --write`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../paths.js';
import { resultsJsonSchema, RESULTS_SCHEMA_VERSION } from '../results.js';

export const schemaDocPath = join(repoRoot, 'docs', 'results-schema.json');

/** The JSON Schema document as checked in: resultsJsonSchema() plus a title and description, 2-space JSON. */
export function schemaDocument(): string {
  const schema = resultsJsonSchema() as Record<string, unknown>;
  const { $schema, ...rest } = schema;
  const doc = {
    $schema,
    title: `notdns results.json (schemaVersion ${RESULTS_SCHEMA_VERSION})`,
    description: 'Generated from harness/results.ts by harness/report/schema-doc.ts; do not edit by hand. See docs/results.md.',
    ...rest,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--write')) {
    writeFileSync(schemaDocPath, schemaDocument());
    process.stdout.write(`wrote ${schemaDocPath}\n`);
  } else {
    process.stdout.write(schemaDocument());
  }
}
