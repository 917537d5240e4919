import { useMemo, useState } from 'react';
import { errorText, formatDate } from '../api';
import { ConfirmButton } from '../components/ConfirmButton';
import { Empty, Loading, PageError, useNotify } from '../components/Feedback';
import { Status } from '../components/Status';
import { loadInstances } from '../fleet-data';
import { ACTION_LABELS, imageOf, ipv4Of, runAction, type InstanceAction } from '../instance-actions';
import { useLive } from '../live';
import { Link, navigate, useRoute } from '../router';
import type { Instance } from '../types';

export function InstancesPage() {
  const { query } = useRoute();
  const list = useLive(loadInstances, []);
  const notify = useNotify();
  const [search, setSearch] = useState('');
  const [state, setState] = useState('all');
  const host = query.get('host') ?? 'all';
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState<Map<string, InstanceAction>>(new Map());
  const [error, setError] = useState<string>();

  const hosts = useMemo(() => [...new Set((list.data ?? []).map((i) => i.location))].sort(), [list.data]);
  const shown = useMemo(() => {
    const q = search.trim().toLowerCase();
    return (list.data ?? [])
      .filter((i) => state === 'all' || i.status.toLowerCase() === state)
      .filter((i) => host === 'all' || i.location === host)
      .filter(
        (i) =>
          q === '' ||
          [i.name, i.location, imageOf(i), ...ipv4Of(i)].some((field) => field.toLowerCase().includes(q)),
      )
      .sort((a, b) => a.name.localeCompare(b.name));
  }, [list.data, search, state, host]);
  const chosen = shown.filter((i) => selected.has(i.name));

  const act = (targets: Instance[], action: InstanceAction) => {
    setError(undefined);
    setBusy((b) => {
      const next = new Map(b);
      for (const t of targets) next.set(t.name, action);
      return next;
    });
    void Promise.all(
      targets.map(async (t) => {
        try {
          await runAction(t, action);
          return undefined;
        } catch (err) {
          return `${t.name}: ${errorText(err)}`;
        } finally {
          setBusy((b) => {
            const next = new Map(b);
            next.delete(t.name);
            return next;
          });
        }
      }),
    ).then((results) => {
      const failures = results.filter((r) => r !== undefined);
      const ok = targets.length - failures.length;
      if (ok > 0)
        notify(
          `${ACTION_LABELS[action].done} ${ok === 1 && targets[0] ? targets[0].name : `${ok} instances`}`,
        );
      if (failures.length > 0) setError(failures.join('\n'));
      if (action === 'delete') setSelected(new Set());
      list.reload();
    });
  };

  const toggle = (name: string) => {
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(name)) next.delete(name);
      else next.add(name);
      return next;
    });
  };
  const allChosen = shown.length > 0 && chosen.length === shown.length;

  return (
    <>
      <header className="page-header">
        <div>
          <h1>Instances</h1>
          <p className="subtitle">Every container on every host. The host column is where it runs.</p>
        </div>
        <button
          type="button"
          className="primary"
          onClick={() => {
            navigate('/launch');
          }}
        >
          Launch instance
        </button>
      </header>

      <div className="toolbar" role="search">
        <input
          type="search"
          placeholder="Search name, host, image, IP"
          aria-label="Search instances"
          value={search}
          onChange={(e) => {
            setSearch(e.target.value);
          }}
        />
        <select
          aria-label="Filter by state"
          value={state}
          onChange={(e) => {
            setState(e.target.value);
          }}
        >
          <option value="all">All states</option>
          <option value="running">Running</option>
          <option value="stopped">Stopped</option>
          <option value="frozen">Frozen</option>
        </select>
        <select
          aria-label="Filter by host"
          value={host}
          onChange={(e) => {
            navigate(
              e.target.value === 'all'
                ? '/instances'
                : `/instances?host=${encodeURIComponent(e.target.value)}`,
              {
                replace: true,
              },
            );
          }}
        >
          <option value="all">All hosts</option>
          {hosts.map((h) => (
            <option key={h} value={h}>
              {h}
            </option>
          ))}
        </select>
      </div>

      {chosen.length > 0 && (
        <div className="bulk" role="region" aria-label="Bulk actions">
          <span>
            <strong>{chosen.length}</strong> selected
          </span>
          <button
            type="button"
            onClick={() => {
              act(chosen, 'start');
            }}
          >
            Start
          </button>
          <button
            type="button"
            onClick={() => {
              act(chosen, 'stop');
            }}
          >
            Stop
          </button>
          <button
            type="button"
            onClick={() => {
              act(chosen, 'restart');
            }}
          >
            Restart
          </button>
          <ConfirmButton
            label="Delete"
            confirmLabel={`Delete ${chosen.length}`}
            onConfirm={() => {
              act(chosen, 'delete');
            }}
          />
          <button
            type="button"
            className="link-button"
            onClick={() => {
              setSelected(new Set());
            }}
          >
            Clear selection
          </button>
        </div>
      )}

      <PageError
        action={error}
        load={list.error}
        onDismiss={() => {
          setError(undefined);
        }}
      />
      {list.data === undefined && list.error === undefined && <Loading what="instances" />}
      {list.data !== undefined && shown.length === 0 && (
        <Empty>
          {list.data.length === 0 ? (
            <>
              No instances yet. <Link to="/launch">Launch one</Link>.
            </>
          ) : (
            'No instance matches the filters.'
          )}
        </Empty>
      )}
      {shown.length > 0 && (
        <table className="table responsive" aria-label="Instances">
          <thead>
            <tr>
              <th className="col-check">
                <input
                  type="checkbox"
                  aria-label="Select all shown instances"
                  checked={allChosen}
                  onChange={() => {
                    setSelected(allChosen ? new Set() : new Set(shown.map((i) => i.name)));
                  }}
                />
              </th>
              <th>Name</th>
              <th>State</th>
              <th>Host</th>
              <th>Image</th>
              <th>IPv4</th>
              <th>Created</th>
              <th className="col-actions">Actions</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((i) => {
              const doing = busy.get(i.name);
              return (
                <tr key={i.name} data-instance={i.name}>
                  <td className="col-check" data-label="Select">
                    <input
                      type="checkbox"
                      aria-label={`Select ${i.name}`}
                      checked={selected.has(i.name)}
                      onChange={() => {
                        toggle(i.name);
                      }}
                    />
                  </td>
                  <td data-label="Name">
                    <Link to={`/instances/${encodeURIComponent(i.name)}`} className="strong">
                      {i.name}
                    </Link>
                  </td>
                  <td data-label="State">
                    <Status value={doing !== undefined ? `${ACTION_LABELS[doing].doing}…` : i.status} />
                  </td>
                  <td data-label="Host" className="cell-host">
                    {i.location}
                  </td>
                  <td data-label="Image">{imageOf(i)}</td>
                  <td data-label="IPv4" className="mono">
                    {ipv4Of(i).join(', ') || '—'}
                  </td>
                  <td data-label="Created">{formatDate(i.created_at)}</td>
                  <td className="col-actions">
                    <RowActions
                      instance={i}
                      disabled={doing !== undefined}
                      onAct={(a) => {
                        act([i], a);
                      }}
                    />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}

export function RowActions({
  instance,
  disabled,
  onAct,
}: {
  instance: Instance;
  disabled: boolean;
  onAct: (a: InstanceAction) => void;
}) {
  const running = instance.status === 'Running';
  return (
    <div className="row-actions">
      {running ? (
        <button
          type="button"
          disabled={disabled}
          onClick={() => {
            onAct('stop');
          }}
          aria-label={`Stop ${instance.name}`}
        >
          Stop
        </button>
      ) : (
        <button
          type="button"
          disabled={disabled}
          onClick={() => {
            onAct('start');
          }}
          aria-label={`Start ${instance.name}`}
        >
          Start
        </button>
      )}
      <button
        type="button"
        disabled={disabled || !running}
        onClick={() => {
          onAct('restart');
        }}
        aria-label={`Restart ${instance.name}`}
      >
        Restart
      </button>
      <ConfirmButton
        label="Delete"
        confirmLabel={running ? 'Stop and delete' : `Delete ${instance.name}`}
        disabled={disabled}
        onConfirm={() => {
          onAct('delete');
        }}
      />
    </div>
  );
}
