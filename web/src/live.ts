import { useCallback, useEffect, useRef, useState } from 'react';
import { errorText } from './api';
import { useEvents } from './events';
import type { LxdEvent, LxdOperation } from './types';

export interface Live<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** Lifecycle events, finished operations and a reconnected stream change what a page shows. */
export function changesState(e: LxdEvent): boolean {
  if (e.type === 'lifecycle' || e.type === 'lxdpm-reconnected') return true;
  if (e.type !== 'operation') return false;
  const op = e.metadata as LxdOperation | null;
  return op !== null && op.status_code >= 200;
}

/**
 * Data that stays current without a manual refresh: loaded once, reloaded (debounced) when an event says
 * it may have changed, and polled for what no event announces (host health). Old data stays on screen
 * while a reload runs, so nothing flickers.
 */
export function useLive<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
  opts: { refreshOn?: (e: LxdEvent) => boolean; pollMs?: number } = {},
): Live<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const timer = useRef<number | undefined>(undefined);
  const stableLoad = useCallback(load, deps);

  const reload = useCallback(() => {
    const mine = ++generation.current;
    setLoading(true);
    stableLoad().then(
      (value) => {
        if (mine !== generation.current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (err: unknown) => {
        if (mine !== generation.current) return;
        setError(errorText(err));
        setLoading(false);
      },
    );
  }, [stableLoad]);

  useEffect(() => {
    setData(undefined);
    reload();
  }, [reload]);

  const refreshOn = opts.refreshOn ?? changesState;
  useEvents((e) => {
    if (!refreshOn(e)) return;
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(reload, 300);
  });

  useEffect(() => {
    if (opts.pollMs === undefined) return undefined;
    const id = window.setInterval(() => {
      if (document.visibilityState === 'visible') reload();
    }, opts.pollMs);
    return () => {
      window.clearInterval(id);
    };
  }, [opts.pollMs, reload]);

  useEffect(
    () => () => {
      window.clearTimeout(timer.current);
    },
    [],
  );

  return { data, error, loading, reload };
}
