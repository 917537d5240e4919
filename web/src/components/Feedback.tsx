import { createContext, useCallback, useContext, useState, type ReactNode } from 'react';

/** An error from the API, as a sentence where the user is looking. */
export function ErrorBox({ error, onDismiss }: { error: string | undefined; onDismiss?: () => void }) {
  if (error === undefined || error === '') return null;
  return (
    <div className="error-box" role="alert">
      <span className="error-icon" aria-hidden="true">
        !
      </span>
      <span className="error-text">{error}</span>
      {onDismiss !== undefined && (
        <button type="button" className="link-button" onClick={onDismiss} aria-label="Dismiss error">
          Dismiss
        </button>
      )}
    </div>
  );
}

/** A page's error: its last failed action (which can be dismissed), else its failed load. */
export function PageError({
  action,
  load,
  onDismiss,
}: {
  action: string | undefined;
  load: string | undefined;
  onDismiss: () => void;
}) {
  return <ErrorBox error={action ?? load} onDismiss={action !== undefined ? onDismiss : undefined} />;
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function Loading({ what }: { what: string }) {
  return (
    <div className="loading" role="status">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </div>
  );
}

interface Toast {
  id: number;
  text: string;
  tone: 'ok' | 'bad';
}

const ToastContext = createContext<(text: string, tone?: 'ok' | 'bad') => void>(() => undefined);

/** Short notices about finished actions ("Started c1"), announced politely to screen readers. */
export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const notify = useCallback((text: string, tone: 'ok' | 'bad' = 'ok') => {
    const id = Date.now() + Math.random();
    setToasts((t) => [...t.slice(-3), { id, text, tone }]);
    window.setTimeout(
      () => {
        setToasts((t) => t.filter((x) => x.id !== id));
      },
      tone === 'bad' ? 10_000 : 4_000,
    );
  }, []);
  return (
    <ToastContext.Provider value={notify}>
      {children}
      <div className="toasts" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.tone}`} role={t.tone === 'bad' ? 'alert' : 'status'}>
            {t.text}
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

export function useNotify() {
  return useContext(ToastContext);
}
