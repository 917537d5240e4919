import type { LxdEvent } from '../lxd/types.js';

export type EventListener = (event: LxdEvent) => void;

/**
 * The merged event stream: host events (relayed by the fleet, location rewritten to the host name) and
 * the manager's own operation and lifecycle events, fanned out to every subscriber.
 */
export class EventHub {
  private readonly listeners = new Set<EventListener>();

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: LxdEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // One broken subscriber must not starve the others.
      }
    }
  }

  /** The manager's own events carry its server name as location. */
  emit(type: LxdEvent['type'], metadata: unknown, location: string): void {
    this.publish({ type, timestamp: new Date().toISOString(), metadata, location, project: 'default' });
  }

  get size(): number {
    return this.listeners.size;
  }
}
