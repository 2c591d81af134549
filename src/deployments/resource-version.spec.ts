import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { compareResourceVersions, isWellFormedResourceVersion } from './resource-version.js';

describe('resourceVersion rules (KEP-5504)', () => {
  it('accepts positive integers without leading zeros only', () => {
    for (const ok of ['1', '9', '10', '999999999999', '18446744073709551616123']) {
      expect(isWellFormedResourceVersion(ok)).toBe(true);
    }
    for (const bad of [
      '',
      '0',
      '01',
      '007',
      '-1',
      '+1',
      '1.0',
      '1e3',
      ' 1',
      '1 ',
      'abc',
      '0x10',
      '１',
      undefined,
      12,
    ]) {
      expect(isWellFormedResourceVersion(bad)).toBe(false);
    }
  });

  it('compares as integers of any size, not as text', () => {
    expect(compareResourceVersions('9', '10')).toBe(-1);
    expect(compareResourceVersions('10', '9')).toBe(1);
    expect(compareResourceVersions('123', '123')).toBe(0);
    expect(compareResourceVersions('99999999999999999999', '100000000000000000000')).toBe(-1);
    expect(compareResourceVersions('1000', '999999999999')).toBe(-1);
  });

  it('refuses a malformed operand with InvalidResourceVersion rather than guessing', () => {
    for (const [a, b] of [
      ['01', '1'],
      ['1', 'abc'],
      ['0', '1'],
      ['', '5'],
    ]) {
      let error: unknown;
      try {
        compareResourceVersions(a, b);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe(ErrorCode.InvalidResourceVersion);
    }
  });
});
