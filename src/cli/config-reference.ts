/**
 * npm run docs:config [-- --check]
 *
 * Writes docs/configuration.md from the configuration schema (src/config/env.schema.ts). With
 * --check it writes nothing and exits 1 when the checked-in file differs from what it would write.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { REFERENCE_COMMAND, REFERENCE_PATH, renderReference } from '../config/reference.js';

// dist/cli/ (or src/cli/) is two levels below the repository root.
const target = new URL(`../../${REFERENCE_PATH}`, import.meta.url);
const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
const rendered = renderReference();

if (values.check) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // Missing counts as stale.
  }
  if (current !== rendered) {
    console.error(`${REFERENCE_PATH} is stale: run ${REFERENCE_COMMAND}`);
    process.exit(1);
  }
  console.log(`${REFERENCE_PATH} is up to date`);
} else {
  writeFileSync(target, rendered);
  console.log(`wrote ${REFERENCE_PATH}`);
}
