import { z } from 'zod';

export const KNOWN_EVENTS = ['interview.completed', 'session.feedback_submitted'] as const;
export type KnownEvent = (typeof KNOWN_EVENTS)[number];

export function isKnownEvent(event: string): event is KnownEvent {
  return (KNOWN_EVENTS as readonly string[]).includes(event);
}

/** Metric label for an event type: known types by name, anything else folded to keep cardinality low. */
export function eventLabel(event: string | undefined): string {
  if (event === undefined) return 'unknown';
  return isKnownEvent(event) ? event : 'other';
}

const MAX_DEPTH = 32;

/**
 * The platform's first-scheme body. Fields beyond these are kept as they are: the platform adds
 * fields and event types, and a receiver must record what it does not (yet) understand.
 */
export const deliverySchema = z.looseObject({
  event: z.string().trim().min(1).max(200).regex(/^[\w.:-]+$/, 'must be a dotted event name'),
  session_id: z.string().trim().min(1).max(256),
  invitee_email: z.email().max(320).optional(),
  transcript_url: z.url({ protocol: /^https?$/ }).max(4096).optional(),
  total_minutes: z.number().finite().min(0).max(100_000).optional(),
  timestamp: z.iso.datetime({ offset: true }).optional(),
  feedback: z.record(z.string(), z.unknown()).optional(),
});

export type Delivery = z.infer<typeof deliverySchema>;

export interface NormalisedEvent {
  event: string;
  sessionId: string;
  idempotencyKey: string;
  /** First-scheme shape, whichever shape arrived: what is stored and processed. */
  payload: Delivery;
}

export type ParseResult = { ok: true; value: NormalisedEvent } | { ok: false; message: string; event?: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function idempotencyKey(event: string, sessionId: string): string {
  return `${event}:${sessionId}`;
}

/** Parses raw bytes (strict UTF-8, then JSON) and validates them. Never throws. */
export function parseDelivery(raw: Buffer | undefined): ParseResult {
  if (!raw || raw.length === 0) return { ok: false, message: 'request body is empty' };
  let body: unknown;
  try {
    body = JSON.parse(utf8.decode(raw));
  } catch (err) {
    return { ok: false, message: `request body is not valid JSON: ${(err as Error).message}` };
  }
  return validateDelivery(body);
}

/**
 * Validates a parsed (signature-checked) body. Accepts the first scheme's top-level fields and the
 * newer `{ type, data }` envelope, and normalises both to the first. Never throws.
 */
export function validateDelivery(body: unknown): ParseResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'request body must be a JSON object' };
  }
  const problem = storageProblem(body);
  if (problem) return { ok: false, message: problem };

  const envelope = body as Record<string, unknown>;
  let candidate: Record<string, unknown> = envelope;
  if (envelope.event === undefined && typeof envelope.type === 'string') {
    const data = envelope.data;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      return { ok: false, message: 'data: must be an object when the body uses the { type, data } envelope', event: envelope.type };
    }
    candidate = { ...(data as Record<string, unknown>), event: envelope.type };
  }

  const parsed = deliverySchema.safeParse(candidate);
  if (!parsed.success) {
    const event = typeof candidate.event === 'string' ? candidate.event : undefined;
    const message = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || 'body'}: ${i.message}`)
      .join('; ');
    return { ok: false, message, event };
  }
  const value = parsed.data;
  return {
    ok: true,
    value: { event: value.event, sessionId: value.session_id, idempotencyKey: idempotencyKey(value.event, value.session_id), payload: value },
  };
}

/**
 * PostgreSQL's jsonb refuses NUL characters and unpaired surrogates that JSON.parse accepts; one such
 * body in a batched INSERT would fail the whole batch. Also bounds nesting depth. Iterative, so a
 * deeply nested body cannot overflow the stack.
 */
function storageProblem(root: object): string | undefined {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value === 'string') {
      if (!isStorable(value)) return 'request body contains a NUL character or an unpaired surrogate';
    } else if (typeof value === 'object' && value !== null) {
      if (depth > MAX_DEPTH) return `request body is nested deeper than ${MAX_DEPTH} levels`;
      if (Array.isArray(value)) {
        for (const item of value) stack.push([item, depth + 1]);
      } else {
        for (const [key, item] of Object.entries(value)) {
          if (!isStorable(key)) return 'request body contains a NUL character or an unpaired surrogate';
          stack.push([item, depth + 1]);
        }
      }
    }
  }
  return undefined;
}

function isStorable(s: string): boolean {
  return !s.includes('\u0000') && s.isWellFormed();
}
