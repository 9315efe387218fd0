import secureJsonParse from 'secure-json-parse';
import { z } from 'zod';
import { parseJsonFaithfully } from '../common/faithful-json.js';
import { isStorableTimestamp, storableText, unstorableJsonReason } from '../common/storable.js';
import { eventDefinition } from './event-definition.js';

const MAX_DEPTH = 32;

/**
 * The fields every delivery has (first scheme). Fields beyond these are kept as they are: the
 * platform adds fields and event types, and a receiver must record what it does not (yet)
 * understand. Each known event adds the schema of its own fields (defineEvent).
 */
export const deliveryFields = z.looseObject({
  event: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .regex(/^[\w.:-]+$/, 'must be a dotted event name'),
  session_id: z.string().trim().min(1).max(256),
  timestamp: z.iso
    .datetime({ offset: true })
    .refine(isStorableTimestamp, 'must be a date-time with a year from 0001 to 9999 and a UTC offset within ±15:59')
    .optional(),
});

export type DeliveryFields = z.infer<typeof deliveryFields>;

// Composed once per event type: zod compiles each new schema on its first parse (that was 12 % of
// the service's CPU per delivery when a schema was built per request).
const composed = new Map<string, z.ZodObject>();

/** The schema a delivery of this event type must pass: the common fields and, for a known event, its own. */
export function deliverySchemaFor(event: unknown): z.ZodObject {
  const definition = typeof event === 'string' ? eventDefinition(event.trim()) : undefined;
  if (!definition) return deliveryFields;
  let schema = composed.get(definition.name);
  if (!schema) composed.set(definition.name, (schema = deliveryFields.extend(definition.payload.shape)));
  return schema;
}

export interface NormalisedEvent {
  event: string;
  sessionId: string;
  idempotencyKey: string;
  /** First-scheme shape, whichever shape arrived: what is processed (as JavaScript reads it). */
  payload: DeliveryFields & Record<string, unknown>;
  /**
   * The JSON text it was parsed from (parseDelivery), which the inbox stores: PostgreSQL's jsonb keeps
   * every digit of a number that JavaScript would round (beyond 2^53, or 17 significant digits).
   * `envelope`: the text is the `{ type, data }` shape, stored normalised as `payload` is.
   */
  source?: { text: string; envelope: boolean };
}

export type ParseResult = { ok: true; value: NormalisedEvent } | { ok: false; message: string; event?: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The inbox's unique key for a delivery: `${event}:${session_id}`, with every `:` in the event name
 * written `%3A`. Event names cannot contain `%`, so the first `:` of a key always ends the event name
 * and no two (event, session_id) pairs share a key, even when both contain colons.
 */
export function idempotencyKey(event: string, sessionId: string): string {
  return `${event.replaceAll(':', '%3A')}:${sessionId}`;
}

/**
 * Parses the signed raw bytes of a delivery (strict UTF-8, then JSON) and validates them. Never
 * throws. Runs only after the signature was verified over these bytes (WebhookSignatureGuard).
 */
export function parseDelivery(raw: Buffer | undefined): ParseResult {
  if (!raw || raw.length === 0) return { ok: false, message: 'request body is empty' };
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return { ok: false, message: 'request body is not valid UTF-8' };
  }
  let body: unknown;
  try {
    // Node 24's JSON.parse can misread an escaped key (faithful-json.ts).
    body = parseJsonFaithfully(text, MAX_DEPTH, (t) => secureJsonParse(t));
  } catch (err) {
    return { ok: false, message: `request body is not valid JSON: ${storableText((err as Error).message, 200)}` };
  }
  const result = validateDelivery(body);
  if (result.ok) result.value.source = { text, envelope: isEnvelope(body as Record<string, unknown>) };
  return result;
}

/** The newer `{ type, data }` body shape (no top-level `event`). */
function isEnvelope(body: Record<string, unknown>): body is { type: string } & Record<string, unknown> {
  return body.event === undefined && typeof body.type === 'string';
}

/**
 * Validates a parsed body, at the door and again before processing (job payloads skip the HTTP
 * pipes). Accepts the first scheme's top-level fields and the newer `{ type, data }` envelope, and
 * normalises both to the first. Never throws.
 */
export function validateDelivery(body: unknown): ParseResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'request body must be a JSON object' };
  }
  const problem = unstorableJsonReason(body, MAX_DEPTH);
  if (problem) return { ok: false, message: `request body ${problem}` };

  const envelope = body as Record<string, unknown>;
  let candidate: Record<string, unknown> = envelope;
  if (isEnvelope(envelope)) {
    const data = envelope.data;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      return { ok: false, message: 'data: must be an object when the body uses the { type, data } envelope', event: envelope.type };
    }
    candidate = { ...(data as Record<string, unknown>), event: envelope.type };
  }

  const parsed = deliverySchemaFor(candidate.event).safeParse(candidate);
  if (!parsed.success) {
    const event = typeof candidate.event === 'string' ? candidate.event : undefined;
    const message = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || 'body'}: ${i.message}`)
      .join('; ');
    return { ok: false, message, event };
  }
  const value = parsed.data as NormalisedEvent['payload'];
  return {
    ok: true,
    value: {
      event: value.event,
      sessionId: value.session_id,
      idempotencyKey: idempotencyKey(value.event, value.session_id),
      payload: value,
    },
  };
}
