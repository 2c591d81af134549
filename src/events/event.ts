import type { NamespaceScope } from '../domain/principal.js';

/** What the event log records (the events table's `type`). */
export const EVENT_TYPES = [
  'request.status',
  'request.rollout',
  'deployment.changed',
  'deployment.deleted',
  'deployment.drift',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** One row of the event log. */
export interface StoredEvent {
  id: number;
  type: EventType;
  namespace: string;
  name: string;
  requestId: string | null;
  payload: Record<string, unknown>;
  createdAt: Date;
}

/** What one client asked for, within what its API key may see. */
export interface EventFilter {
  scope: NamespaceScope;
  namespace?: string;
  name?: string;
  requestId?: string;
  /** Undefined: every type. */
  types?: readonly EventType[];
}

/** The filter in memory; EventsRepository.readAfter applies the same rules in SQL. */
export function matchesFilter(e: StoredEvent, f: EventFilter): boolean {
  if (!f.scope.covers(e.namespace)) return false;
  if (f.namespace !== undefined && e.namespace !== f.namespace) return false;
  if (f.name !== undefined && e.name !== f.name) return false;
  if (f.requestId !== undefined && e.requestId !== f.requestId) return false;
  if (f.types && !f.types.includes(e.type)) return false;
  return true;
}
