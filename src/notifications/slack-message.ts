/** What a completed-interview notification says. */
export interface InterviewCompletedNotice {
  sessionId: string;
  participantEmail: string | null;
  durationMinutes: number | null;
  completedAt: Date | null;
}

export interface SlackMessage {
  text: string;
  blocks: Array<{ type: 'section'; text: { type: 'mrkdwn'; text: string } }>;
}

/**
 * Line breaks and other control characters a payload could use to forge lines of its own in a
 * message ("Participant: *ceo@corp.com*"): C0 and C1 controls (newline, carriage return, tab, ...),
 * DEL, the Unicode line and paragraph separators, and the bidirectional and zero-width format
 * characters that could reorder or hide what is shown.
 */
// Control characters are the point of this pattern (Unicode property escapes: Cc controls, Zl/Zp separators, Cf format).
const FORGING_CHARACTERS = /[\p{Cc}\p{Zl}\p{Zp}\p{Cf}]+/gu;

/**
 * Every string that came from a payload, as a message may show it: control characters and line breaks
 * become one space (the value stays on its own line), and &, < and >, which Slack treats as control
 * characters in `text` and in mrkdwn alike (`<!channel>` pings a channel, `<url|label>` makes a link),
 * are escaped.
 */
export function escapeMrkdwn(s: string): string {
  return s.replace(FORGING_CHARACTERS, ' ').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A backtick would end the code span early; session ids are opaque, so swap it for a look-alike. */
function codeSpan(s: string): string {
  return '`' + escapeMrkdwn(s).replace(/`/g, 'ˋ') + '`';
}

/**
 * The incoming-webhook body: `text` (shown in notifications and by clients without blocks) plus one
 * `section` in mrkdwn with the headline in bold, the participant and the session id in code format.
 */
export function interviewCompletedMessage(n: InterviewCompletedNotice): SlackMessage {
  const participant = n.participantEmail ?? 'unknown participant';
  const lines = [`*Interview completed*`, `Participant: ${escapeMrkdwn(participant)}`, `Session: ${codeSpan(n.sessionId)}`];
  if (n.durationMinutes !== null) lines.push(`Duration: ${Math.round(n.durationMinutes * 10) / 10} min`);
  if (n.completedAt !== null)
    lines.push(
      `Completed: <!date^${Math.floor(n.completedAt.getTime() / 1000)}^{date_short_pretty} {time}|${n.completedAt.toISOString()}>`,
    );
  return {
    text: `Interview completed: ${escapeMrkdwn(participant)} (session ${escapeMrkdwn(n.sessionId)})`,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } }],
  };
}

/**
 * Retry-After in milliseconds (seconds or an HTTP date); `fallbackMs` when missing or unreadable.
 */
export function retryAfterMs(header: string | null, fallbackMs: number, now = Date.now()): number {
  if (header === null || header.trim() === '') return fallbackMs;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? fallbackMs : Math.max(0, at - now);
}
