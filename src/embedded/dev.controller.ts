import { BadRequestException, Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { isStorableString } from '../common/storable.js';

/**
 * Routes for trying the service on one machine, registered only in the embedded mode:
 * a sample transcript host (the example `interview.completed` payload points here) and a read-only
 * view of what became of a session, which `npm run send` prints.
 */
@ApiExcludeController()
@Controller('dev')
export class DevController {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @Get('transcripts/:sessionId')
  transcript(@Param('sessionId') sessionId: string): object {
    if (sessionId === 'missing') throw new NotFoundException('no such transcript');
    return {
      session_id: sessionId,
      language: 'en',
      turns: [
        { speaker: 'interviewer', at: 0, text: 'Thanks for joining. Tell me about a project you are proud of.' },
        { speaker: 'candidate', at: 4.2, text: 'I rebuilt our webhook intake so that no delivery was ever lost.' },
        { speaker: 'interviewer', at: 11.8, text: 'How did you know nothing was lost?' },
        { speaker: 'candidate', at: 14.1, text: 'Every delivery was recorded before we answered, and we counted them end to end.' },
      ],
    };
  }

  @Get('sessions/:sessionId')
  async session(@Param('sessionId') sessionId: string): Promise<object> {
    if (!isStorableString(sessionId)) throw new BadRequestException('session_id: must not contain NUL characters or unpaired surrogates');
    const q = (sql: string) => this.dataSource.query<Array<Record<string, unknown>>>(sql, [sessionId]);
    // One after the other: over pglite-socket, statements of concurrent connections interleave, and
    // one that fails (a table not migrated yet) can take a concurrent one down with it.
    const events = await q(
      `SELECT id, event, status, attempts, last_error, received_at, processed_at FROM webhook_events WHERE session_id = $1 ORDER BY received_at`,
    );
    const interviews = await q(
      `SELECT session_id, participant_email, duration_minutes, completed_at, transcript FROM interviews WHERE session_id = $1`,
    );
    const feedback = await q(`SELECT session_id, rating, comment, submitted_at FROM feedback WHERE session_id = $1`);
    const notifications = await q(`SELECT kind, status, attempts, last_error, sent_at FROM notifications WHERE session_id = $1`);
    return { session_id: sessionId, events, interview: interviews[0] ?? null, feedback: feedback[0] ?? null, notifications };
  }
}
