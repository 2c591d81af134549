/** One Server-Sent Event as a client sees it. */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/**
 * A small incremental text/event-stream parser (WHATWG HTML, "Server-sent events"): feed it
 * chunks as they arrive, get whole events back. Comments are skipped; `retry` is reported.
 */
export class SseParser {
  private buffer = '';
  private id?: string;
  private event = '';
  private data: string[] = [];
  /** The last `retry:` value the server sent, in ms. */
  retryMs?: number;

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    let nl: number;
    while ((nl = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + (this.buffer.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (this.data.length || this.event)
          out.push({
            ...(this.id !== undefined ? { id: this.id } : {}),
            event: this.event || 'message',
            data: this.data.join('\n'),
          });
        this.id = undefined;
        this.event = '';
        this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') this.id = value;
      else if (field === 'event') this.event = value;
      else if (field === 'data') this.data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    }
    return out;
  }
}
