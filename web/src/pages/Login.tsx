import { useEffect, useRef, useState } from 'react';
import { api, errorText } from '../api';

/**
 * Sign-in: `lxdpm ui-login` prints a link with a one-time token; this page trades it for a session cookie
 * with a POST (so link previews cannot use it up) and drops it from the address bar.
 */
export function LoginPage({ onSignedIn, expired }: { onSignedIn: () => void; expired?: boolean }) {
  const [state, setState] = useState<{ kind: 'idle' | 'working' } | { kind: 'error'; message: string }>({
    kind: 'idle',
  });
  const started = useRef(false);

  useEffect(() => {
    const token = new URLSearchParams(window.location.search).get('token');
    if (token === null || started.current) return;
    started.current = true;
    window.history.replaceState(null, '', '/ui/login');
    setState({ kind: 'working' });
    api.run('POST', '/ui/session', { token }).then(
      () => {
        window.history.replaceState(null, '', '/ui/');
        onSignedIn();
      },
      (err: unknown) => {
        setState({ kind: 'error', message: errorText(err) });
      },
    );
  }, [onSignedIn]);

  return (
    <main className="login">
      <div className="login-card">
        <div className="brand big">
          <span className="logo" aria-hidden="true" />
          lxdpm
        </div>
        <h1>Sign in</h1>
        {state.kind === 'working' ? (
          <p role="status">Signing you in…</p>
        ) : (
          <>
            {state.kind === 'error' && (
              <div className="error-box" role="alert">
                <span className="error-icon" aria-hidden="true">
                  !
                </span>
                <span className="error-text">{state.message}</span>
              </div>
            )}
            {expired === true && state.kind === 'idle' && (
              <p className="notice">Your session has ended. Sign in again.</p>
            )}
            <p>This manager signs browsers in with one-time links. On the manager's machine, run:</p>
            <pre className="command">lxdpm ui-login</pre>
            <p className="muted small">
              and open the link it prints. Links work once and expire after 10 minutes; sessions last 12
              hours.
            </p>
          </>
        )}
      </div>
    </main>
  );
}
