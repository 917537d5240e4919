import { useState, type SubmitEvent } from 'react';
import { api, errorText, formatBytes } from '../api';
import { Bar } from '../components/Bar';
import { ConfirmButton } from '../components/ConfirmButton';
import { Empty, ErrorBox, Loading, useNotify } from '../components/Feedback';
import { Status } from '../components/Status';
import { countByHost, loadHosts, loadInstances, useCpuUse } from '../fleet-data';
import { useLive } from '../live';
import { Link } from '../router';
import type { Host } from '../types';

interface Disk {
  used: number;
  total: number;
}

async function loadDisks(hosts: Host[]): Promise<Map<string, Disk>> {
  const entries = await Promise.all(
    hosts
      .filter((h) => h.status === 'Online')
      .map(async (h) => {
        try {
          const r = await api.get<{ space: Disk }>(
            `/1.0/storage-pools/default/resources?target=${encodeURIComponent(h.name)}`,
          );
          return [h.name, r.space] as const;
        } catch {
          return undefined;
        }
      }),
  );
  return new Map(entries.filter((e) => e !== undefined));
}

export function FleetPage() {
  const hosts = useLive(loadHosts, [], { pollMs: 5000 });
  const instances = useLive(loadInstances, [], { pollMs: 5000 });
  const disks = useLive(async () => loadDisks(await loadHosts()), [], { pollMs: 30_000 });
  const cpu = useCpuUse(instances.data, hosts.data);
  const counts = countByHost(instances.data);
  const [adding, setAdding] = useState(false);

  const online = hosts.data?.filter((h) => h.status === 'Online').length ?? 0;
  const running = instances.data?.filter((i) => i.status === 'Running').length ?? 0;
  const memTotal = hosts.data?.reduce((n, h) => n + h.memory.total, 0) ?? 0;
  const memUsed = hosts.data?.reduce((n, h) => n + h.memory.used, 0) ?? 0;

  return (
    <>
      <header className="page-header">
        <div>
          <h1>Fleet</h1>
          <p className="subtitle">The LXD hosts behind this manager, their health and capacity.</p>
        </div>
        <button
          type="button"
          className="primary"
          onClick={() => {
            setAdding((a) => !a);
          }}
          aria-expanded={adding}
        >
          {adding ? 'Close' : 'Add host'}
        </button>
      </header>

      {adding && (
        <AddHostForm
          onDone={() => {
            setAdding(false);
            hosts.reload();
          }}
        />
      )}

      <section className="summary" aria-label="Fleet summary">
        <div className="stat">
          <span className="stat-value">
            {online}/{hosts.data?.length ?? 0}
          </span>
          <span className="stat-label">hosts online</span>
        </div>
        <div className="stat">
          <span className="stat-value">
            {running}/{instances.data?.length ?? 0}
          </span>
          <span className="stat-label">instances running</span>
        </div>
        <div className="stat">
          <span className="stat-value">{hosts.data?.reduce((n, h) => n + h.cpus, 0) ?? 0}</span>
          <span className="stat-label">CPUs</span>
        </div>
        <div className="stat">
          <span className="stat-value">{formatBytes(memTotal - memUsed)}</span>
          <span className="stat-label">memory free of {formatBytes(memTotal)}</span>
        </div>
      </section>

      <ErrorBox error={hosts.error} />
      {hosts.data === undefined && hosts.error === undefined && <Loading what="hosts" />}
      {hosts.data?.length === 0 && (
        <Empty>No hosts yet. Add an LXD host to start: the manager pairs with it over LXD's own trust.</Empty>
      )}
      <div className="cards">
        {hosts.data?.map((h) => (
          <HostCard
            key={h.name}
            host={h}
            cpu={cpu.get(h.name)}
            disk={disks.data?.get(h.name)}
            count={counts.get(h.name)}
            onRemoved={hosts.reload}
          />
        ))}
      </div>
    </>
  );
}

