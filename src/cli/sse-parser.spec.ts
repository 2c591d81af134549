import { SseParser } from './sse-parser.js';

describe('SseParser', () => {
  it('returns whole events however the bytes are split, skipping comments', () => {
    const stream =
      'retry: 2000\n: connected\n\nid: 7\nevent: request.status\ndata: {"a":1}\n\n: heartbeat\n\nevent: reset\ndata: {}\n\n';
    const p = new SseParser();
    const events = [...stream].flatMap((c) => p.push(c));
    expect(events).toEqual([
      { id: '7', event: 'request.status', data: '{"a":1}' },
      { event: 'reset', data: '{}' },
    ]);
    expect(p.retryMs).toBe(2000);
  });

  it('joins several data lines and accepts CRLF', () => {
    const p = new SseParser();
    expect(p.push('data: one\r\ndata: two\r\n\r\n')).toEqual([{ event: 'message', data: 'one\ntwo' }]);
  });

  it('keeps an unfinished event until its blank line arrives', () => {
    const p = new SseParser();
    expect(p.push('id: 1\nevent: x\ndata: {}\n')).toEqual([]);
    expect(p.push('\n')).toEqual([{ id: '1', event: 'x', data: '{}' }]);
  });
});
