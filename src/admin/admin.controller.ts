import {
  BadRequestException,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  NotFoundException,
  Param,
  Post,
  Query,
  StandardSchemaValidationPipe,
  UseGuards,
} from '@nestjs/common';
import { z } from 'zod';
import { isStorableString } from '../common/storable.js';
import { EventDetail } from '../inbox/admin.repository.js';
import { WEBHOOK_EVENT_STATUSES } from '../inbox/webhook-event.entity.js';
import { decodeCursor } from './admin-cursor.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { AdminService, BulkReplayResult, EventPage } from './admin.service.js';

const MAX_PAGE = 200;
const MAX_BULK_REPLAY = 1000;

/** A filter value PostgreSQL can compare (no NUL, no lone surrogate): anything else is a 400, never a query. */
const filterText = (max: number) => z.string().min(1).max(max).refine(isStorableString, 'must not contain NUL characters or unpaired surrogates');

const listQuery = z.object({
  status: z.enum(WEBHOOK_EVENT_STATUSES).optional(),
  event: filterText(200).optional(),
  session_id: filterText(256).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
  cursor: z.string().max(500).optional(),
});

const bulkReplayQuery = z.object({
  status: z.enum(['failed', 'ignored']).default('failed'),
  event: filterText(200).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_BULK_REPLAY).default(100),
});

const eventId = z.uuid({ error: 'must be a uuid' });

const replayResult = z.object({ id: z.uuid(), status: z.literal('received'), job_id: z.string(), queued: z.boolean() });

/** Validates a parameter with its schema: a 400 names each bad field (`limit: Too big: ...`), or `name` for a scalar. */
function invalid(name = 'value') {
  const key = (segment: PropertyKey | { key: PropertyKey }) => String(typeof segment === 'object' ? segment.key : segment);
  return new StandardSchemaValidationPipe({
    exceptionFactory: (issues) => new BadRequestException(issues.map((i) => `${i.path?.map(key).join('.') || name}: ${i.message}`).join('; ')),
  });
}

/** The operator's dead-letter desk. Registered only when ADMIN_TOKEN is set (else these routes 404). */
@Controller('admin/events')
@UseGuards(AdminTokenGuard)
export class AdminController {
  constructor(private readonly admin: AdminService) {}

  @Get()
  list(@Query({ schema: listQuery, pipes: [invalid()] }) q: z.output<typeof listQuery>): Promise<EventPage> {
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    if (q.cursor !== undefined && !after) throw new BadRequestException('cursor: not a cursor from this API');
    return this.admin.list({ status: q.status, event: q.event, sessionId: q.session_id, limit: q.limit, after });
  }

  /** Bulk replay of failed (default) or ignored events, oldest first, at most `limit` (100, max 1000). */
  @Post('replay')
  @HttpCode(202)
  async replayMany(@Query({ schema: bulkReplayQuery, pipes: [invalid()] }) q: z.output<typeof bulkReplayQuery>): Promise<BulkReplayResult> {
    return this.admin.replayMany(q.status, q.limit, q.event);
  }

  @Get(':id')
  async get(@Param('id', { schema: eventId, pipes: [invalid('id')] }) id: string): Promise<EventDetail> {
    const row = await this.admin.get(id);
    if (!row) throw new NotFoundException(`event ${id} not found`);
    return row;
  }

  /** A failed or ignored event goes back to 'received' and through processing under a fresh job id. */
  @Post(':id/replay')
  @HttpCode(202)
  async replay(@Param('id', { schema: eventId, pipes: [invalid('id')] }) id: string): Promise<z.infer<typeof replayResult>> {
    const result = await this.admin.replay(id);
    if (result.outcome === 'not_found') throw new NotFoundException(`event ${id} not found`);
    if (result.outcome === 'conflict') {
      throw new ConflictException(`event ${id} is '${result.status}': only failed or ignored events can be replayed`);
    }
    return { id: result.id, status: 'received', job_id: result.jobId, queued: result.queued };
  }
}
