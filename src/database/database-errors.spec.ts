import { asDatabaseUnavailable } from './database-errors.js';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { toErrorBody } from '../http/http-exception.filter.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('asDatabaseUnavailable', () => {
  it.each([
    ['ECONNREFUSED', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['ECONNRESET', withCode('read ECONNRESET', 'ECONNRESET')],
    ['connection terminated', new Error('Connection terminated unexpectedly')],
    ['pool timeout', new Error('timeout exceeded when trying to connect')],
    ['57P01 admin shutdown', withCode('terminating connection due to administrator command', '57P01')],
    ['53300 too many connections', withCode('sorry, too many clients already', '53300')],
    ['08006 connection failure', withCode('connection failure', '08006')],
    ['wrapped by TypeORM', Object.assign(new Error('query failed'), { driverError: withCode('x', '57P01') })],
    ['multi-address AggregateError', new AggregateError([withCode('x', 'ECONNREFUSED')], '')],
  ])('%s is DatabaseUnavailable, retryable, 503', (_name, e) => {
    const mapped = asDatabaseUnavailable(e);
    expect(mapped?.code).toBe(ErrorCode.DatabaseUnavailable);
    expect(mapped?.retryable).toBe(true);
    expect(toErrorBody(e)).toMatchObject({ statusCode: 503, code: 'DatabaseUnavailable' });
  });

  it.each([
    ['a unique violation', withCode('duplicate key', '23505')],
    ['invalid text', withCode('invalid byte sequence for encoding "UTF8": 0x00', '22021')],
    ['a domain error', new DomainError(ErrorCode.RequestNotFound, 'connection terminated')],
    ['a plain bug', new TypeError('x is undefined')],
  ])('%s is not', (_name, e) => {
    expect(asDatabaseUnavailable(e)).toBeUndefined();
    expect(toErrorBody(e).code).not.toBe('DatabaseUnavailable');
  });
});
