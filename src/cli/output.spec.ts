import { humanDuration, table } from './output.js';

describe('kdm output', () => {
  it('shows ages as kubectl does', () => {
    const s = 1000;
    const cases: [number, string][] = [
      [-5 * s, '<invalid>'],
      [-1 * s, '0s'],
      [45 * s, '45s'],
      [119 * s, '119s'],
      [200 * s, '3m20s'],
      [300 * s, '5m'],
      [15 * 60 * s, '15m'],
      [179 * 60 * s, '179m'],
      [(5 * 60 + 10) * 60 * s, '5h10m'],
      [20 * 3600 * s, '20h'],
      [(3 * 24 + 4) * 3600 * s, '3d4h'],
      [40 * 86400 * s, '40d'],
      [(2 * 365 + 30) * 86400 * s, '2y30d'],
      [9 * 365 * 86400 * s, '9y'],
    ];
    expect(cases.map(([ms]) => humanDuration(ms))).toEqual(cases.map(([, text]) => text));
  });

  it('aligns columns three spaces apart, without trailing blanks', () => {
    expect(
      table(
        ['NAME', 'READY', 'AGE'],
        [
          ['web', '2/2', '5m'],
          ['payments-api', '10/10', ''],
        ],
      ),
    ).toBe(['NAME           READY   AGE', 'web            2/2     5m', 'payments-api   10/10'].join('\n'));
  });
});
