import { NamespaceScope } from '../domain/principal.js';
import { type EventFilter, matchesFilter, type StoredEvent } from './event.js';
import { commentFrame, controlFrame, eventFrame, parseEventId } from './sse.js';

const event = (over: Partial<StoredEvent> = {}): StoredEvent => ({
  id: 42,
  type: 'request.status',
  namespace: 'team-a',
  name: 'web',
  requestId: 'r-1',
  payload: { requestId: 'r-1', status: 'QUEUED', error: { message: 'line one\nline two' } },
  createdAt: new Date('2026-12-01T10:00:00.000Z'),
  ...over,
});

/** The fields of each event in a text/event-stream body, as an EventSource parses them. */
function parse(body: string): Record<string, string>[] {
  return body
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) =>
      Object.fromEntries(
        block
          .split('\n')
          .filter((line) => !line.startsWith(':'))
          .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
      ),
    );
}

describe('SSE framing', () => {
  it('frames an event as id, event and one data line of JSON, even when its text holds newlines', () => {
    const frame = eventFrame(event());
    expect(frame.endsWith('\n\n')).toBe(true);
    expect(frame.slice(0, -2).split('\n')).toHaveLength(3);
    const [parsed] = parse(frame);
    expect(parsed.id).toBe('42');
    expect(parsed.event).toBe('request.status');
    expect(JSON.parse(parsed.data)).toEqual({
      id: 42,
      type: 'request.status',
      namespace: 'team-a',
      name: 'web',
      requestId: 'r-1',
      at: '2026-12-01T10:00:00.000Z',
      status: 'QUEUED',
      error: { message: 'line one\nline two' },
    });
  });

  it('gives made-up events no id, so a client resumes from its last real event', () => {
    const [parsed] = parse(controlFrame('reset', { reason: 'expired' }));
    expect(parsed).toEqual({ event: 'reset', data: '{"reason":"expired"}' });
  });

  it('keeps a comment on one line', () => {
    expect(commentFrame('a\nb')).toBe(': a b\n\n');
    expect(parse(commentFrame('heartbeat'))).toEqual([{}]);
  });

  it('takes a Last-Event-ID only as a non-negative integer', () => {
    expect(parseEventId(undefined)).toBeUndefined();
    expect(parseEventId('')).toBe('invalid');
    expect(parseEventId('0')).toBe(0);
    expect(parseEventId('17')).toBe(17);
    expect(parseEventId(' 17 ')).toBe('invalid');
    expect(parseEventId('-1')).toBe('invalid');
    expect(parseEventId('1e3')).toBe('invalid');
    expect(parseEventId('9999999999999999')).toBe('invalid');
  });
});

describe('matchesFilter', () => {
  const all: EventFilter = { scope: NamespaceScope.ALL };

  it("keeps only namespaces in the key's scope", () => {
    const scoped: EventFilter = { scope: new NamespaceScope(['team-a*']) };
    expect(matchesFilter(event({ namespace: 'team-a' }), scoped)).toBe(true);
    expect(matchesFilter(event({ namespace: 'team-ab' }), scoped)).toBe(true);
    expect(matchesFilter(event({ namespace: 'team-b' }), scoped)).toBe(false);
  });

  it('applies every filter given, and only those', () => {
    expect(matchesFilter(event(), all)).toBe(true);
    expect(matchesFilter(event(), { ...all, namespace: 'team-a', name: 'web', requestId: 'r-1' })).toBe(true);
    expect(matchesFilter(event(), { ...all, name: 'api' })).toBe(false);
    expect(matchesFilter(event(), { ...all, requestId: 'r-2' })).toBe(false);
    expect(matchesFilter(event({ requestId: null }), { ...all, requestId: 'r-1' })).toBe(false);
    expect(matchesFilter(event(), { ...all, types: ['request.rollout', 'request.status'] })).toBe(true);
    expect(matchesFilter(event(), { ...all, types: ['deployment.drift'] })).toBe(false);
  });
});
