import { createHash, randomBytes } from 'node:crypto';

/** Every key this service makes starts so, so that secret scanners can recognise one. */
export const API_KEY_PREFIX = 'kdm_';

/** A new key: `kdm_` and 32 random bytes in base64url (43 characters). */
export function generateApiKeySecret(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/**
 * SHA-256 in hex. Keys are 256-bit random values, so a slow password hash would add nothing;
 * a fast hash lets every call look its key up by an index.
 */
export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * The part of a key shown in lists to recognise it: `kdm_` and 8 more characters (48 of its
 * 256 bits), or the first 4 characters of a key that is not ours (an ADMIN_API_KEY of any form).
 */
export function displayPrefix(secret: string): string {
  return secret.startsWith(API_KEY_PREFIX) ? secret.slice(0, API_KEY_PREFIX.length + 8) : secret.slice(0, 4);
}

/** A token an API key may be: visible ASCII, bounded, so that nothing else reaches a hash or a lookup. */
const TOKEN = /^[\x21-\x7e]{1,512}$/;

/** The key in an `Authorization: Bearer <key>` header, or undefined when the header is missing or malformed. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m && TOKEN.test(m[1]) ? m[1] : undefined;
}
