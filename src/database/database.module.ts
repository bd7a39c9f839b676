import { DynamicModule, Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { OpenDatabase, DatabaseTarget, openDatabase } from './data-source.factory';
import { DatabaseHealth } from './database.health';

const OPEN_DATABASE = Symbol('OPEN_DATABASE');

/** Closes the database after the HTTP server has stopped (shutdown hooks run last). */
@Injectable()
class DatabaseLifecycle implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  constructor(@Inject(OPEN_DATABASE) private readonly database: OpenDatabase) {}

  async onApplicationShutdown(): Promise<void> {
    await this.database.close();
    this.logger.log('database closed');
  }
}

@Global()
@Module({})
export class DatabaseModule {
  static forRoot(target: DatabaseTarget): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        { provide: OPEN_DATABASE, useFactory: () => openDatabase(target, true) },
        { provide: DataSource, inject: [OPEN_DATABASE], useFactory: (database: OpenDatabase) => database.dataSource },
        DatabaseLifecycle,
        DatabaseHealth,
      ],
      exports: [DataSource, DatabaseHealth],
    };
  }
}
