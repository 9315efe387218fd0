import { BadRequestException, Body, Controller, Get, HttpCode, NotFoundException, Param, Post, Query, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { z } from 'zod';
import { errorBody } from '../common/all-exceptions.filter.js';
import { isStorableString } from '../common/storable.js';
import { ErasureService, ErasureView, erasureView, SubjectRequest } from '../privacy/erasure.service.js';
import { SubjectAccessService, SubjectExport } from '../privacy/subject-access.service.js';
import { invalid, ONLY_WITH_TOKEN } from './admin-params.js';
import { AdminTokenGuard } from './admin-token.guard.js';

const email = z
  .string()
  .trim()
  .toLowerCase()
  .min(1, 'must not be empty')
  .max(320)
  .pipe(z.email({ error: 'must be an email address' }));
const sessionId = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(256)
  .refine(isStorableString, 'must not contain NUL characters or unpaired surrogates');

/** Exactly one of `email` or `session_id`; anything else is named in the 400. */
function subjectOf(fields: { email?: string; session_id?: string }): SubjectRequest {
  if (fields.email !== undefined && fields.session_id !== undefined) throw new BadRequestException('give email or session_id, not both');
  if (fields.email !== undefined) return { email: fields.email };
  if (fields.session_id !== undefined) return { sessionId: fields.session_id };
  throw new BadRequestException('email or session_id is required');
}

const erasureBody = z
  .strictObject({
    email: email.optional().describe('The person, by the invitee email the platform sent (trimmed, lower-cased)'),
    session_id: sessionId.optional().describe('One session, as the platform sent it'),
  })
  .meta({ id: 'ErasureRequest' });

const subjectQuery = z.strictObject({
  email: email.optional().describe('The person, by email'),
  session_id: sessionId.optional().describe('One session'),
});

const subjectExport = z
  .object({
    subject: z.object({ email: z.string().optional(), session_ids: z.array(z.string()) }),
    erased: z.boolean().describe('The subject (or one of its sessions) was erased: its deliveries are no longer stored'),
    generated_at: z.date(),
    records: z.record(z.string(), z.record(z.string(), z.array(z.unknown()))).describe('Per holder, per kind of record'),
  })
  .meta({ id: 'SubjectExport' });

const erasureId = z.uuid({ error: 'must be a uuid' });

/**
 * The personal-data desk (docs/privacy.md): erasure (GDPR art. 17) and subject access (art. 15).
 * Registered with the admin API: only with an admin token, and every call is audited.
 */
@ApiTags('privacy')
@ApiBearerAuth('admin')
@ApiUnauthorizedResponse({ description: 'Missing or wrong bearer token', standardSchema: errorBody })
@ApiTooManyRequestsResponse({ description: 'Too many wrong tokens from this client lately: see Retry-After', standardSchema: errorBody })
@Controller('admin')
@UseGuards(AdminTokenGuard)
export class PrivacyController {
  constructor(
    private readonly erasures: ErasureService,
    private readonly access: SubjectAccessService,
  ) {}

  @Post('erasures')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'eraseSubject',
    summary: 'Erase everything held about a person (by email) or a session, and keep it erased when the platform redelivers',
    description: `${ONLY_WITH_TOKEN} Idempotent: erasing again answers zero counts. A 503 leaves the erasure pending: repeat the request.`,
  })
  @ApiOkResponse({ description: 'Erased: the counts per kind of record', standardSchema: erasureView })
  @ApiBadRequestResponse({ description: 'Neither or both fields, an invalid email, or an unknown field', standardSchema: errorBody })
  @ApiServiceUnavailableResponse({ description: 'PostgreSQL is unavailable: repeat the request', standardSchema: errorBody })
  erase(@Body({ schema: erasureBody, pipes: [invalid('body')] }) body: z.output<typeof erasureBody>): Promise<ErasureView> {
    return this.erasures.erase(subjectOf(body));
  }

  @Get('erasures/:id')
  @ApiOperation({ operationId: 'getErasure', summary: 'One erasure and its counts', description: ONLY_WITH_TOKEN })
  @ApiOkResponse({ description: 'The erasure', standardSchema: erasureView })
  @ApiBadRequestResponse({ description: 'Not a uuid', standardSchema: errorBody })
  @ApiNotFoundResponse({ description: 'No such erasure', standardSchema: errorBody })
  async getErasure(@Param('id', { schema: erasureId, pipes: [invalid('id')] }) id: string): Promise<ErasureView> {
    const erasure = await this.erasures.get(id);
    if (!erasure) throw new NotFoundException(`erasure ${id} not found`);
    return erasure;
  }

  @Get('subjects')
  @ApiOperation({
    operationId: 'exportSubject',
    summary: 'Everything held about a person (by email) or a session, as one document',
    description: `${ONLY_WITH_TOKEN} Audited.`,
  })
  @ApiOkResponse({ description: 'The export', standardSchema: subjectExport })
  @ApiBadRequestResponse({
    description: 'Neither or both parameters, an invalid email, or an unknown parameter',
    standardSchema: errorBody,
  })
  subject(@Query({ schema: subjectQuery, pipes: [invalid('query')] }) q: z.output<typeof subjectQuery>): Promise<SubjectExport> {
    return this.access.export(subjectOf(q));
  }
}
