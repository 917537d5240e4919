import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from 'react';

/** The app lives under /ui/; routes are the rest of the path. */
export const BASE = '/ui';

const NAVIGATE_EVENT = 'lxdpm:navigate';

function currentRoute(): string {
  const path = window.location.pathname;
  const rest = path.startsWith(BASE) ? path.slice(BASE.length) : path;
  return rest === '' ? '/' : rest;
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const url = `${BASE}${to}`;
  if (opts.replace === true) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  window.dispatchEvent(new Event(NAVIGATE_EVENT));
}

/** The current route (path below /ui) and its query. */
export function useRoute(): { path: string; query: URLSearchParams } {
  const [state, setState] = useState(() => ({ path: currentRoute(), search: window.location.search }));
  useEffect(() => {
    const update = () => {
      setState({ path: currentRoute(), search: window.location.search });
    };
    window.addEventListener('popstate', update);
    window.addEventListener(NAVIGATE_EVENT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(NAVIGATE_EVENT, update);
    };
  }, []);
  return { path: state.path, query: new URLSearchParams(state.search) };
}

/** A real link (middle click, keyboard, copy address all work) that navigates inside the app. */
export function Link({ to, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={`${BASE}${to}`} onClick={handle} {...rest} />;
}
