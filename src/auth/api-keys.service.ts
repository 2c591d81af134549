import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DomainError, ErrorCode } from '../domain/domain-error.js';
import { NamespaceScope, type Principal } from '../domain/principal.js';
import { apiKeyInputProblems, type ApiKeyInput } from './api-key-input.js';
import type { ApiKeyEntity } from './api-key.entity.js';
import { displayPrefix, generateApiKeySecret, hashApiKey } from './api-key-secret.js';
import { ApiKeysRepository } from './api-keys.repository.js';

export const API_KEYS_OPTIONS = Symbol('API_KEYS_OPTIONS');

export interface ApiKeysOptions {
  /** How long a verified key is trusted without reading PostgreSQL again (API_KEY_CACHE_MS; 0 = every call). */
  cacheMs: number;
  /** ADMIN_API_KEY: registered as an admin key at boot. */
  adminApiKey?: string;
  /** The clock, for tests. */
  now?: () => number;
}

/** The name of the key ADMIN_API_KEY becomes. */
export const ADMIN_API_KEY_NAME = 'ADMIN_API_KEY';

/** last_used_at is written at most this often per key (each process also skips writes it knows are early). */
export const LAST_USED_INTERVAL_MS = 60_000;

interface CachedKey {
  principal: Principal;
  expiresAt: number | null;
  cachedUntil: number;
}

export interface CreatedApiKey {
  key: ApiKeyEntity;
  /** The secret: shown to the caller once, never stored or logged. */
  secret: string;
}

@Injectable()
export class ApiKeysService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ApiKeysService.name);
  /** Verified keys by hash. Unknown keys are never cached: a key made on another replica works at once. */
  private readonly cache = new Map<string, CachedKey>();
  private readonly lastTouched = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly repo: ApiKeysRepository,
    @Inject(API_KEYS_OPTIONS) private readonly options: ApiKeysOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** ADMIN_API_KEY becomes an admin key before the API takes calls; replicas booting together race safely. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.adminApiKey) return;
    const added = await this.registerAdminKey(this.options.adminApiKey);
    this.logger.log(added ? 'ADMIN_API_KEY added as an admin key' : 'ADMIN_API_KEY is known already (left as it is)');
  }

  /** True when inserted; an existing row (revoked or not) is left as it is. */
  registerAdminKey(secret: string): Promise<boolean> {
    return this.repo.insertIfAbsent({
      id: randomUUID(),
      name: ADMIN_API_KEY_NAME,
      role: 'admin',
      namespaces: ['*'],
      keyHash: hashApiKey(secret),
      keyPrefix: displayPrefix(secret),
      expiresAt: null,
    });
  }

  async create(input: ApiKeyInput): Promise<CreatedApiKey> {
    const problems = apiKeyInputProblems(input, new Date(this.now()));
    if (problems.length) throw new DomainError(ErrorCode.ValidationFailed, problems.join('; '));
    const secret = generateApiKeySecret();
    const key = await this.repo.insert({
      id: randomUUID(),
      name: input.name,
      role: input.role,
      namespaces: input.role === 'admin' ? ['*'] : [...new Set(input.namespaces)],
      keyHash: hashApiKey(secret),
      keyPrefix: displayPrefix(secret),
      expiresAt: input.expiresAt ?? null,
    });
    return { key, secret };
  }

  list(): Promise<ApiKeyEntity[]> {
    return this.repo.list();
  }

  /** Revokes the key; this process forgets it at once, other replicas within API_KEY_CACHE_MS. */
  async revoke(id: string): Promise<ApiKeyEntity> {
    const key = await this.repo.revoke(id);
    if (!key) throw new DomainError(ErrorCode.ApiKeyNotFound, `no API key ${id}`);
    for (const [hash, cached] of this.cache) if (cached.principal.keyId === id) this.cache.delete(hash);
    this.lastTouched.delete(id);
    return key;
  }

  /** The principal of a good key; undefined for an unknown, revoked or expired one. */
  async authenticate(secret: string): Promise<Principal | undefined> {
    const hash = hashApiKey(secret);
    const now = this.now();
    let entry = this.cache.get(hash);
    if (!entry || entry.cachedUntil <= now) {
      this.cache.delete(hash);
      const row = await this.repo.findByHash(hash);
      if (!row || row.revokedAt) return undefined;
      entry = {
        principal: { keyId: row.id, keyName: row.name, role: row.role, scope: new NamespaceScope(row.namespaces) },
        expiresAt: row.expiresAt ? row.expiresAt.getTime() : null,
        cachedUntil: now + this.options.cacheMs,
      };
      if (this.options.cacheMs > 0) this.cache.set(hash, entry);
    }
    if (entry.expiresAt !== null && entry.expiresAt <= now) {
      this.cache.delete(hash);
      return undefined;
    }
    await this.noteUse(entry.principal.keyId, now);
    return entry.principal;
  }

  /** A failed write of last_used_at never fails the call it records. */
  private async noteUse(id: string, now: number): Promise<void> {
    const last = this.lastTouched.get(id);
    if (last !== undefined && now - last < LAST_USED_INTERVAL_MS) return;
    this.lastTouched.set(id, now);
    await this.repo.touchLastUsed(id).catch((e: Error) => this.logger.warn(`last_used_at not recorded: ${e.message}`));
  }
}
