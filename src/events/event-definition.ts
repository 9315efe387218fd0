import { z } from 'zod';

/** An event type the service handles: its name, the schema of its own fields, and how to document it. */
export interface EventDefinition<P extends z.ZodObject = z.ZodObject> {
  name: string;
  /** The event's own fields, beside those every delivery has (event, session_id, timestamp). */
  payload: P;
  /** One sentence for the OpenAPI document: what the service does with the event. */
  description: string;
  /** An example delivery, first scheme, for the OpenAPI document. */
  example: Record<string, unknown>;
}

const definitions = new Map<string, EventDefinition>();

/**
 * Declares an event type, next to the handler class that handles it (`@HandlesEvent(definition)`):
 * validation at the door, dispatch, the OpenAPI document and the metric labels all follow from the
 * definitions declared this way, so adding an event type touches one file.
 *
 * Definitions are registered when the handler's file is imported. The app module imports every
 * feature module in every role, so the api role, which runs no handlers, still validates and
 * documents each known event; the worker roles refuse to boot when a definition has no handler.
 */
export function defineEvent<P extends z.ZodObject>(definition: EventDefinition<P>): EventDefinition<P> {
  const existing = definitions.get(definition.name);
  if (existing && existing !== (definition as EventDefinition)) throw new Error(`event ${definition.name} is defined twice`);
  definitions.set(definition.name, definition);
  return definition;
}

/** Every declared event type, in declaration order. */
export function knownEvents(): EventDefinition[] {
  return [...definitions.values()];
}

export function eventDefinition(name: string): EventDefinition | undefined {
  return definitions.get(name);
}

/** Metric label for an event type: known types by name, anything else folded to keep cardinality low. */
export function eventLabel(event: string | undefined): string {
  if (event === undefined) return 'unknown';
  return definitions.has(event) ? event : 'other';
}

/** Every value eventLabel gives. */
export function eventLabels(): string[] {
  return [...definitions.keys(), 'other', 'unknown'];
}
