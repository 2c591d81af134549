import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { ApiRole } from '../domain/principal.js';
import { ApiKeyEntity } from './api-key.entity.js';

export interface NewApiKey {
  id: string;
  name: string;
  role: ApiRole;
  namespaces: string[];
  keyHash: string;
  keyPrefix: string;
  expiresAt: Date | null;
}

/** The only code that reads or writes api_keys. */
@Injectable()
export class ApiKeysRepository {
  constructor(@InjectRepository(ApiKeyEntity) private readonly repo: Repository<ApiKeyEntity>) {}

  async insert(key: NewApiKey): Promise<ApiKeyEntity> {
    await this.repo.insert(key);
    return (await this.findById(key.id))!;
  }

  /**
   * Inserts the key unless one with the same hash exists (another replica's boot, or an
   * earlier one): that row stays as it is, so a revoked key stays revoked. True when inserted.
   */
  async insertIfAbsent(key: NewApiKey): Promise<boolean> {
    const rows: unknown[] = await this.repo.query(
      `INSERT INTO api_keys (id, name, role, namespaces, key_hash, key_prefix, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (key_hash) DO NOTHING
       RETURNING id`,
      [key.id, key.name, key.role, key.namespaces, key.keyHash, key.keyPrefix, key.expiresAt],
    );
    return rows.length === 1;
  }

  findById(id: string): Promise<ApiKeyEntity | null> {
    return this.repo.findOneBy({ id });
  }

  findByHash(keyHash: string): Promise<ApiKeyEntity | null> {
    return this.repo.findOneBy({ keyHash });
  }

  /** Every key, newest first (keys are few: people make them by hand). */
  list(): Promise<ApiKeyEntity[]> {
    return this.repo.find({ order: { createdAt: 'DESC', id: 'ASC' } });
  }

  /** Marks the key revoked (once: a second revoke keeps the first time). Null when there is no such key. */
  async revoke(id: string): Promise<ApiKeyEntity | null> {
    await this.repo.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, [id]);
    return this.findById(id);
  }

  /** Records a use, at most once a minute per key across every replica. */
  async touchLastUsed(id: string): Promise<void> {
    await this.repo.query(
      `UPDATE api_keys SET last_used_at = now()
       WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
      [id],
    );
  }
}
