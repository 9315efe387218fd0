import { z } from 'zod';
import { defineEvent } from '../events/event-definition.js';

/** `interview.completed`, handled by InterviewCompletedHandler: its fields beside event, session_id and timestamp. */
export const interviewCompleted = defineEvent({
  name: 'interview.completed',
  payload: z.looseObject({
    invitee_email: z.email().max(320).optional(),
    transcript_url: z
      .url({ protocol: /^https?$/ })
      .max(4096)
      .optional(),
    total_minutes: z.number().finite().min(0).max(100_000).optional(),
  }),
  description: 'An interview ended. The service downloads `transcript_url` (JSON), stores the interview and notifies Slack.',
  example: {
    event: 'interview.completed',
    session_id: 'sess_8f2k1',
    invitee_email: 'ada@example.com',
    transcript_url: 'https://files.interviewrelay.example/transcripts/sess_8f2k1.json',
    total_minutes: 23.5,
    timestamp: '2026-11-27T10:30:00Z',
  },
});
