import { z } from 'zod';
import { defineEvent } from '../events/event-definition.js';

/** `session.feedback_submitted`, handled by FeedbackSubmittedHandler: its fields beside event, session_id and timestamp. */
export const feedbackSubmitted = defineEvent({
  name: 'session.feedback_submitted',
  payload: z.looseObject({ feedback: z.record(z.string(), z.unknown()).optional() }),
  description: 'The invitee rated the session. Stored as one feedback row per session.',
  example: {
    event: 'session.feedback_submitted',
    session_id: 'sess_8f2k1',
    feedback: { rating: 5, comment: 'Clear questions' },
    timestamp: '2026-11-27T10:35:00Z',
  },
});
