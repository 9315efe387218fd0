import { getSchemaPath } from '@nestjs/swagger';
import { z } from 'zod';
import { deliveryFields } from '../events/delivery.js';
import { knownEvents } from '../events/event-definition.js';

/** Component name of an event's schema: interview.completed → InterviewCompleted. */
const eventSchemaName = (event: string) => event.replace(/(^|[._:-])(\w)/g, (_m, _sep: string, c: string) => c.toUpperCase());

/**
 * What a delivery may be, by component name: each known event (the common fields, its own, and its
 * name), any other event type, and the newer envelope. Built from the validation schemas and the
 * event registry when the document is built: the registry is filled once the feature files are
 * imported (src/features.ts), which may be after this file's decorators ran.
 */
export function deliverySchemas(): Record<string, z.ZodType> {
  const events = knownEvents().map((d): [string, z.ZodType] => [
    eventSchemaName(d.name),
    deliveryFields
      .extend(d.payload.shape)
      .extend({ event: z.literal(d.name) })
      .meta({ description: d.description, example: d.example }),
  ]);
  return {
    ...Object.fromEntries(events),
    OtherEvent: deliveryFields.meta({
      description:
        'Any other event type: recorded and answered 200 like the others, then marked `ignored` (replayable once a handler exists).',
      example: { event: 'interview.scheduled', session_id: 'sess_8f2k1', timestamp: '2026-11-27T09:00:00Z' },
    }),
    // validateDelivery (src/events/delivery.ts) unwraps it.
    Envelope: z.object({ type: z.string().meta({ example: 'interview.completed' }), data: z.record(z.string(), z.unknown()) }).meta({
      description:
        'The newer `{ type, data }` shape: `data` holds the fields of the event above it, without `event`. Normalised to the first shape before storage.',
      example: { type: 'session.feedback_submitted', data: { session_id: 'sess_8f2k1', feedback: { rating: 4 } } },
    }),
  };
}

/**
 * The request body's schema: one of deliverySchemas. `oneOf` is a getter so that it lists the
 * events registered when the document is built rather than those registered when the controller's
 * decorators ran.
 */
export const deliveryBodySchema = {
  get oneOf() {
    return Object.keys(deliverySchemas()).map((name) => ({ $ref: getSchemaPath(name) }));
  },
};
