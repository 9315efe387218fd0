import { BadRequestException, StandardSchemaValidationPipe } from '@nestjs/common';
import { z } from 'zod';
import { isStorableString } from '../common/storable.js';

/** A filter value PostgreSQL can compare (no NUL, no lone surrogate): anything else is a 400, never a query. */
export const filterText = (max: number) =>
  z.string().min(1).max(max).refine(isStorableString, 'must not contain NUL characters or unpaired surrogates');

/** Validates a parameter with its schema: a 400 names each bad field (`limit: Too big: ...`), or `name` for a scalar. */
export function invalid(name = 'value') {
  const key = (segment: PropertyKey | { key: PropertyKey }) => String(typeof segment === 'object' ? segment.key : segment);
  return new StandardSchemaValidationPipe({
    exceptionFactory: (issues) =>
      new BadRequestException(issues.map((i) => `${i.path?.map(key).join('.') || name}: ${i.message}`).join('; ')),
  });
}

export const ONLY_WITH_TOKEN = 'Exists only when an admin token is set (404 otherwise).';
