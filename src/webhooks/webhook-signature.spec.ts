import { createHmac } from 'node:crypto';
import { parseHexSignature, signDelivery, verifyWebhookSignature } from './webhook-signature.js';

const body = Buffer.from('{"event":"interview.completed","session_id":"abc"}');
const secret = 'shh';
const now = 1_800_000_000;
const hmac = (data: string | Buffer, key = secret) => createHmac('sha256', key).update(data).digest('hex');
const verify = (headers: Record<string, string>, secrets = [secret], raw = body) =>
  verifyWebhookSignature({ rawBody: raw, headers, secrets, toleranceSeconds: 300, nowSeconds: now });

describe('verifyWebhookSignature', () => {
  describe('X-Webhook-Signature (HMAC of the raw body)', () => {
    it('accepts the hex HMAC, in either case and with a sha256= prefix', () => {
      expect(verify({ 'x-webhook-signature': hmac(body) })).toEqual({ ok: true, scheme: 'signature' });
      expect(verify({ 'x-webhook-signature': hmac(body).toUpperCase() }).ok).toBe(true);
      expect(verify({ 'x-webhook-signature': `sha256=${hmac(body)}` }).ok).toBe(true);
    });

    it('refuses a signature over different bytes (re-serialised JSON)', () => {
      const reserialised = JSON.stringify(JSON.parse(' ' + body.toString()), null, 1);
      expect(verify({ 'x-webhook-signature': hmac(reserialised) })).toEqual({ ok: false, reason: 'signature mismatch' });
    });

    it.each([
      ['missing', undefined],
      ['empty', ''],
      ['short', 'abcd'],
      ['long', 'a'.repeat(65)],
      ['non-hex', 'g'.repeat(64)],
      ['wrong prefix', `sha1=${'a'.repeat(64)}`],
      ['prefix only', 'sha256='],
      ['unicode', 'é'.repeat(64)],
    ])('refuses a %s signature without throwing', (_name, value) => {
      const headers: Record<string, string> = value === undefined ? {} : { 'x-webhook-signature': value };
      expect(() => verify(headers)).not.toThrow();
      expect(verify(headers).ok).toBe(false);
    });

    it('accepts any of several rotated secrets and refuses the others', () => {
      expect(verify({ 'x-webhook-signature': hmac(body, 'old') }, ['new', 'old']).ok).toBe(true);
      expect(verify({ 'x-webhook-signature': hmac(body, 'older') }, ['new', 'old']).ok).toBe(false);
    });
  });

  describe('X-InterviewRelay-Signature (HMAC of "timestamp.body")', () => {
    const ts = String(now - 10);
    const signed = (t = ts, raw: Buffer = body) => hmac(Buffer.concat([Buffer.from(`${t}.`), raw]));

    it('accepts a fresh timestamped signature', () => {
      expect(verify({ 'x-interviewrelay-signature': signed(), 'x-interviewrelay-timestamp': ts })).toEqual({
        ok: true,
        scheme: 'timestamped',
      });
    });

    it('refuses timestamps outside the tolerance window, in the past or the future', () => {
      for (const t of [String(now - 301), String(now + 301)]) {
        expect(verify({ 'x-interviewrelay-signature': signed(t), 'x-interviewrelay-timestamp': t })).toEqual({
          ok: false,
          reason: 'timestamp outside the tolerance window',
        });
      }
    });

    it('refuses a missing or malformed timestamp', () => {
      expect(verify({ 'x-interviewrelay-signature': signed() }).ok).toBe(false);
      expect(verify({ 'x-interviewrelay-signature': signed('1e9'), 'x-interviewrelay-timestamp': '1e9' }).ok).toBe(false);
      expect(verify({ 'x-interviewrelay-signature': signed(), 'x-interviewrelay-timestamp': `${ts}.5` }).ok).toBe(false);
    });

    it('binds the timestamp: a signature for another timestamp fails', () => {
      expect(verify({ 'x-interviewrelay-signature': signed(String(now)), 'x-interviewrelay-timestamp': ts }).ok).toBe(false);
    });

    it('does not fall back to the old header when the new one is present but wrong', () => {
      expect(
        verify({ 'x-interviewrelay-signature': 'a'.repeat(64), 'x-interviewrelay-timestamp': ts, 'x-webhook-signature': hmac(body) }).ok,
      ).toBe(false);
    });
  });

  it('signDelivery produces what verify accepts, for both schemes', () => {
    expect(verify(signDelivery(body, secret)).ok).toBe(true);
    expect(verify(signDelivery(body, secret, 'timestamped', now)).ok).toBe(true);
  });
});

describe('parseHexSignature', () => {
  it('returns 32 bytes for a valid signature and null for anything else', () => {
    expect(parseHexSignature('ab'.repeat(32))?.length).toBe(32);
    expect(parseHexSignature(' ab'.repeat(1))).toBeNull();
    expect(parseHexSignature(undefined)).toBeNull();
  });
});
