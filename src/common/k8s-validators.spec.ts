import { ENV_NAME, isDns1123Label, QUANTITY, qualifiedNameProblem } from './k8s-validators.js';

describe('Kubernetes validators', () => {
  it('DNS-1123 labels', () => {
    expect(isDns1123Label('web-1')).toBe(true);
    for (const bad of ['Web', '-web', 'web-', 'a_b', 'a'.repeat(64), '']) expect(isDns1123Label(bad)).toBe(false);
  });

  it('quantities', () => {
    for (const ok of ['1', '250m', '0.5', '512Mi', '2Gi', '1e3', '100k']) expect(QUANTITY.test(ok)).toBe(true);
    for (const bad of ['lots', '1 Gi', 'Mi', '-1', '1GB']) expect(QUANTITY.test(bad)).toBe(false);
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
