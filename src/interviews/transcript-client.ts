import type { AxiosResponse } from 'axios';
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { getHeapStatistics } from 'node:v8';
import { parseJsonFaithfully } from '../common/faithful-json.js';
import { classifyHttpError, createHttpClient, findCause, guardedAgents } from '../common/http-client.js';
import { MemoryBudget } from '../common/memory-budget.js';
import { unstorableJsonReason } from '../common/storable.js';
import { checkNotServiceItself, checkUrl, TranscriptError, TranscriptPolicy } from './transcript-policy.js';

export { TranscriptError } from './transcript-policy.js';

export interface TranscriptClientOptions extends TranscriptPolicy {
  timeoutMs: number;
  maxBytes: number;
  /** Heap that transcripts being parsed and stored may hold at once; default: a quarter of V8's heap limit. */
  memoryBudgetBytes?: number;
}

/**
 * Heap bytes one transcript byte costs while it is parsed and stored: the decoded string, the
 * parsed objects and the JSON text of the INSERT (a 10 MiB transcript measured ~37 MB of heap).
 */
export const HEAP_BYTES_PER_TRANSCRIPT_BYTE = 4;

/** A quarter of the heap V8 may grow to (the image caps it with --max-old-space-size). */
export function defaultTranscriptMemoryBudget(): number {
  return Math.floor(getHeapStatistics().heap_size_limit / 4);
}

export const MAX_REDIRECTS = 3;

const GENERIC_TYPES = new Set(['text/plain', 'application/octet-stream', 'binary/octet-stream']);

function isAcceptableContentType(header: string | undefined): boolean {
  if (!header) return true;
  const type = header.split(';')[0].trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json') || GENERIC_TYPES.has(type);
}

function transientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Deeper transcripts are refused: jsonb's parser runs out of stack on deep nesting (real ones are a few levels). */
export const MAX_TRANSCRIPT_DEPTH = 64;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The transcript as it will be stored, or a permanent TranscriptError when it can never be: not UTF-8,
 * not a JSON object or array, or not storable in jsonb (NUL, lone surrogates, too deep). The message
 * never quotes the body: it ends up in last_error and in log lines.
 */
export function parseTranscript(body: Buffer): object {
  let parsed: unknown;
  try {
    // Node 24's JSON.parse can misread an escaped key (faithful-json.ts).
    parsed = parseJsonFaithfully(strictUtf8.decode(body), MAX_TRANSCRIPT_DEPTH);
  } catch (err) {
    const position = /position (\d+)/.exec((err as Error).message)?.[1];
    const why = err instanceof SyntaxError ? `invalid JSON${position ? ` at position ${position}` : ''}` : 'not valid UTF-8';
    throw new TranscriptError(`transcript is not a JSON document (${why})`, true);
  }
  if (typeof parsed !== 'object' || parsed === null)
    throw new TranscriptError('transcript is not a JSON document (not an object or array)', true);
  const problem = unstorableJsonReason(parsed, MAX_TRANSCRIPT_DEPTH);
  if (problem) throw new TranscriptError(`transcript cannot be stored: it ${problem}`, true);
  return parsed;
}

/**
 * Downloads an interview transcript from the URL a payload names, under the policy in
 * transcript-policy.ts (checked on the URL, on every redirect and on every connection), bounded in
 * time (one deadline for the whole download, redirects included) and in size.
 */
export class TranscriptClient {
  private readonly http = createHttpClient({ headers: { accept: 'application/json', 'accept-encoding': 'identity' } });

  /**
   * Parsed transcripts are large (up to ~4x TRANSCRIPT_MAX_BYTES each) and WORKER_CONCURRENCY jobs
   * may hold one each: parsing waits until the transcript's share fits, so a burst of large
   * transcripts slows down instead of running the heap out (a crash under a heap ceiling).
   */
  readonly memory: MemoryBudget;

  constructor(private readonly opts: TranscriptClientOptions) {
    this.memory = new MemoryBudget(opts.memoryBudgetBytes ?? defaultTranscriptMemoryBudget());
  }

  /**
   * Parses a downloaded transcript and runs `use` with it (storing it), once its share of the memory
   * budget is free; the share is held until `use` settles. Invalid JSON is a permanent TranscriptError.
   */
  async parse<T>(body: Buffer, use: (transcript: object) => Promise<T>): Promise<T> {
    return this.memory.run(body.length * HEAP_BYTES_PER_TRANSCRIPT_BYTE, async () => use(parseTranscript(body)));
  }

  /**
   * Downloads the transcript: the body of the last hop, redirects followed and each hop checked
   * against the policy. Throws TranscriptError (permanent or transient).
   */
  async download(rawUrl: string): Promise<Buffer> {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw new TranscriptError('refused transcript URL: not a valid URL', true);
    }
    const { checkAddresses } = checkUrl(url, this.opts);
    // Fresh agents per download: their connections are checked against the hop being fetched.
    const agents = guardedAgents({
      publicOnly: checkAddresses,
      onConnect: (address, port) => checkNotServiceItself(url, address, String(port), this.opts),
    });
    const signal = AbortSignal.timeout(this.opts.timeoutMs);
    try {
      const res = await this.http.get<Readable>(url.href, {
        ...agents,
        signal,
        maxRedirects: MAX_REDIRECTS,
        maxContentLength: this.opts.maxBytes,
        beforeRedirect: (options) => {
          const next = new URL(String(options.href));
          checkUrl(next, this.opts);
          url = next;
        },
      });
      this.checkResponse(res);
      return await buffer(res.data);
    } catch (err) {
      throw this.failure(err, signal);
    } finally {
      agents.httpAgent.destroy();
      agents.httpsAgent.destroy();
    }
  }

  /** Refuses, on its headers, a response whose body will not be a transcript. */
  private checkResponse(res: AxiosResponse<Readable>): void {
    const refuse = (message: string, permanent = true) => {
      res.data.destroy();
      throw new TranscriptError(message, permanent);
    };
    if (res.status < 200 || res.status >= 300) refuse(`transcript host answered ${res.status}`, !transientStatus(res.status));
    const encoding = String(res.headers['content-encoding'] ?? '')
      .trim()
      .toLowerCase();
    if (encoding && encoding !== 'identity')
      refuse(`transcript host answered with content-encoding ${encoding.slice(0, 40)} despite accept-encoding: identity`);
    const type = res.headers['content-type'] as string | undefined;
    if (!isAcceptableContentType(type)) refuse(`transcript is not JSON (content-type ${type?.slice(0, 100)})`);
    if (Number(res.headers['content-length']) > this.opts.maxBytes) refuse(`transcript is larger than ${this.opts.maxBytes} bytes`);
  }

  private failure(err: unknown, signal: AbortSignal): TranscriptError {
    const ours = findCause(err, TranscriptError);
    if (ours) return ours;
    if (signal.aborted) return new TranscriptError(`transcript download timed out after ${this.opts.timeoutMs} ms`, false);
    const { kind, detail } = classifyHttpError(err);
    switch (kind) {
      case 'refused-address':
        return new TranscriptError(`refused transcript URL: ${detail}`, true);
      case 'body-too-large':
        return new TranscriptError(`transcript is larger than ${this.opts.maxBytes} bytes`, true);
      case 'too-many-redirects':
        return new TranscriptError(`transcript host redirected more than ${MAX_REDIRECTS} times`, true);
      case 'bad-redirect':
        return new TranscriptError('transcript host redirected to an invalid URL', true);
      default:
        return new TranscriptError(`transcript download failed: ${detail}`, false);
    }
  }
}
