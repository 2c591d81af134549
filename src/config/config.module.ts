import { DynamicModule, Global, Module } from '@nestjs/common';
import { ShutdownSignal } from '../common/shutdown.js';
import { AppConfig } from './app-config.js';

/** Makes the one validated AppConfig, and the process's shutdown clock, injectable everywhere. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: AppConfig, useValue: config },
        { provide: ShutdownSignal, useValue: new ShutdownSignal(config.SHUTDOWN_TIMEOUT_MS) },
      ],
      exports: [AppConfig, ShutdownSignal],
    };
  }
}
