/** Longest reason kept anywhere (PostgreSQL's error_message; headers and term reasons pass their own limit). */
export const REASON_MAX_CHARS = 4000;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Makes a failure reason safe for every place it goes: one line (NATS headers refuse CR/LF, a
 * proxy's HTML error page has many), no NUL (PostgreSQL text refuses it), no lone surrogates,
 * and at most maxChars code points. Control characters become spaces and runs of whitespace
 * collapse to one. Other non-ASCII text is kept: NATS headers and PostgreSQL carry UTF-8.
 */
export function sanitizeReason(text: string, maxChars = REASON_MAX_CHARS): string {
  const oneLine = text
    .replace(LONE_SURROGATE, '\uFFFD')
    .replace(/[\p{Cc}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(oneLine);
  return chars.length <= maxChars ? oneLine : `${chars.slice(0, maxChars - 1).join('')}…`;
}
