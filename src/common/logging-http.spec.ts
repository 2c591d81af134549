import type { IncomingMessage } from 'node:http';
import {
  acceptRequestId,
  noteRouteTemplate,
  REQUEST_ID_MAX_LENGTH,
  requestIdFor,
  routeTemplate,
} from './logging-http.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('acceptRequestId', () => {
  it.each([
    ['a UUID', '7d9f0c52-5a8e-4f0e-9d55-0b6a4c1f2e3d'],
    ['a W3C trace id', '4bf92f3577b34da6a3ce929d0e0e4736'],
    ['an AWS trace header', 'Root=1-67891233-abcdef012345678912345678'],
    ['one character', 'x'],
    ['the longest allowed', 'a'.repeat(REQUEST_ID_MAX_LENGTH)],
  ])('accepts %s', (_name, id) => {
    expect(acceptRequestId(id)).toBe(id);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['too long', 'a'.repeat(REQUEST_ID_MAX_LENGTH + 1)],
    ['with a space', 'abc def'],
    ['two headers joined', 'abc, def'],
    ['with a newline', 'abc\ndef'],
    ['with a tab', 'abc\tdef'],
    ['non-ASCII', 'abc\u00e9'],
    ['an array', ['abc', 'def']],
    ['an API key', `kdm_${'a'.repeat(43)}`],
  ])('refuses %s', (_name, id) => {
    expect(acceptRequestId(id)).toBeUndefined();
  });
});

describe('requestIdFor', () => {
  it('keeps an acceptable id and replaces a bad or missing one with a new UUID', () => {
    expect(requestIdFor('client-id-1')).toBe('client-id-1');
    const made = [requestIdFor('bad id'), requestIdFor(undefined)];
    for (const id of made) expect(id).toMatch(UUID);
    expect(made[0]).not.toBe(made[1]);
  });
});

describe('routeTemplate', () => {
  it('names the matched route template, not the path with its values', () => {
    const req = {} as IncomingMessage;
    noteRouteTemplate(req, '/v1/deployments/:namespace/:name');
    expect(routeTemplate(req)).toBe('/v1/deployments/:namespace/:name');
  });

  it('is undefined when no route matched', () => {
    expect(routeTemplate({} as IncomingMessage)).toBeUndefined();
  });
});
