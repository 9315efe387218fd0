import { interviewCompletedMessage, retryAfterMs } from './slack-message.js';

describe('Slack message for a completed interview', () => {
  it('has text plus one mrkdwn section with a bold headline, the participant and the session id as code', () => {
    const msg = interviewCompletedMessage({
      sessionId: 'sess-42',
      participantEmail: 'ada@example.com',
      durationMinutes: 12.5,
      completedAt: null,
    });
    expect(msg.text).toBe('Interview completed: ada@example.com (session sess-42)');
    expect(msg.blocks).toHaveLength(1);
    expect(msg.blocks[0]).toMatchObject({ type: 'section', text: { type: 'mrkdwn' } });
    const body = msg.blocks[0].text.text;
    expect(body.split('\n')[0]).toBe('*Interview completed*');
    expect(body).toContain('Participant: ada@example.com');
    expect(body).toContain('Session: `sess-42`');
    expect(body).toContain('Duration: 12.5 min');
  });

  it('escapes mrkdwn control characters and keeps the code span closed', () => {
    const msg = interviewCompletedMessage({ sessionId: 'a`b<c>', participantEmail: null, durationMinutes: null, completedAt: null });
    const body = msg.blocks[0].text.text;
    expect(body).toContain('Participant: unknown participant');
    expect(body).toContain('Session: `aˋb&lt;c&gt;`');
    expect(body).not.toContain('<c>');
  });

  it('keeps every payload value on its own line: newlines and other control characters cannot forge lines', () => {
    const forged = 'sess-1\nParticipant: *ceo@corp.com*\r\u2028Duration: 1 min\u0085\u202eevil';
    const msg = interviewCompletedMessage({
      sessionId: forged,
      participantEmail: 'a@example.com\n*Approved*',
      durationMinutes: 3,
      completedAt: null,
    });
    const lines = msg.blocks[0].text.text.split('\n');
    expect(lines).toEqual([
      '*Interview completed*',
      'Participant: a@example.com *Approved*',
      'Session: `sess-1 Participant: *ceo@corp.com* Duration: 1 min evil`',
      'Duration: 3 min',
    ]);
    expect(msg.text).not.toMatch(/[\n\r\u2028\u0085\u202e]/);
  });

  it('escapes payload strings in the top-level text too: no pings, no links a payload chose', () => {
    const msg = interviewCompletedMessage({
      sessionId: '<!channel>',
      participantEmail: '<https://evil.example|Open transcript>',
      durationMinutes: null,
      completedAt: null,
    });
    for (const text of [msg.text, msg.blocks[0].text.text]) {
      expect(text).not.toMatch(/<[!h]/);
      expect(text).toContain('&lt;!channel&gt;');
      expect(text).toContain('&lt;https://evil.example|Open transcript&gt;');
    }
  });
});

describe('Retry-After', () => {
  it('reads seconds, HTTP dates, and falls back when missing', () => {
    expect(retryAfterMs('3', 1000)).toBe(3000);
    expect(retryAfterMs(null, 1000)).toBe(1000);
    expect(retryAfterMs('soon', 1000)).toBe(1000);
    const now = Date.parse('2026-11-27T12:00:00Z');
    expect(retryAfterMs('Fri, 27 Nov 2026 12:00:30 GMT', 1000, now)).toBe(30_000);
  });
});