function HostCard({
  host,
  cpu,
  disk,
  count,
  onRemoved,
}: {
  host: Host;
  cpu: number | undefined;
  disk: Disk | undefined;
  count: { total: number; running: number } | undefined;
  onRemoved: () => void;
}) {
  const notify = useNotify();
  const [error, setError] = useState<string>();
  const online = host.status === 'Online';
  const remove = () => {
    api.run('DELETE', `/1.0/hosts/${encodeURIComponent(host.name)}`).then(
      () => {
        notify(`Host ${host.name} removed; its instances stay on it`);
        onRemoved();
      },
      (err: unknown) => {
        setError(errorText(err));
      },
    );
  };
  return (
    <article className="card host-card" aria-labelledby={`host-${host.name}`}>
      <div className="card-head">
        <h2 id={`host-${host.name}`}>{host.name}</h2>
        <Status value={host.status} />
      </div>
      <dl className="facts">
        <div>
          <dt>LXD</dt>
          <dd>{host.server_version || '—'}</dd>
        </div>
        <div>
          <dt>Arch</dt>
          <dd>{host.architecture || '—'}</dd>
        </div>
        <div>
          <dt>CPUs</dt>
          <dd>{host.cpus || '—'}</dd>
        </div>
        <div>
          <dt>Instances</dt>
          <dd>
            <Link
              to={`/instances?host=${encodeURIComponent(host.name)}`}
              aria-label={`${count?.total ?? 0} instances on ${host.name}, ${count?.running ?? 0} running`}
            >
              {count?.total ?? 0}
            </Link>
            <span className="muted small"> · {count?.running ?? 0} up</span>
          </dd>
        </div>
      </dl>
      {!online && <p className="host-message">{host.message}</p>}
      <Bar
        label="CPU (instances)"
        value={online ? cpu : undefined}
        detail={
          cpu === undefined ? (online ? 'measuring…' : '—') : `${Math.round(cpu * 100)}% of ${host.cpus}`
        }
      />
      <Bar
        label="Memory"
        value={online ? host.memory.used : undefined}
        max={host.memory.total}
        detail={online ? `${formatBytes(host.memory.used)} of ${formatBytes(host.memory.total)}` : '—'}
      />
      <Bar
        label="Disk (default pool)"
        value={online ? disk?.used : undefined}
        max={disk?.total ?? 0}
        detail={disk === undefined ? '—' : `${formatBytes(disk.used)} of ${formatBytes(disk.total)}`}
      />
      <div className="card-foot">
        <span className="muted small" title={host.fingerprint}>
          {host.url}
        </span>
        <ConfirmButton label="Remove" confirmLabel={`Remove ${host.name}`} onConfirm={remove} />
      </div>
      <ErrorBox
        error={error}
        onDismiss={() => {
          setError(undefined);
        }}
      />
    </article>
  );
}

function AddHostForm({ onDone }: { onDone: () => void }) {
  const notify = useNotify();
  const [form, setForm] = useState({
    name: '',
    url: '',
    secret: '',
    kind: 'password',
    fingerprint: '',
    accept: false,
  });
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof form) => (v: string | boolean) => {
    setForm((f) => ({ ...f, [k]: v }));
  };
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    api
      .run<Host>('POST', '/1.0/hosts', {
        name: form.name.trim(),
        url: form.url.trim(),
        password: form.kind === 'password' && form.secret !== '' ? form.secret : undefined,
        token: form.kind === 'token' && form.secret !== '' ? form.secret : undefined,
        fingerprint: form.fingerprint.trim() || undefined,
        accept_certificate: form.accept,
      })
      .then(
        () => {
          notify(`Host ${form.name} added`);
          onDone();
        },
        (err: unknown) => {
          setError(errorText(err));
        },
      )
      .finally(() => {
        setBusy(false);
      });
  };
  return (
    <form className="panel form-grid" onSubmit={submit} aria-label="Add a host">
      <h2 className="panel-title">Add a host</h2>
      <label>
        Name
        <input
          required
          value={form.name}
          onChange={(e) => {
            set('name')(e.target.value);
          }}
          placeholder="h4"
        />
      </label>
      <label>
        URL
        <input
          required
          value={form.url}
          onChange={(e) => {
            set('url')(e.target.value);
          }}
          placeholder="https://10.0.0.4:8443 or unix:///var/lib/lxd/unix.socket"
        />
      </label>
      <label>
        Pair with
        <select
          value={form.kind}
          onChange={(e) => {
            set('kind')(e.target.value);
          }}
        >
          <option value="password">Trust password</option>
          <option value="token">Join token</option>
        </select>
      </label>
      <label>
        {form.kind === 'password' ? 'Trust password' : 'Join token'}
        <input
          type={form.kind === 'password' ? 'password' : 'text'}
          value={form.secret}
          onChange={(e) => {
            set('secret')(e.target.value);
          }}
          autoComplete="off"
        />
      </label>
      <label>
        Certificate fingerprint (optional)
        <input
          value={form.fingerprint}
          onChange={(e) => {
            set('fingerprint')(e.target.value);
          }}
          placeholder="sha256…"
        />
      </label>
      <label className="check">
        <input
          type="checkbox"
          checked={form.accept}
          onChange={(e) => {
            set('accept')(e.target.checked);
          }}
        />
        Accept the certificate the host presents
      </label>
      <ErrorBox error={error} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Pairing…' : 'Add host'}
        </button>
      </div>
    </form>
  );
}
