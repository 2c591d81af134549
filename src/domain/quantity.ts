/**
 * Kubernetes' quantity grammar (k8s.io/apimachinery resource.Quantity): an optionally signed
 * number, then a binary suffix (Ki..Ei), a decimal suffix (n..E) or a decimal exponent (e3).
 * The grammar allows a sign; resource requests and limits refuse negatives in validation.
 */
export const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|([eE][+-]?\d+))?$/;

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * The value of a Kubernetes quantity in base units, so "0.5" and "500m", or "1Gi" and
 * "1073741824", compare equal (the apiserver stores quantities in canonical form).
 * NaN when the text is not a quantity.
 */
export function quantityValue(q: string): number {
  const m = QUANTITY.exec(q.trim());
  if (!m) return NaN;
  const base = Number(m[1]);
  if (m[3]) return base * 10 ** Number(m[3].slice(1));
  return base * SUFFIX[m[2] ?? ''];
}

/** What a resource request or limit may be: a quantity that is not negative. */
export const isResourceQuantity = (v: unknown): v is string =>
  typeof v === 'string' && QUANTITY.test(v) && !(quantityValue(v) < 0);
