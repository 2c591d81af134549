import { Injectable, Logger } from '@nestjs/common';
import { RequestsRepository } from './requests.repository.js';
import { nextReceipt } from './rollout-receipts.js';

/** A receipt moved by someone else between our read and our write is read again, this many times. */
const ATTEMPTS = 3;

/**
 * Moves rollout receipts on from the mirror (see nextReceipt for the rules). Whoever writes
 * one side calls it after committing: the watcher after each mirror write, the worker after
 * marking SUCCESS (WAITING), the reconciler once per pass. With both sides "write, then read
 * the other", at least one of two racing writers sees both writes: a generation the watcher
 * mirrored before the worker recorded SUCCESS is picked up by the worker's own call. The
 * worker's read of the other side is its next claim, which says whether the mirror has a row:
 * without one a write's receipt cannot move yet, so it calls only when there is (or for a DELETE).
 */
@Injectable()
export class RolloutReceipts {
  private readonly logger = new Logger(RolloutReceipts.name);

  constructor(private readonly requests: RequestsRepository) {}

  /** Moves the open receipts of these Deployments (all when none are given); returns how many moved. */
  async advance(targets?: { namespace: string; name: string }[]): Promise<number> {
    let moved = 0;
    let only = targets;
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const now = new Date();
      const moves = (await this.requests.openReceipts(only)).flatMap(({ request, observed }) => {
        const to = nextReceipt(request, observed, now);
        return to ? [{ requestId: request.requestId, from: request.rollout, to, request }] : [];
      });
      if (moves.length === 0) break;
      const done = new Set(await this.requests.moveReceipts(moves));
      moved += done.size;
      const lost = moves.filter((m) => !done.has(m.requestId));
      if (lost.length === 0) break;
      only = lost.map((m) => ({ namespace: m.request.namespace, name: m.request.name }));
    }
    return moved;
  }

  /** Like advance, for callers whose own work is done: a failure is logged, and the next event or pass repairs it. */
  async advanceQuietly(targets?: { namespace: string; name: string }[]): Promise<void> {
    try {
      await this.advance(targets);
    } catch (e) {
      this.logger.warn(`cannot move rollout receipts: ${(e as Error).message}`);
    }
  }
}
