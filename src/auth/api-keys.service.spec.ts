import { DomainError, ErrorCode } from '../domain/domain-error.js';
import type { ApiKeyEntity } from './api-key.entity.js';
import { hashApiKey } from './api-key-secret.js';
import type { ApiKeysRepository, NewApiKey } from './api-keys.repository.js';
import { ApiKeysService, LAST_USED_INTERVAL_MS } from './api-keys.service.js';

/** An in-memory stand-in for the repository, counting reads and last-used writes. */
class FakeRepo {
  rows = new Map<string, ApiKeyEntity & { keyHash: string }>();
  reads = 0;
  touches: string[] = [];

  insert(k: NewApiKey) {
    const row = { ...k, createdAt: new Date(), revokedAt: null, lastUsedAt: null };
    this.rows.set(k.id, row);
    return Promise.resolve(row);
  }
  insertIfAbsent(k: NewApiKey) {
    if ([...this.rows.values()].some((r) => r.keyHash === k.keyHash)) return Promise.resolve(false);
    return this.insert(k).then(() => true);
  }
  findByHash(hash: string) {
    this.reads++;
    return Promise.resolve([...this.rows.values()].find((r) => r.keyHash === hash) ?? null);
  }
  revoke(id: string) {
    const row = this.rows.get(id);
    if (row) row.revokedAt ??= new Date();
    return Promise.resolve(row ?? null);
  }
  touchLastUsed(id: string) {
    this.touches.push(id);
    return Promise.resolve();
  }
  list() {
    return Promise.resolve([...this.rows.values()]);
  }
}

function setup(cacheMs = 5000) {
  const repo = new FakeRepo();
  let now = Date.parse('2026-01-01T00:00:00Z');
  const service = new ApiKeysService(repo as unknown as ApiKeysRepository, { cacheMs, now: () => now });
  return { repo, service, advance: (ms: number) => (now += ms), now: () => now };
}

describe('ApiKeysService', () => {
  it('authenticates a created key with its role and scope; an unknown key gets no principal', async () => {
    const { service } = setup();
    const { key, secret } = await service.create({ name: 'ci', role: 'writer', namespaces: ['team-a', 'x-*'] });
    const p = await service.authenticate(secret);
    expect({ keyId: p?.keyId, keyName: p?.keyName, role: p?.role }).toEqual({
      keyId: key.id,
      keyName: 'ci',
      role: 'writer',
    });
    expect([p?.scope.covers('team-a'), p?.scope.covers('x-1'), p?.scope.covers('team-b')]).toEqual([true, true, false]);
    expect(await service.authenticate(`${secret}x`)).toBeUndefined();
  });

  it('trusts a verified key for API_KEY_CACHE_MS without reading it again, then reads it again', async () => {
    const { service, repo, advance } = setup(5000);
    const { secret } = await service.create({ name: 'ci', role: 'reader', namespaces: ['*'] });
    await service.authenticate(secret);
    await service.authenticate(secret);
    expect(repo.reads).toBe(1);
    advance(5000);
    await service.authenticate(secret);
    expect(repo.reads).toBe(2);
  });

  it('reads PostgreSQL on every call with API_KEY_CACHE_MS=0', async () => {
    const { service, repo } = setup(0);
    const { secret } = await service.create({ name: 'ci', role: 'reader', namespaces: ['*'] });
    await service.authenticate(secret);
    await service.authenticate(secret);
    expect(repo.reads).toBe(2);
  });

  it('forgets a revoked key at once, though it was cached', async () => {
    const { service } = setup(60_000);
    const { key, secret } = await service.create({ name: 'ci', role: 'admin' });
    expect(await service.authenticate(secret)).toBeDefined();
    await service.revoke(key.id);
    expect(await service.authenticate(secret)).toBeUndefined();
  });

  it('refuses a cached key once its expiry passes', async () => {
    const { service, advance, now } = setup(60_000);
    const { secret } = await service.create({
      name: 'ci',
      role: 'reader',
      namespaces: ['*'],
      expiresAt: new Date(now() + 1000),
    });
    expect(await service.authenticate(secret)).toBeDefined();
    advance(1000);
    expect(await service.authenticate(secret)).toBeUndefined();
  });

  it('writes last_used_at at most once a minute per key', async () => {
    const { service, repo, advance } = setup(0);
    const { key, secret } = await service.create({ name: 'ci', role: 'reader', namespaces: ['*'] });
    await service.authenticate(secret);
    advance(LAST_USED_INTERVAL_MS - 1);
    await service.authenticate(secret);
    expect(repo.touches).toEqual([key.id]);
    advance(1);
    await service.authenticate(secret);
    expect(repo.touches).toEqual([key.id, key.id]);
  });

  it('stores the SHA-256 and a short prefix, never the secret', async () => {
    const { service, repo } = setup();
    const { key, secret } = await service.create({ name: 'ci', role: 'admin' });
    const row = repo.rows.get(key.id)!;
    expect(row.keyHash).toBe(hashApiKey(secret));
    expect(row.keyPrefix).toBe(secret.slice(0, 12));
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row.namespaces).toEqual(['*']);
  });

  it.each([
    [{ name: 'a', role: 'admin', namespaces: ['team-a'] }, 'an admin key always has scope *'],
    [{ name: 'a', role: 'writer' }, 'namespaces is required for a writer key'],
    [{ name: 'a', role: 'reader', namespaces: ['*'], expiresAt: new Date('2025-01-01') }, 'must be in the future'],
    [{ name: ' ', role: 'reader', namespaces: ['*'] }, 'name must be'],
    [{ name: 'a', role: 'reader', namespaces: ['-x'] }, 'is not a namespace name'],
  ])('refuses %j with ValidationFailed naming the problem', async (input, problem) => {
    const { service } = setup();
    const e = await service.create(input as never).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).code).toBe(ErrorCode.ValidationFailed);
    expect((e as DomainError).message).toContain(problem);
  });

  it('registers ADMIN_API_KEY as an admin key once, and leaves a revoked one revoked', async () => {
    const { service, repo } = setup();
    const secret = 'my-admin-key-of-at-least-32-chars!!';
    expect(await service.registerAdminKey(secret)).toBe(true);
    expect(await service.registerAdminKey(secret)).toBe(false);
    const [row] = repo.rows.values();
    expect({ name: row.name, role: row.role, namespaces: row.namespaces }).toEqual({
      name: 'ADMIN_API_KEY',
      role: 'admin',
      namespaces: ['*'],
    });
    await service.revoke(row.id);
    expect(await service.registerAdminKey(secret)).toBe(false);
    expect(await service.authenticate(secret)).toBeUndefined();
  });

  it('revoking an unknown key is ApiKeyNotFound', async () => {
    const { service } = setup();
    await expect(service.revoke('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: ErrorCode.ApiKeyNotFound,
    });
  });
});
