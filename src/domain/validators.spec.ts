import { validateSync } from 'class-validator';
import {
  ENV_NAME,
  IsAnnotationMap,
  IsEnvMap,
  isDns1123Label,
  IsOptionalNotNull,
  MAX_INPUT_DEPTH,
  qualifiedNameProblem,
  rawInputProblems,
  REQUEST_ID,
  shown,
  textProblem,
} from './validators.js';
import { isResourceQuantity, QUANTITY, quantityValue } from './quantity.js';

describe('Kubernetes validators', () => {
  it('DNS-1123 labels', () => {
    expect(isDns1123Label('web-1')).toBe(true);
    for (const bad of ['Web', '-web', 'web-', 'a_b', 'a'.repeat(64), '']) expect(isDns1123Label(bad)).toBe(false);
  });

  it('quantities', () => {
    for (const ok of ['1', '250m', '0.5', '512Mi', '2Gi', '1e3', '100k']) expect(isResourceQuantity(ok)).toBe(true);
    for (const bad of ['lots', '1 Gi', 'Mi', '-1', '1GB']) expect(isResourceQuantity(bad)).toBe(false);
  });

  it("quantities: Kubernetes' grammar takes a sign; requests and limits refuse negatives", () => {
    for (const signed of ['-1', '+1', '-250m', '-1e3']) expect(QUANTITY.test(signed)).toBe(true);
    expect(quantityValue('-250m')).toBeCloseTo(-0.25);
    expect(isResourceQuantity('+1')).toBe(true);
    for (const negative of ['-1', '-250m', '-0.5Gi']) expect(isResourceQuantity(negative)).toBe(false);
  });

  it('environment variable names', () => {
    for (const ok of ['A', '_A1', 'a.b-c']) expect(ENV_NAME.test(ok)).toBe(true);
    for (const bad of ['1A', 'A=B', 'A B', '']) expect(ENV_NAME.test(bad)).toBe(false);
  });

  it('label and annotation keys', () => {
    expect(qualifiedNameProblem('app')).toBeUndefined();
    expect(qualifiedNameProblem('example.com/owner')).toBeUndefined();
    expect(qualifiedNameProblem('a/b/c')).toMatch(/more than one/);
    expect(qualifiedNameProblem('Example_.com/x')).toMatch(/prefix/);
    expect(qualifiedNameProblem('-bad')).toMatch(/alphanumerics/);
  });
});

describe('hostile input', () => {
  it('textProblem finds NUL and lone surrogates, and accepts paired ones', () => {
    expect(textProblem('nginx:1.27')).toBeUndefined();
    expect(textProblem('emoji 😀 and ünïcode')).toBeUndefined();
    expect(textProblem('a\u0000b')).toMatch(/NUL/);
    expect(textProblem('\ud800')).toMatch(/lone UTF-16 surrogate/);
    expect(textProblem('x\udc00y')).toMatch(/lone UTF-16 surrogate/);
  });

  it('rawInputProblems names the field, key by key', () => {
    expect(rawInputProblems({ image: 'nginx', env: { A: 'b' }, resources: { limits: { cpu: '1' } } })).toEqual([]);
    expect(rawInputProblems({ image: 'a\u0000' })).toEqual(['image contains a NUL character (\\u0000)']);
    expect(rawInputProblems({ env: { FOO: '\ud800' } })).toEqual(['env.FOO contains a lone UTF-16 surrogate']);
    expect(rawInputProblems({ labels: { 'x\u0000': 'y' } })).toEqual([
      'labels key "x\\u0000" contains a NUL character (\\u0000)',
    ]);
    expect(rawInputProblems({ replicas: null })).toEqual(['replicas must not be null']);
    expect(rawInputProblems({ resources: { requests: { cpu: null } } })).toEqual([
      'resources.requests.cpu must not be null',
    ]);
    expect(rawInputProblems('\u0000', 'requestId')).toEqual(['requestId contains a NUL character (\\u0000)']);
    expect(rawInputProblems({ label: ['a=b', 'c\u0000'] })).toEqual(['label[1] contains a NUL character (\\u0000)']);
  });

  it('rawInputProblems refuses keys that class-transformer would crash on or drop', () => {
    for (const key of ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString']) {
      const body = JSON.parse(`{"env": {"${key}": "x"}}`);
      expect(rawInputProblems(body)).toEqual([`env key "${key}" is reserved (a JavaScript object member)`]);
    }
    expect(rawInputProblems({ env: { Prototype: 'x', length: 'y', name: 'z' } })).toEqual([]);
  });

  it('rawInputProblems stops at MAX_INPUT_DEPTH without recursing further', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(rawInputProblems({ env: deep })).toEqual([
      `env${'[0]'.repeat(MAX_INPUT_DEPTH)} is nested more than ${MAX_INPUT_DEPTH} levels deep`,
    ]);
    expect(rawInputProblems({ resources: { requests: { cpu: '1' } } })).toEqual([]);
  });

  it('shown() quotes, escapes and truncates what messages echo', () => {
    expect(shown('a\u0000')).toBe('"a\\u0000"');
    expect(shown('k'.repeat(100))).toBe(`"${'k'.repeat(64)}..."`);
  });

  it('REQUEST_ID: 1-255 visible ASCII', () => {
    expect(REQUEST_ID.test('0b9a6a57-4c79-4c8b-9a8e-3f5b3e0f6a41')).toBe(true);
    for (const bad of ['', 'a b', 'é', '\u0000', 'x'.repeat(256)]) expect(REQUEST_ID.test(bad)).toBe(false);
  });
});

describe('DTO decorators', () => {
  class Dto {
    @IsOptionalNotNull()
    @IsEnvMap()
    env?: Record<string, string>;

    @IsOptionalNotNull()
    @IsAnnotationMap()
    annotations?: Record<string, string>;
  }
  const problems = (v: object) =>
    validateSync(Object.assign(new Dto(), v)).flatMap((e) => Object.values(e.constraints ?? {}));

  it('IsOptionalNotNull: absent is fine, null is refused by name', () => {
    expect(problems({})).toEqual([]);
    expect(problems({ env: null })).toEqual(['env must not be null']);
  });

  it('env and annotation values may not hold NUL or lone surrogates', () => {
    expect(problems({ env: { A: 'multi\nline ok' } })).toEqual([]);
    expect(problems({ env: { A: 'x\u0000' } })).toEqual(['env value of "A" contains a NUL character (\\u0000)']);
    expect(problems({ annotations: { 'example.com/a': '\ud800' } })).toEqual([
      'annotations value of "example.com/a" contains a lone UTF-16 surrogate',
    ]);
  });
});
