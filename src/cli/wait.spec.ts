import type { RequestRecord } from '../../clients/typescript/src/index.js';
import { rolloutExitCode } from './wait.js';

const record = (status: string, rollout: Record<string, unknown> | null, error?: { code: string; message: string }) =>
  ({ requestId: 'r-1', status, rollout, error: error ?? null }) as unknown as RequestRecord;
const receipt = (state: string, reason: string | null = null) => ({ state, reason, message: null, replicas: null });

describe('kdm wait --rollout exit codes', () => {
  it('is 0 for COMPLETE and GONE', () => {
    expect(rolloutExitCode(record('SUCCESS', receipt('COMPLETE')))).toEqual({ code: 0 });
    expect(rolloutExitCode(record('SUCCESS', receipt('GONE')))).toEqual({ code: 0 });
  });

  it('is 1 for a FAILURE request or a FAILED rollout, naming why', () => {
    expect(rolloutExitCode(record('FAILURE', null, { code: 'Invalid', message: 'bad image' }))).toEqual({
      code: 1,
      line: 'request r-1 ended FAILURE: Invalid: bad image',
    });
    const failed = rolloutExitCode(record('SUCCESS', receipt('FAILED', 'ProgressDeadlineExceeded')));
    expect(failed.code).toBe(1);
    expect(failed.line).toContain('rollout FAILED: ProgressDeadlineExceeded');
  });

  it('is 3 for SUPERSEDED', () => {
    expect(rolloutExitCode(record('SUCCESS', receipt('SUPERSEDED'))).code).toBe(3);
  });
});
