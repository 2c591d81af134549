import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { WatcherStateEntity } from './watcher-state.entity.js';
import { WatcherStateRepository } from './watcher-state.repository.js';

/** Where each watch scope's stream stands, and so how fresh the mirror is: written by the watcher, read by the API. */
@Module({
  imports: [TypeOrmModule.forFeature([WatcherStateEntity])],
  providers: [WatcherStateRepository],
  exports: [WatcherStateRepository],
})
export class WatcherStateModule {}
