import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Where one watch stream stands: the mirror is known to match Kubernetes up to resourceVersion. */
@Entity({ name: 'watcher_state' })
export class WatcherStateEntity {
  /** The stream's scope key (see watch-scope.ts). */
  @PrimaryColumn({ type: 'varchar', length: 255 })
  scope!: string;

  /** Every change up to this version is in the mirror; a restarted watch resumes here. */
  @Column({ name: 'resource_version', type: 'varchar', length: 64, nullable: true })
  resourceVersion!: string | null;

  /** Last event or bookmark applied: how stale the mirror may be. */
  @Column({ name: 'last_event_at', type: 'timestamptz', nullable: true })
  lastEventAt!: Date | null;

  @Column({ name: 'last_relist_at', type: 'timestamptz', nullable: true })
  lastRelistAt!: Date | null;

  @Column({ name: 'last_relist_reason', type: 'varchar', length: 32, nullable: true })
  lastRelistReason!: string | null;

  @Column({ name: 'leader_identity', type: 'varchar', length: 255, nullable: true })
  leaderIdentity!: string | null;

  @Column({ name: 'leader_since', type: 'timestamptz', nullable: true })
  leaderSince!: Date | null;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  /** The kube-system namespace's uid at the last list: another value means another cluster. */
  @Column({ name: 'cluster_uid', type: 'varchar', length: 64, nullable: true })
  clusterUid!: string | null;
}
