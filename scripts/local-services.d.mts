/** A TCP port free on 127.0.0.1 right now (also used as a port nothing listens on). */
export function freePort(): Promise<number>;
/** Unlinks every key matching the SCAN `pattern` whose name also passes `keep` (default: all); resolves with how many. */
export function dropKeys(redisUrl: string, pattern: string, keep?: (key: string) => boolean): Promise<number>;
