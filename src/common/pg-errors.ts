/** The SQLSTATE of a failed statement: pg's DatabaseError carries it, and TypeORM's QueryFailedError copies it. */
export function sqlState(err: unknown): string | undefined {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = typeof e?.code === 'string' ? e.code : e?.driverError?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Whether a statement failed because of the data it carried rather than the database's state, so
 * that running it again with the same data cannot succeed: class 22 (data exception: a value out of
 * range, an invalid text or JSON encoding), class 23 (integrity constraint violation) except
 * 23505 (unique_violation: a race between concurrent writers, which a retry resolves), and class 54
 * (program limit exceeded: a value too large or nested too deep).
 */
export function isDataError(err: unknown): boolean {
  const code = sqlState(err);
  if (code === undefined) return false;
  return code.startsWith('22') || code.startsWith('54') || (code.startsWith('23') && code !== '23505');
}
