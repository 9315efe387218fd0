import { BadRequestException, Controller, Get, Query, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { z } from 'zod';
import { AuditLog } from '../audit/audit-log.service.js';
import { errorBody } from '../common/all-exceptions.filter.js';
import { filterText, invalid, ONLY_WITH_TOKEN } from './admin-params.js';
import { AdminTokenGuard } from './admin-token.guard.js';

const MAX_PAGE = 200;

const auditQuery = z.object({
  action: filterText(100).optional().describe('Only this action (`erasure`, `event.replay`, `retention`, ...)'),
  actor: filterText(64).optional().describe('Only this actor (an admin token name, or `system`)'),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50).describe('Page size'),
  cursor: z.string().max(40).optional().describe('`next_cursor` of the previous page'),
});

const auditEntry = z
  .object({
    id: z.string().describe('Increases with every entry'),
    at: z.date(),
    actor: z.string(),
    action: z.string(),
    target: z.string().nullable().describe('An inbox or erasure id, or the HMAC of a person: never an email'),
    counts: z.record(z.string(), z.number()).nullable(),
    request_id: z.string().nullable(),
  })
  .meta({ id: 'AuditEntry' });
const auditPage = z.object({ items: z.array(auditEntry), next_cursor: z.string().nullable() }).meta({ id: 'AuditPage' });
type AuditPage = z.infer<typeof auditPage>;

/** The audit trail, newest first (`audit_log`, append-only). */
@ApiTags('admin')
@ApiBearerAuth('admin')
@ApiUnauthorizedResponse({ description: 'Missing or wrong bearer token', standardSchema: errorBody })
@ApiTooManyRequestsResponse({ description: 'Too many wrong tokens from this client lately: see Retry-After', standardSchema: errorBody })
@Controller('admin/audit')
@UseGuards(AdminTokenGuard)
export class AuditController {
  constructor(private readonly audit: AuditLog) {}

  @Get()
  @ApiOperation({ operationId: 'listAudit', summary: 'The audit log, newest first', description: ONLY_WITH_TOKEN })
  @ApiOkResponse({ description: 'A page of entries; `next_cursor` is null on the last page', standardSchema: auditPage })
  @ApiBadRequestResponse({ description: 'Invalid filter or cursor', standardSchema: errorBody })
  async list(@Query({ schema: auditQuery, pipes: [invalid()] }) q: z.output<typeof auditQuery>): Promise<AuditPage> {
    if (q.cursor !== undefined && !/^[1-9]\d{0,18}$/.test(q.cursor)) throw new BadRequestException('cursor: not a cursor from this API');
    const rows = await this.audit.list({ limit: q.limit + 1, before: q.cursor, action: q.action, actor: q.actor });
    const page = rows.slice(0, q.limit);
    return {
      items: page.map((e) => ({
        id: e.id,
        at: e.at,
        actor: e.actor,
        action: e.action,
        target: e.target,
        counts: e.counts,
        request_id: e.requestId,
      })),
      next_cursor: rows.length > q.limit ? page[page.length - 1].id : null,
    };
  }
}
