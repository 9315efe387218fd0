import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureScheme } from '../inbox/webhook-event.entity.js';

export const SIGNATURE_HEADER = 'x-webhook-signature';
export const TIMESTAMPED_SIGNATURE_HEADER = 'x-interviewrelay-signature';
export const TIMESTAMP_HEADER = 'x-interviewrelay-timestamp';

/** What the signature headers hold, as the OpenAPI document states it (the check also trims, and takes `SHA256=`). */
export const SIGNATURE_PATTERN = '^(sha256=)?[0-9a-fA-F]{64}$';
/** What the timestamp header holds: Unix seconds. */
export const TIMESTAMP_PATTERN = '^[0-9]{1,12}$';

const HEX_SHA256 = /^[0-9a-f]{64}$/i;
const UNIX_SECONDS = new RegExp(TIMESTAMP_PATTERN);

export type SignatureCheck = { ok: true; scheme: SignatureScheme } | { ok: false; reason: string };

export interface SignatureInput {
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
  secrets: readonly string[];
  toleranceSeconds: number;
  nowSeconds?: number;
}

function header(headers: SignatureInput['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Parses `<hex>` or `sha256=<hex>` into 32 bytes; anything else is null, never an exception. */
export function parseHexSignature(value: string | undefined): Buffer | null {
  if (value === undefined) return null;
  let v = value.trim();
  if (v.toLowerCase().startsWith('sha256=')) v = v.slice('sha256='.length);
  if (!HEX_SHA256.test(v)) return null;
  return Buffer.from(v, 'hex');
}

function matchesAny(expected: Buffer, secrets: readonly string[], ...parts: Buffer[]): boolean {
  let matched = false;
  // Every secret is tried (no early exit), so timing does not reveal which one matched.
  for (const secret of secrets) {
    const mac = createHmac('sha256', secret);
    for (const part of parts) mac.update(part);
    // Both sides are 32 bytes here (checked by parseHexSignature), so timingSafeEqual cannot throw.
    if (timingSafeEqual(mac.digest(), expected)) matched = true;
  }
  return matched;
}

/**
 * Verifies a delivery against the platform's two schemes:
 * - `X-InterviewRelay-Signature` + `X-InterviewRelay-Timestamp`: HMAC over `${timestamp}.${rawBody}`,
 *   refused outside the tolerance window (replays);
 * - `X-Webhook-Signature`: HMAC over the raw body.
 * The newer scheme wins when its header is present.
 */
export function verifyWebhookSignature(input: SignatureInput): SignatureCheck {
  const { rawBody, headers, secrets, toleranceSeconds } = input;
  const timestamped = header(headers, TIMESTAMPED_SIGNATURE_HEADER);
  if (timestamped !== undefined) {
    const signature = parseHexSignature(timestamped);
    if (!signature) return { ok: false, reason: 'malformed X-InterviewRelay-Signature' };
    const timestamp = header(headers, TIMESTAMP_HEADER)?.trim();
    if (!timestamp || !UNIX_SECONDS.test(timestamp)) {
      return { ok: false, reason: 'missing or malformed X-InterviewRelay-Timestamp' };
    }
    const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
    if (Math.abs(now - Number(timestamp)) > toleranceSeconds) {
      return { ok: false, reason: 'timestamp outside the tolerance window' };
    }
    return matchesAny(signature, secrets, Buffer.from(`${timestamp}.`), rawBody)
      ? { ok: true, scheme: 'timestamped' }
      : { ok: false, reason: 'signature mismatch' };
  }
  const plain = header(headers, SIGNATURE_HEADER);
  if (plain === undefined) return { ok: false, reason: 'missing signature header' };
  const signature = parseHexSignature(plain);
  if (!signature) return { ok: false, reason: 'malformed X-Webhook-Signature' };
  return matchesAny(signature, secrets, rawBody) ? { ok: true, scheme: 'signature' } : { ok: false, reason: 'signature mismatch' };
}

/** Signs a body the way the platform does; used by tests, the benchmark and `npm run send`. */
export function signDelivery(
  body: string | Buffer,
  secret: string,
  scheme: SignatureScheme = 'signature',
  timestamp = Math.floor(Date.now() / 1000),
): Record<string, string> {
  if (scheme === 'timestamped') {
    const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
    return { [TIMESTAMPED_SIGNATURE_HEADER]: mac, [TIMESTAMP_HEADER]: String(timestamp) };
  }
  return { [SIGNATURE_HEADER]: createHmac('sha256', secret).update(body).digest('hex') };
}
