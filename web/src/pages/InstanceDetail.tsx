import { lazy, Suspense, useState, type SubmitEvent } from 'react';
import { api, compareTimes, errorText, formatDate, instancePath } from '../api';
import { ConfirmButton } from '../components/ConfirmButton';
import { Empty, ErrorBox, Loading, useNotify } from '../components/Feedback';
import { Status } from '../components/Status';
import { ACTION_LABELS, imageOf, ipv4Of, runAction, type InstanceAction } from '../instance-actions';
import { useLive } from '../live';
import { Link, navigate } from '../router';
import type { Instance, InstanceState, LxdEvent, Snapshot } from '../types';

// xterm.js is most of the bundle: load it only when a terminal is opened.
const Terminal = lazy(() => import('../components/Terminal').then((m) => ({ default: m.Terminal })));

const TABS = ['overview', 'snapshots', 'terminal', 'console'] as const;
type Tab = (typeof TABS)[number];
const TAB_LABELS: Record<Tab, string> = {
  overview: 'Overview',
  snapshots: 'Snapshots',
  terminal: 'Terminal',
  console: 'Console log',
};

async function loadInstance(name: string): Promise<Instance> {
  const [instance, state, snapshots] = await Promise.all([
    api.get<Instance>(instancePath(name)),
    api.get<InstanceState>(instancePath(name, '/state')).catch(() => null),
    api.get<Snapshot[]>(instancePath(name, '/snapshots?recursion=1')).catch(() => null),
  ]);
  return { ...instance, state, snapshots };
}

function concerns(name: string) {
  return (e: LxdEvent) => {
    if (e.type === 'lxdpm-reconnected') return true;
    if (e.type !== 'lifecycle') return false;
    const source = (e.metadata as { source?: string } | null)?.source ?? '';
    return source === instancePath(name) || source.startsWith(`${instancePath(name)}/`);
  };
}

