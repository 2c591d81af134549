import { InternalServerErrorException, ServiceUnavailableException } from '@nestjs/common';
import { toErrorBody } from './http-exception.filter.js';

describe('toErrorBody keeps our insides out of answers', () => {
  it('answers a 5xx HttpException with its status and a bare message', () => {
    expect(toErrorBody(new InternalServerErrorException('password authentication failed for user "k8sdm"'))).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'internal error',
    });
    expect(toErrorBody(new ServiceUnavailableException('pool at /var/run/postgresql exhausted')).message).toBe(
      'internal error',
    );
  });

  it('answers any other error as a bare 500, never its message or stack', () => {
    const e = new TypeError("Cannot read properties of null (reading 'image')");
    const body = toErrorBody(e);
    expect(body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'internal error' });
    expect(JSON.stringify(body)).not.toContain('image');
  });
});
