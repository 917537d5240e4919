import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { api, compareTimes } from './api';
import type { LxdEvent, LxdOperation } from './types';

type Listener = (event: LxdEvent) => void;
export type StreamStatus = 'connecting' | 'live' | 'reconnecting';

/**
 * One websocket to `/1.0/events` for the whole app (the session cookie authenticates it), reconnecting
 * with backoff. Pages subscribe to it to refresh themselves; operation events feed the operations map.
 */
class EventStream {
  private readonly listeners = new Set<Listener>();
  private readonly statusListeners = new Set<(s: StreamStatus) => void>();
  private socket: WebSocket | undefined;
  private retry = 0;
  private timer: number | undefined;
  private closed = false;
  status: StreamStatus = 'connecting';

  connect(): void {
    this.closed = false;
    const url = `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/1.0/events`;
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      this.retry = 0;
      this.setStatus('live');
    };
    socket.onmessage = (msg) => {
      if (typeof msg.data !== 'string') return;
      for (const line of msg.data.split('\n')) {
        if (line.trim() === '') continue;
        let event: LxdEvent;
        try {
          event = JSON.parse(line) as LxdEvent;
        } catch {
          continue;
        }
        for (const l of this.listeners) l(event);
      }
    };
    socket.onclose = () => {
      if (this.closed) return;
      this.setStatus('reconnecting');
      const delay = Math.min(10_000, 500 * 2 ** this.retry++);
      this.timer = window.setTimeout(() => {
        this.connect();
      }, delay);
    };
  }

  close(): void {
    this.closed = true;
    window.clearTimeout(this.timer);
    this.socket?.close();
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  onStatus(l: (s: StreamStatus) => void): () => void {
    this.statusListeners.add(l);
    return () => this.statusListeners.delete(l);
  }

  private setStatus(s: StreamStatus): void {
    const wasDown = this.status !== 'live';
    this.status = s;
    for (const l of this.statusListeners) l(s);
    // Events may have been missed while disconnected: let every page reload.
    if (s === 'live' && wasDown) {
      const tick: LxdEvent = {
        type: 'lxdpm-reconnected',
        timestamp: '',
        metadata: null,
        location: '',
        project: '',
      };
      for (const l of this.listeners) l(tick);
    }
  }
}

/**
 * Whether an operation event should replace what is known: an event stream merged from several sources
 * can repeat or reorder events, and an operation that has ended never runs again.
 */
export function newer(next: LxdOperation, known: LxdOperation): boolean {
  if (known.status_code >= 200) return false;
  if (next.status_code >= 200) return true;
  return compareTimes(next.updated_at, known.updated_at) >= 0;
}

interface EventsValue {
  stream: EventStream;
  operations: Map<string, LxdOperation>;
}

const EventsContext = createContext<EventsValue | undefined>(undefined);

export function EventsProvider({ children }: { children: ReactNode }) {
  const [stream] = useState(() => new EventStream());
  const [operations, setOperations] = useState(() => new Map<string, LxdOperation>());

  useEffect(() => {
    const unsubscribe = stream.subscribe((event) => {
      if (event.type !== 'operation') return;
      const op = event.metadata as LxdOperation | null;
      if (op === null || typeof op.id !== 'string') return;
      setOperations((prev) => {
        const known = prev.get(op.id);
        if (known !== undefined && !newer(op, known)) return prev;
        return new Map(prev).set(op.id, { ...op, location: op.location || event.location });
      });
    });
    stream.connect();
    api
      .get<Record<string, LxdOperation[] | undefined>>('/1.0/operations?recursion=1')
      .then((grouped) => {
        setOperations((prev) => {
          const next = new Map(prev);
          for (const list of Object.values(grouped))
            for (const op of list ?? []) if (!next.has(op.id)) next.set(op.id, op);
          return next;
        });
      })
      .catch(() => undefined);
    return () => {
      unsubscribe();
      stream.close();
    };
  }, [stream]);

  return <EventsContext.Provider value={{ stream, operations }}>{children}</EventsContext.Provider>;
}

function useEventsValue(): EventsValue {
  const value = useContext(EventsContext);
  if (value === undefined) throw new Error('useEvents outside EventsProvider');
  return value;
}

/** Calls the handler for every event (the latest handler, without resubscribing). */
export function useEvents(handler: Listener): void {
  const { stream } = useEventsValue();
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(
    () =>
      stream.subscribe((e) => {
        ref.current(e);
      }),
    [stream],
  );
}

export function useStreamStatus(): StreamStatus {
  const { stream } = useEventsValue();
  const [status, setStatus] = useState(stream.status);
  useEffect(() => stream.onStatus(setStatus), [stream]);
  return status;
}

/** Every operation seen since the app loaded, live. */
export function useOperations(): Map<string, LxdOperation> {
  return useEventsValue().operations;
}

/** One operation, live from the event stream. */
export function useOperation(id: string | undefined): LxdOperation | undefined {
  const ops = useOperations();
  return id === undefined ? undefined : ops.get(id);
}
