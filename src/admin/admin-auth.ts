import { HttpException, HttpStatus } from '@nestjs/common';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { AdminToken, DEFAULT_ADMIN_ACTOR } from '../config/configuration.js';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Failed ADMIN_TOKEN attempts a client may make within FAILURE_WINDOW_SECONDS before it is blocked. */
export const MAX_FAILED_ATTEMPTS = 10;
const FAILURE_WINDOW_SECONDS = 60;
/** How long a client that made too many failed attempts is refused (429), whatever it sends. */
const BLOCK_SECONDS = 300;

/** 429 with the seconds to wait; the caller sets `Retry-After` to the same. */
export class TooManyAttemptsException extends HttpException {
  constructor(readonly retryAfterSeconds: number) {
    super(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        error: 'Too Many Requests',
        message: `too many failed admin token attempts; retry in ${retryAfterSeconds} s`,
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

/** The token of an `Authorization: Bearer <token>` header, if that is what it holds. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '')?.[1];
}

/**
 * The admin token check shared by the admin API and the queue dashboard (ADMIN_TOKEN, actor `admin`,
 * and the named ADMIN_TOKENS), with failed attempts limited per client address
 * (rate-limiter-flexible, in this process's memory): after MAX_FAILED_ATTEMPTS in a minute a client
 * is refused for 5 minutes before its token is even looked at, so guessing is slow whether the
 * guesses are right or wrong. Tokens are compared as equal-length SHA-256 digests, against every
 * token, so timingSafeEqual never throws and timing says nothing about the token or which one
 * matched. (Behind a proxy every client shares the proxy's address: the limit then applies to all
 * together.)
 */
export class AdminAuth {
  private readonly tokens: Array<AdminToken & { digest: Buffer }>;
  private readonly failures = new RateLimiterMemory({
    points: MAX_FAILED_ATTEMPTS,
    duration: FAILURE_WINDOW_SECONDS,
    blockDuration: BLOCK_SECONDS,
  });

  constructor(tokens: AdminToken[] | string) {
    const list = typeof tokens === 'string' ? [{ name: DEFAULT_ADMIN_ACTOR, token: tokens }] : tokens;
    if (list.length === 0 || list.some((t) => !t.token)) throw new Error('AdminAuth needs ADMIN_TOKEN or ADMIN_TOKENS');
    this.tokens = list.map((t) => ({ ...t, digest: sha256(t.token) }));
  }

  /** The actor whose token this is, or undefined. */
  authenticate(candidate: string): string | undefined {
    const digest = sha256(candidate);
    let actor: string | undefined;
    for (const t of this.tokens) if (timingSafeEqual(digest, t.digest)) actor = t.name;
    return actor;
  }

  tokenMatches(candidate: string): boolean {
    return this.authenticate(candidate) !== undefined;
  }

  /** The token of an actor (to key its dashboard sessions), or undefined. */
  tokenOf(actor: string): string | undefined {
    return this.tokens.find((t) => t.name === actor)?.token;
  }

  /**
   * A key for `purpose` derived from every admin token: the same in every process of a deployment,
   * and a new one when a token changes (what it protects then ends, as the browser sessions do).
   */
  keyFor(purpose: string): Buffer {
    const tokens = createHash('sha256');
    for (const t of [...this.tokens].sort((a, b) => a.name.localeCompare(b.name))) tokens.update(t.digest);
    return createHmac('sha256', tokens.digest()).update(purpose).digest();
  }

  /** Throws TooManyAttemptsException while `client` is blocked. */
  async assertNotBlocked(client: string): Promise<void> {
    const state = await this.failures.get(client);
    if (state !== null && state.consumedPoints > MAX_FAILED_ATTEMPTS)
      throw new TooManyAttemptsException(Math.max(1, Math.ceil(state.msBeforeNext / 1000)));
  }

  async recordFailure(client: string): Promise<void> {
    await this.failures.consume(client).catch((res: unknown) => {
      // Rejected with the limiter's state once the client is over the limit: blocked from now on.
      if (!(res instanceof RateLimiterRes)) throw res;
    });
  }
}
