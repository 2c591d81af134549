import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { ApiRole } from '../domain/principal.js';

/** One API key. The secret itself is never stored: only its SHA-256 and a short prefix to recognise it. */
@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ type: 'varchar', length: 10 })
  role!: ApiRole;

  /** Namespace names and `prefix*` patterns; `*` is every namespace (always so for admin keys). */
  @Column({ type: 'text', array: true })
  namespaces!: string[];

  @Column({ name: 'key_hash', type: 'char', length: 64, select: false })
  keyHash!: string;

  @Column({ name: 'key_prefix', type: 'varchar', length: 16 })
  keyPrefix!: string;

  @Column({ name: 'created_at', type: 'timestamptz', insert: false })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true, insert: false })
  revokedAt!: Date | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true, insert: false })
  lastUsedAt!: Date | null;
}
