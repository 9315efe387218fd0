/**
 * npm run docs:config
 *
 * Writes docs/configuration.md from the configuration schema (src/config/env.schema.ts);
 * src/config/reference.spec.ts fails `npm test` while the checked-in file differs.
 */
import { writeFileSync } from 'node:fs';
import { REFERENCE_PATH, renderReference } from '../config/reference.js';

// dist/cli/ (or src/cli/) is two levels below the repository root.
const target = new URL(`../../${REFERENCE_PATH}`, import.meta.url);
writeFileSync(target, renderReference());
console.log(`wrote ${REFERENCE_PATH}`);
