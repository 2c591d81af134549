/**
 * The etcd behind the test cluster, through etcd's own v3 JSON gateway on its client URL
 * (ETCD_ENDPOINTS, printed by `scripts/stack.sh env`). Tests use it to compact etcd, so that
 * an old resourceVersion is gone now rather than once the cluster is five minutes old.
 */
export function etcdEndpoint(): string {
  const first = (process.env.ETCD_ENDPOINTS ?? '').split(',')[0].trim().replace(/\/+$/, '');
  if (!first)
    throw new Error(
      'ETCD_ENDPOINTS is not set: this test compacts the etcd behind the cluster. Run it through `make test` ' +
        '(or eval "$(scripts/stack.sh env)"); with a cluster of your own (KUBECONFIG), set ETCD_ENDPOINTS to its etcd client URL.',
    );
  return first;
}

async function etcdPost(path: string, body: unknown): Promise<any> {
  const url = `${etcdEndpoint()}${path}`;
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  const json = (await res.json().catch(() => undefined)) as any;
  if (!res.ok) throw new Error(`etcd ${url}: ${res.status} ${json?.message ?? JSON.stringify(json)}`);
  return json;
}

/** etcd's current revision (a resourceVersion of the cluster: they are etcd revisions). */
export async function etcdRevision(): Promise<bigint> {
  const r = await etcdPost('/v3/kv/range', { key: Buffer.from('/').toString('base64'), count_only: true });
  return BigInt(r.header.revision);
}

/**
 * Compacts etcd at its current revision (physical: returns once it is done), so every older
 * resourceVersion is gone: a watch from one answers 410 Gone. Returns that revision.
 */
export async function compactEtcd(): Promise<bigint> {
  const revision = await etcdRevision();
  try {
    await etcdPost('/v3/kv/compaction', { revision: String(revision), physical: true });
  } catch (e) {
    // Someone (the apiserver's own 5-minute compaction, another suite) got there first: as good.
    if (!/required revision has been compacted/.test((e as Error).message)) throw e;
  }
  return revision;
}
