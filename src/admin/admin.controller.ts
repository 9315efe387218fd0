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
  UseGuards,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { z } from 'zod';
import { errorBody } from '../common/all-exceptions.filter.js';
import { EventDetail, eventDetail } from '../inbox/admin.repository.js';
import { WEBHOOK_EVENT_STATUSES } from '../inbox/webhook-event.entity.js';
import { decodeCursor } from './admin-cursor.js';
import { filterText, invalid, ONLY_WITH_TOKEN } from './admin-params.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { AdminService, BulkReplayResult, bulkReplayResult, EventPage, eventPage } from './admin.service.js';

const MAX_PAGE = 200;
const MAX_BULK_REPLAY = 1000;

// These schemas validate the parameters (the pipe below) and document them (@nestjs/swagger reads
// the same `schema`), so the API and its document cannot disagree.
const listQuery = z.object({
  status: z.enum(WEBHOOK_EVENT_STATUSES).optional().describe('Only events in this state'),
  event: filterText(200).optional().describe('Only this event type'),
  session_id: filterText(256).optional().describe('Only this session'),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50).describe('Page size'),
  cursor: z.string().max(500).optional().describe('`next_cursor` of the previous page'),
});

const bulkReplayQuery = z.object({
  status: z.enum(['failed', 'ignored']).default('failed').describe('Which events'),
  event: filterText(200).optional().describe('Only this event type'),
  limit: z.coerce.number().int().min(1).max(MAX_BULK_REPLAY).default(100).describe('At most this many'),
});

const eventId = z.uuid({ error: 'must be a uuid' });

const replayResult = z.object({ id: z.uuid(), status: z.literal('received'), job_id: z.string(), queued: z.boolean() });

/** The operator's dead-letter desk. Registered only when ADMIN_TOKEN is set (else these routes 404). */
@ApiTags('admin')
@ApiBearerAuth('admin')
@ApiUnauthorizedResponse({ description: 'Missing or wrong bearer token', standardSchema: errorBody })
@ApiTooManyRequestsResponse({ description: 'Too many wrong tokens from this client lately: see Retry-After', standardSchema: errorBody })
@Controller('admin/events')
@UseGuards(AdminTokenGuard)
export class AdminController {
  constructor(private readonly admin: AdminService) {}

  @Get()
  @ApiOperation({ operationId: 'listEvents', summary: 'List inbox events, newest first', description: ONLY_WITH_TOKEN })
  @ApiOkResponse({ description: 'A page of events; `next_cursor` is null on the last page', standardSchema: eventPage })
  @ApiBadRequestResponse({ description: 'Invalid filter or cursor', standardSchema: errorBody })
  list(@Query({ schema: listQuery, pipes: [invalid()] }) q: z.output<typeof listQuery>): Promise<EventPage> {
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    if (q.cursor !== undefined && !after) throw new BadRequestException('cursor: not a cursor from this API');
    return this.admin.list({ status: q.status, event: q.event, sessionId: q.session_id, limit: q.limit, after });
  }

  /** Bulk replay of failed (default) or ignored events, oldest first, at most `limit` (100, max 1000). */
  @Post('replay')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'replayEvents',
    summary: 'Send failed (or ignored) events back through processing, oldest first',
    description: ONLY_WITH_TOKEN,
  })
  @ApiAcceptedResponse({ description: 'Reopened and queued', standardSchema: bulkReplayResult })
  @ApiBadRequestResponse({ description: 'Invalid filter', standardSchema: errorBody })
  async replayMany(@Query({ schema: bulkReplayQuery, pipes: [invalid()] }) q: z.output<typeof bulkReplayQuery>): Promise<BulkReplayResult> {
    return this.admin.replayMany(q.status, q.limit, q.event);
  }

  @Get(':id')
  @ApiOperation({ operationId: 'getEvent', summary: 'One event with its payload', description: ONLY_WITH_TOKEN })
  @ApiOkResponse({ description: 'The event', standardSchema: eventDetail })
  @ApiBadRequestResponse({ description: 'Not a uuid', standardSchema: errorBody })
  @ApiNotFoundResponse({ description: 'No such event', standardSchema: errorBody })
  async get(@Param('id', { schema: eventId, pipes: [invalid('id')] }) id: string): Promise<EventDetail> {
    const row = await this.admin.get(id);
    if (!row) throw new NotFoundException(`event ${id} not found`);
    return row;
  }

  /** A failed or ignored event goes back to 'received' and through processing under a fresh job id. */
  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({
    operationId: 'replayEvent',
    summary: 'Send one failed or ignored event back through processing (fresh job id)',
    description: ONLY_WITH_TOKEN,
  })
  @ApiAcceptedResponse({ description: 'Reopened and queued', standardSchema: replayResult })
  @ApiBadRequestResponse({ description: 'Not a uuid', standardSchema: errorBody })
  @ApiNotFoundResponse({ description: 'No such event', standardSchema: errorBody })
  @ApiConflictResponse({ description: 'The event is not failed or ignored', standardSchema: errorBody })
  async replay(@Param('id', { schema: eventId, pipes: [invalid('id')] }) id: string): Promise<z.infer<typeof replayResult>> {
    const result = await this.admin.replay(id);
    if (result.outcome === 'not_found') throw new NotFoundException(`event ${id} not found`);
    if (result.outcome === 'conflict') {
      throw new ConflictException(`event ${id} is '${result.status}': only failed or ignored events can be replayed`);
    }
    return { id: result.id, status: 'received', job_id: result.jobId, queued: result.queued };
  }
}
