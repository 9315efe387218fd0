import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { validateDelivery } from '../events/delivery.js';
import { knownEvents } from '../events/event-definition.js';
import { EventHandler, HandlesEvent, PermanentFailure } from '../events/event-handler.js';
import { ClaimedRow } from '../inbox/processing.repository.js';
import { ATTR, inSpan, SPAN } from '../tracing/spans.js';

/**
 * Hands each claimed row to the handler of its event type. Handlers are the providers marked
 * @HandlesEvent(definition) in the loaded feature modules; boot stops when a defined event type has
 * no handler, or two. Event types nobody defined are recorded and end 'ignored'.
 */
@Injectable()
export class EventDispatcher implements OnModuleInit {
  private readonly handlers = new Map<string, EventHandler>();

  constructor(private readonly discovery: DiscoveryService) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders({ metadataKey: HandlesEvent.KEY })) {
      const definition = this.discovery.getMetadataByDecorator(HandlesEvent, wrapper)!;
      if (this.handlers.has(definition.name)) throw new Error(`Two handlers registered for event type ${definition.name}`);
      this.handlers.set(definition.name, wrapper.instance as EventHandler);
    }
    const missing = knownEvents().filter((d) => !this.handlers.has(d.name));
    if (missing.length > 0) throw new Error(`No handler registered for event type(s): ${missing.map((d) => d.name).join(', ')}`);
  }

  /** Validates the row's payload again (it came through a queue) and runs its handler; 'ignored' without one. */
  async dispatch(row: ClaimedRow, requestId?: string): Promise<'processed' | 'ignored'> {
    const delivery = validateDelivery(row.payload);
    if (!delivery.ok) throw new PermanentFailure(`invalid payload: ${delivery.message}`);
    const { event, sessionId, payload } = delivery.value;
    const handler = this.handlers.get(event);
    if (!handler) return 'ignored';
    await inSpan(SPAN.handle, { [ATTR.eventType]: event, [ATTR.eventId]: row.id, [ATTR.sessionId]: sessionId }, () =>
      handler.handle({ eventId: row.id, event, sessionId, payload, requestId }),
    );
    return 'processed';
  }
}