export function InstanceDetailPage({ name }: { name: string }) {
  const live = useLive(() => loadInstance(name), [name], { refreshOn: concerns(name), pollMs: 10_000 });
  const notify = useNotify();
  const [tab, setTab] = useState<Tab>('overview');
  const [busy, setBusy] = useState<InstanceAction>();
  const [error, setError] = useState<string>();
  const i = live.data;

  const act = (action: InstanceAction) => {
    if (i === undefined) return;
    setBusy(action);
    setError(undefined);
    runAction(i, action)
      .then(() => {
        notify(`${ACTION_LABELS[action].done} ${name}`);
        if (action === 'delete') navigate('/instances');
        else live.reload();
      })
      .catch((err: unknown) => {
        setError(errorText(err));
      })
      .finally(() => {
        setBusy(undefined);
      });
  };

  if (i === undefined) {
    return (
      <>
        <Breadcrumb name={name} />
        <ErrorBox error={live.error} />
        {live.error === undefined && <Loading what={name} />}
      </>
    );
  }
  const running = i.status === 'Running';
  return (
    <>
      <Breadcrumb name={name} />
      <header className="page-header">
        <div>
          <h1 className="with-status">
            {i.name} <Status value={busy !== undefined ? `${ACTION_LABELS[busy].doing}…` : i.status} />
          </h1>
          <p className="subtitle">
            on host <strong data-testid="instance-host">{i.location}</strong> · {imageOf(i)}
          </p>
        </div>
        <div className="header-actions">
          {running ? (
            <>
              <button
                type="button"
                disabled={busy !== undefined}
                onClick={() => {
                  act('stop');
                }}
              >
                Stop
              </button>
              <button
                type="button"
                disabled={busy !== undefined}
                onClick={() => {
                  act('force-stop');
                }}
              >
                Force stop
              </button>
              <button
                type="button"
                disabled={busy !== undefined}
                onClick={() => {
                  act('restart');
                }}
              >
                Restart
              </button>
            </>
          ) : (
            <button
              type="button"
              className="primary"
              disabled={busy !== undefined}
              onClick={() => {
                act('start');
              }}
            >
              Start
            </button>
          )}
          <ConfirmButton
            label="Delete"
            confirmLabel={running ? 'Stop and delete' : `Delete ${i.name}`}
            disabled={busy !== undefined}
            onConfirm={() => {
              act('delete');
            }}
          />
        </div>
      </header>
      <ErrorBox
        error={error ?? live.error}
        onDismiss={() => {
          setError(undefined);
        }}
      />

      <div className="tabs" role="tablist" aria-label="Instance views">
        {TABS.map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            id={`tab-${t}`}
            aria-selected={tab === t}
            aria-controls={`panel-${t}`}
            tabIndex={tab === t ? 0 : -1}
            className={tab === t ? 'tab active' : 'tab'}
            onClick={() => {
              setTab(t);
            }}
            onKeyDown={(e) => {
              const at = TABS.indexOf(t);
              const next =
                e.key === 'ArrowRight'
                  ? TABS[(at + 1) % TABS.length]
                  : e.key === 'ArrowLeft'
                    ? TABS[(at + TABS.length - 1) % TABS.length]
                    : undefined;
              if (next !== undefined) {
                setTab(next);
                document.getElementById(`tab-${next}`)?.focus();
              }
            }}
          >
            {TAB_LABELS[t]}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tab-panel">
        {tab === 'overview' && <Overview instance={i} />}
        {tab === 'snapshots' && <Snapshots instance={i} onChange={live.reload} />}
        {tab === 'terminal' &&
          (running ? (
            <Suspense fallback={<Loading what="the terminal" />}>
              <Terminal instance={i.name} />
            </Suspense>
          ) : (
            <Empty>Start the instance to open a terminal in it.</Empty>
          ))}
        {tab === 'console' && <ConsoleLog name={i.name} />}
      </div>
    </>
  );
}

function Breadcrumb({ name }: { name: string }) {
  return (
    <nav className="breadcrumb" aria-label="Breadcrumb">
      <Link to="/instances">Instances</Link> <span aria-hidden="true">/</span> <span>{name}</span>
    </nav>
  );
}

function KeyValues({ entries, empty }: { entries: [string, string][]; empty: string }) {
  if (entries.length === 0) return <p className="muted">{empty}</p>;
  return (
    <table className="table kv">
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th scope="row" className="mono">
              {k}
            </th>
            <td className="mono">{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Overview({ instance: i }: { instance: Instance }) {
  const [volatile, setVolatile] = useState(false);
  const config = Object.entries(i.expanded_config ?? i.config ?? {})
    .filter(([k]) => volatile || !k.startsWith('volatile.'))
    .sort(([a], [b]) => a.localeCompare(b));
  const devices = Object.entries(i.expanded_devices ?? i.devices ?? {}).map(
    ([name, d]) =>
      [
        name,
        Object.entries(d)
          .map(([k, v]) => `${k}=${v}`)
          .join('  '),
      ] as [string, string],
  );
  return (
    <div className="overview">
      <section className="panel">
        <h2 className="panel-title">Summary</h2>
        <dl className="facts wide">
          <div>
            <dt>Host</dt>
            <dd>{i.location}</dd>
          </div>
          <div>
            <dt>Type</dt>
            <dd>{i.type ?? 'container'}</dd>
          </div>
          <div>
            <dt>Profiles</dt>
            <dd>{(i.profiles ?? []).join(', ') || '—'}</dd>
          </div>
          <div>
            <dt>IPv4</dt>
            <dd className="mono">{ipv4Of(i).join(', ') || '—'}</dd>
          </div>
          <div>
            <dt>Created</dt>
            <dd>{formatDate(i.created_at)}</dd>
          </div>
          <div>
            <dt>Processes</dt>
            <dd>{i.state?.pid !== undefined && i.state.pid > 0 ? `init pid ${i.state.pid}` : '—'}</dd>
          </div>
        </dl>
      </section>
      <section className="panel">
        <div className="panel-head">
          <h2 className="panel-title">Configuration</h2>
          <label className="check small">
            <input
              type="checkbox"
              checked={volatile}
              onChange={(e) => {
                setVolatile(e.target.checked);
              }}
            />
            Show volatile keys
          </label>
        </div>
        <KeyValues entries={config} empty="No configuration keys." />
      </section>
      <section className="panel">
        <h2 className="panel-title">Devices</h2>
        <KeyValues entries={devices} empty="No devices." />
      </section>
    </div>
  );
}

function Snapshots({ instance: i, onChange }: { instance: Instance; onChange: () => void }) {
  const notify = useNotify();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<string>();
  const run = (what: string, work: () => Promise<unknown>, done: string) => {
    setBusy(what);
    setError(undefined);
    work()
      .then(() => {
        notify(done);
        onChange();
      })
      .catch((err: unknown) => {
        setError(errorText(err));
      })
      .finally(() => {
        setBusy(undefined);
      });
  };
  const create = (e: SubmitEvent) => {
    e.preventDefault();
    const snap = name.trim();
    run(
      'create',
      () => api.run('POST', instancePath(i.name, '/snapshots'), { name: snap, stateful: false }),
      `Snapshot ${snap || ''} created`.replace('  ', ' '),
    );
    setName('');
  };
  const snaps = [...(i.snapshots ?? [])].sort((a, b) => compareTimes(b.created_at, a.created_at));
  return (
    <section className="panel">
      <form className="inline-form" onSubmit={create} aria-label="Create a snapshot">
        <label>
          <span className="sr-only">Snapshot name</span>
          <input
            value={name}
            onChange={(e) => {
              setName(e.target.value);
            }}
            placeholder="snapshot name (optional)"
          />
        </label>
        <button type="submit" className="primary" disabled={busy !== undefined}>
          {busy === 'create' ? 'Creating…' : 'Create snapshot'}
        </button>
      </form>
      <ErrorBox
        error={error}
        onDismiss={() => {
          setError(undefined);
        }}
      />
      {snaps.length === 0 ? (
        <Empty>No snapshots yet.</Empty>
      ) : (
        <table className="table responsive" aria-label="Snapshots">
          <thead>
            <tr>
              <th>Name</th>
              <th>Created</th>
              <th className="col-actions">Actions</th>
            </tr>
          </thead>
          <tbody>
            {snaps.map((s) => {
              const short = s.name.split('/').pop() ?? s.name;
              return (
                <tr key={s.name}>
                  <td data-label="Name" className="strong">
                    {short}
                  </td>
                  <td data-label="Created">{formatDate(s.created_at)}</td>
                  <td className="col-actions">
                    <div className="row-actions">
                      <ConfirmButton
                        label="Restore"
                        className=""
                        confirmLabel={`Restore ${short}`}
                        disabled={busy !== undefined}
                        onConfirm={() => {
                          run(
                            'restore',
                            () => api.run('PUT', instancePath(i.name), { restore: short }),
                            `Restored ${short}`,
                          );
                        }}
                      />
                      <ConfirmButton
                        label="Delete"
                        confirmLabel={`Delete ${short}`}
                        disabled={busy !== undefined}
                        onConfirm={() => {
                          run(
                            'delete',
                            () =>
                              api.run(
                                'DELETE',
                                instancePath(i.name, `/snapshots/${encodeURIComponent(short)}`),
                              ),
                            `Deleted snapshot ${short}`,
                          );
                        }}
                      />
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ConsoleLog({ name }: { name: string }) {
  const live = useLive(
    async () => {
      const res = await fetch(instancePath(name, '/console'), { credentials: 'same-origin' });
      const text = await res.text();
      if (!res.ok) {
        let message = `The console log is not available (HTTP ${res.status})`;
        try {
          message = (JSON.parse(text) as { error?: string }).error ?? message;
        } catch {
          // not JSON: keep the generic sentence
        }
        // LXD answers this way when the instance has not written a console log yet.
        if (/no such file or directory/.test(message)) return '';
        throw new Error(message);
      }
      return text;
    },
    [name],
    { refreshOn: () => false },
  );
  return (
    <section className="panel">
      <div className="panel-head">
        <h2 className="panel-title">Console log</h2>
        <button type="button" onClick={live.reload} disabled={live.loading}>
          {live.loading ? 'Loading…' : 'Refresh'}
        </button>
      </div>
      <ErrorBox error={live.error} />
      {live.data !== undefined &&
        (live.data.trim() === '' ? (
          <Empty>The console has printed nothing yet.</Empty>
        ) : (
          <pre className="console-log">{live.data}</pre>
        ))}
    </section>
  );
}
