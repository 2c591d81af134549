import { GroupCommit } from './group-commit.js';

/** A batch write whose statements are held until release() and recorded in order. */
function heldWrite(fail?: (item: number) => boolean) {
  const batches: number[][] = [];
  const held: (() => void)[] = [];
  const write = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push(items);
      held.push(() => {
        // A statement is all or nothing: one bad item fails it whole.
        if (fail && items.some(fail)) reject(new Error(`bad item in [${items.join(',')}]`));
        else resolve(items.map((i) => `row ${i}`));
      });
    });
  /** Lets every statement sent so far finish, then lets the batcher send the next ones. */
  const release = async () => {
    for (const h of held.splice(0)) h();
    await new Promise((r) => setImmediate(r));
  };
  return { batches, write, release };
}

describe('GroupCommit', () => {
  it('sends a lone submission at once, without waiting for company', async () => {
    const w = heldWrite();
    const gc = new GroupCommit(w.write);
    const one = gc.submit(1);
    await new Promise((r) => setImmediate(r));
    expect(w.batches).toEqual([[1]]);
    await w.release();
    await expect(one).resolves.toBe('row 1');
  });

  it('puts what arrives during a flush into the next flush, in arrival order, each caller getting its own row', async () => {
    const w = heldWrite();
    const gc = new GroupCommit(w.write);
    const first = gc.submit(1);
    await new Promise((r) => setImmediate(r));
    const later = [2, 3, 4].map((i) => gc.submit(i));
    await new Promise((r) => setImmediate(r));
    // Still one statement in flight: the three wait for it.
    expect(w.batches).toEqual([[1]]);
    await w.release();
    expect(w.batches).toEqual([[1], [2, 3, 4]]);
    await w.release();
    await expect(first).resolves.toBe('row 1');
    await expect(Promise.all(later)).resolves.toEqual(['row 2', 'row 3', 'row 4']);
  });

  it('answers no caller before its own statement has finished', async () => {
    const w = heldWrite();
    const gc = new GroupCommit(w.write);
    let answered = false;
    void gc.submit(1).then(() => (answered = true));
    await new Promise((r) => setImmediate(r));
    expect(answered).toBe(false);
    await w.release();
    expect(answered).toBe(true);
  });

  it('takes at most maxBatch items per statement', async () => {
    const w = heldWrite();
    const gc = new GroupCommit(w.write, 2);
    const all = [1, 2, 3, 4, 5].map((i) => gc.submit(i));
    await new Promise((r) => setImmediate(r));
    expect(w.batches).toEqual([[1, 2]]);
    await w.release();
    await w.release();
    await w.release();
    expect(w.batches).toEqual([[1, 2], [3, 4], [5]]);
    await expect(Promise.all(all)).resolves.toEqual(['row 1', 'row 2', 'row 3', 'row 4', 'row 5']);
  });

  it('writes a failed batch again item by item: only the bad item fails, with its own error', async () => {
    const w = heldWrite((i) => i === 3);
    const gc = new GroupCommit(w.write);
    const all = [1, 2, 3, 4].map((i) => gc.submit(i).catch((e: Error) => `failed: ${e.message}`));
    await new Promise((r) => setImmediate(r));
    await w.release(); // the batch fails
    expect(w.batches).toEqual([[1, 2, 3, 4], [1], [2], [3], [4]]);
    await w.release();
    await expect(Promise.all(all)).resolves.toEqual(['row 1', 'row 2', 'failed: bad item in [3]', 'row 4']);
  });

  it('rejects every caller, and writes nothing again, when the write returns the wrong number of results', async () => {
    let calls = 0;
    const gc = new GroupCommit(async (items: number[]) => {
      calls++;
      return items.slice(1);
    });
    const all = await Promise.allSettled([gc.submit(1), gc.submit(2)]);
    expect(all.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
  });

  it('keeps working after a failure', async () => {
    let fail = true;
    const gc = new GroupCommit(async (items: number[]) => {
      if (fail) throw new Error('down');
      return items;
    });
    await expect(gc.submit(1)).rejects.toThrow('down');
    fail = false;
    await expect(Promise.all([gc.submit(2), gc.submit(3)])).resolves.toEqual([2, 3]);
  });
});
