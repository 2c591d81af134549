import { Controller } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { ReconcilerService } from './reconciler.service.js';
import { RECONCILE_REQUEST } from './reconcile-subject.js';

/**
 * The reconciler's side of POST /v1/admin/reconcile: starts a manual pass and answers with
 * its id, or with the id of the pass already running (alreadyRunning).
 */
@Controller()
export class ReconcileControlController {
  constructor(private readonly reconciler: ReconcilerService) {}

  @MessagePattern(RECONCILE_REQUEST)
  async reconcile(): Promise<{ runId: number; alreadyRunning: boolean }> {
    const { run, alreadyRunning } = await this.reconciler.requestManual();
    return { runId: run.id, alreadyRunning };
  }
}
