import { FitAddon } from '@xterm/addon-fit';
import { Terminal as XTerm } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';
import { api, errorText, instancePath } from '../api';
import type { LxdOperation } from '../types';

interface ExecFds {
  '0'?: string;
  control?: string;
}

function socketUrl(opId: string, secret: string): string {
  const proto = window.location.protocol === 'https:' ? 'wss' : 'ws';
  return `${proto}://${window.location.host}/1.0/operations/${encodeURIComponent(opId)}/websocket?secret=${encodeURIComponent(secret)}`;
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      resolve(ws);
    };
    ws.onerror = () => {
      reject(new Error('The terminal connection was refused'));
    };
  });
}

const SHELL = ['/bin/sh'];

type State = { kind: 'connecting' } | { kind: 'open' } | { kind: 'closed'; message: string };

/**
 * A shell in the instance: `POST …/exec` in interactive mode (one pty stream on fd 0 plus control), as
 * `lxc exec` does it, rendered with xterm.js. Keystrokes go out as binary frames, window size changes as
 * `window-resize` control messages.
 */
export function Terminal({ instance, command = SHELL }: { instance: string; command?: string[] }) {
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>({ kind: 'connecting' });
  const [session, setSession] = useState(0);

  useEffect(() => {
    const el = host.current;
    if (el === null) return undefined;
    const term = new XTerm({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 13,
      theme: { background: '#0f1720', foreground: '#e6edf3', cursor: '#7cc4ff' },
      screenReaderMode: false,
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    fit.fit();
    let data: WebSocket | undefined;
    let control: WebSocket | undefined;
    // An object, not a let: the async steps below read it after awaits.
    const life = { disposed: false };
    const encoder = new TextEncoder();
    setState({ kind: 'connecting' });

    const resize = () => {
      fit.fit();
      if (control?.readyState === WebSocket.OPEN) {
        control.send(
          JSON.stringify({
            command: 'window-resize',
            args: { width: String(term.cols), height: String(term.rows) },
            signal: 0,
          }),
        );
      }
    };
    const observer = new ResizeObserver(resize);
    observer.observe(el);

    void (async () => {
      try {
        const r = await api.request<unknown>('POST', instancePath(instance, '/exec'), {
          command,
          environment: { TERM: 'xterm-256color' },
          interactive: true,
          'wait-for-websocket': true,
          width: term.cols,
          height: term.rows,
        });
        const op: LxdOperation | undefined = r.operation;
        const fds = (op?.metadata as { fds?: ExecFds } | null | undefined)?.fds;
        if (op === undefined || fds?.['0'] === undefined)
          throw new Error('The manager did not open a terminal');
        if (fds.control !== undefined) control = await open(socketUrl(op.id, fds.control));
        data = await open(socketUrl(op.id, fds['0']));
        if (life.disposed) {
          data.close();
          control?.close();
          return;
        }
        data.onmessage = (msg) => {
          if (msg.data instanceof ArrayBuffer) term.write(new Uint8Array(msg.data));
          else if (typeof msg.data === 'string' && msg.data !== '') term.write(msg.data);
        };
        data.onclose = () => {
          control?.close();
          if (life.disposed) return;
          term.write('\r\n\x1b[90m[session ended]\x1b[0m\r\n');
          setState({ kind: 'closed', message: 'The shell has exited.' });
        };
        term.onData((text) => {
          if (data?.readyState === WebSocket.OPEN) data.send(encoder.encode(text));
        });
        setState({ kind: 'open' });
        resize();
        term.focus();
      } catch (err) {
        if (!life.disposed) setState({ kind: 'closed', message: errorText(err) });
      }
    })();

    return () => {
      life.disposed = true;
      observer.disconnect();
      // Leaving the page hangs up the shell, as closing a terminal window does (SIGHUP), so the exec
      // operation ends instead of lingering with a shell nobody reads.
      if (control?.readyState === WebSocket.OPEN)
        control.send(JSON.stringify({ command: 'signal', args: null, signal: 1 }));
      data?.close();
      control?.close();
      term.dispose();
    };
  }, [instance, session, command]);

  return (
    <div className="terminal-wrap">
      <div className="terminal-bar">
        <span
          className={`status status-${state.kind === 'open' ? 'ok' : state.kind === 'connecting' ? 'busy' : 'off'}`}
        >
          <span className="dot" aria-hidden="true" />
          {state.kind === 'open' ? 'Connected' : state.kind === 'connecting' ? 'Connecting…' : 'Disconnected'}
        </span>
        {state.kind === 'closed' && (
          <>
            <span className="muted small">{state.message}</span>
            <button
              type="button"
              onClick={() => {
                setSession((s) => s + 1);
              }}
            >
              Reconnect
            </button>
          </>
        )}
      </div>
      <div className="terminal-screen" ref={host} role="application" aria-label={`Terminal of ${instance}`} />
    </div>
  );
}
