import { maskedCount, payloadView } from './payload-view.js';

describe('the payload view', () => {
  const payload = {
    event: 'interview.completed',
    session_id: 'sess_1',
    timestamp: '2026-11-27T10:30:00Z',
    invitee_email: 'ada@example.com',
    total_minutes: 23.5,
    feedback: { rating: 5, comment: 'Great', tags: ['a', null, true] },
  };

  it('masks every value but the event, the session and the time until revealed, and keeps the keys', () => {
    const masked = payloadView(payload, false).toString();
    expect(masked).not.toContain('ada@example.com');
    expect(masked).not.toContain('Great');
    expect(masked).not.toContain('23.5');
    expect(masked).toContain('‹hidden: string, 15 characters›');
    expect(masked).toContain('‹hidden: number›');
    expect(masked).toContain('‹hidden: null›');
    expect(masked).toContain('&quot;interview.completed&quot;');
    expect(masked).toContain('&quot;sess_1&quot;');
    expect(masked).toContain('&quot;comment&quot;');
    // Nested fields named like a visible one stay hidden: only the top level is the delivery's own.
    expect(payloadView({ data: { event: 'secret' } }, false).toString()).not.toContain('secret');
    expect(maskedCount(payload)).toBe(7);
  });

  it('shows every value once revealed, as escaped text', () => {
    const shown = payloadView(payload, true).toString();
    expect(shown).toContain('&quot;ada@example.com&quot;');
    expect(shown).toContain('>23.5<');
    expect(shown).not.toContain('hidden');
  });

  it('renders markup in keys and values as text, masked or revealed', () => {
    const hostile = {
      '<img src=x onerror=alert(1)>': '</code></pre><script>alert(1)</script>',
      event: '"><svg onload=alert(1)>',
      slack: '<!channel> <https://evil.example|click> *bold*',
    };
    for (const reveal of [false, true]) {
      const out = payloadView(hostile, reveal).toString();
      expect(out).not.toMatch(/<(script|img|svg|!channel|https)/i);
      expect(out.match(/<\/pre>/g)).toHaveLength(1);
      expect(out).toContain('&lt;img src=x onerror=alert(1)&gt;');
    }
    expect(payloadView(hostile, true).toString()).toContain('&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;');
  });
});
