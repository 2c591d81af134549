import { headers as natsHeaders } from '@nats-io/transport-node';
import { REASON_MAX_CHARS, sanitizeReason } from './reason-text.js';

describe('sanitizeReason', () => {
  const html502 =
    '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\n\t<h1>Bad\u0000Gateway</h1>\n</body>\n</html>\n';

  it('turns a multi-line HTML body into one line with single spaces', () => {
    expect(sanitizeReason(`KubernetesUnavailable: HTTP 502: ${html502}`)).toBe(
      'KubernetesUnavailable: HTTP 502: <html> <head><title>502 Bad Gateway</title></head> <body> <h1>Bad Gateway</h1> </body> </html>',
    );
  });

  it('replaces every control and line-separator character, C1 and Unicode ones included', () => {
    const out = sanitizeReason('a\u0085b\u2028c\u2029d\u007fe\u001bf\u000bg');
    expect(out).toBe('a b c d e f g');
    expect(out).not.toMatch(/[\p{Cc}\p{Zl}\p{Zp}]/u);
  });

  it('keeps printable non-ASCII text and repairs lone surrogates', () => {
    expect(sanitizeReason('Passerelle défaillante — ☃ 🙂')).toBe('Passerelle défaillante — ☃ 🙂');
    expect(sanitizeReason('x\uD800y\uDC00z')).toBe('x\uFFFDy\uFFFDz');
  });

  it('truncates by code points, never splitting a surrogate pair, and marks the cut', () => {
    expect(Array.from(sanitizeReason('x'.repeat(REASON_MAX_CHARS + 10)))).toHaveLength(REASON_MAX_CHARS);
    const cut = sanitizeReason('🙂'.repeat(10), 5);
    expect(cut).toBe('🙂🙂🙂🙂…');
    expect(sanitizeReason('short', 5)).toBe('short');
  });

  it('gives a value NATS headers accept, where the raw reason is refused', () => {
    expect(() => natsHeaders().set('Dm-Dead-Letter-Reason', html502)).toThrow(/\\r or \\n/);
    const h = natsHeaders();
    h.set('Dm-Dead-Letter-Reason', sanitizeReason(`${html502} — ☃`));
    expect(h.get('Dm-Dead-Letter-Reason')).toContain('☃');
  });
});
