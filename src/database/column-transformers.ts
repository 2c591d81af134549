/** bigint columns come back from pg as strings; our counters and sequences fit in a JS number. */
export const bigintAsNumber = {
  to: (v?: number | null) => v,
  from: (v?: string | null) => (v == null ? v : Number(v)),
};
