import type { StoredEvent } from './event.js';

/**
 * Server-Sent Events framing (WHATWG HTML, "Server-sent events"): fields are `name: value` lines
 * and a blank line ends an event. Our data is one line of JSON (JSON.stringify escapes every
 * newline), so a frame can never be split or forged by its content.
 */
export function eventFrame(e: StoredEvent): string {
  const data = {
    id: e.id,
    type: e.type,
    namespace: e.namespace,
    name: e.name,
    requestId: e.requestId,
    at: e.createdAt,
    ...e.payload,
  };
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** An event the server makes up (reset, error): no id, so a client's Last-Event-ID stays where it was. */
export function controlFrame(type: 'reset' | 'error', data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A comment line: clients ignore it; it keeps proxies from closing an idle stream. */
export function commentFrame(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/**
 * Last-Event-ID as a resume point: a non-negative integer of at most 15 digits, else 'invalid'
 * (the caller answers 400 naming it).
 */
export function parseEventId(value: string | undefined): number | undefined | 'invalid' {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) return 'invalid';
  return Number(value);
}
