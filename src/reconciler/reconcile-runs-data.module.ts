import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ReconcileRunEntity } from './reconcile-run.entity.js';
import { ReconcileRunsRepository } from './reconcile-runs.repository.js';

@Module({
  imports: [TypeOrmModule.forFeature([ReconcileRunEntity])],
  providers: [ReconcileRunsRepository],
  exports: [ReconcileRunsRepository],
})
export class ReconcileRunsDataModule {}
