import { useState } from 'react';
import { freeMemory, score } from '../../../src/planner/planner.js';
import { api, errorText, formatBytes } from '../api';
import { Loading, PageError, useNotify } from '../components/Feedback';
import { countByHost, loadHosts } from '../fleet-data';
import { useLive } from '../live';
import type { Instance, Strategy } from '../types';

const STRATEGIES: { id: Strategy; title: string; text: string }[] = [
  { id: 'random', title: 'Random', text: 'Any online host that fits, chosen at random. The default.' },
  {
    id: 'scatter',
    title: 'Scatter',
    text: 'The host with the most free memory and CPUs per instance: spreads load across the fleet.',
  },
  {
    id: 'gather',
    title: 'Gather',
    text: 'The densest host that still fits: packs instances, leaves hosts free.',
  },
];

async function loadPlanner() {
  const [strategy, hosts, instances] = await Promise.all([
    api.get<Strategy>('/1.0/planner'),
    loadHosts(),
    api.get<Instance[]>('/1.0/instances?recursion=1'),
  ]);
  return { strategy, hosts, counts: countByHost(instances) };
}

export function PlannerPage() {
  const live = useLive(loadPlanner, [], { pollMs: 10_000 });
  const notify = useNotify();
  const [error, setError] = useState<string>();
  const [saving, setSaving] = useState<Strategy>();

  const choose = (s: Strategy) => {
    if (s === live.data?.strategy) return;
    setSaving(s);
    setError(undefined);
    api
      .run('PUT', '/1.0/planner', { state: s })
      .then(() => {
        notify(`Planner strategy is now ${s}`);
        live.reload();
      })
      .catch((err: unknown) => {
        setError(errorText(err));
      })
      .finally(() => {
        setSaving(undefined);
      });
  };

  const data = live.data;
  const max = Math.max(1, ...(data?.hosts.map((h) => data.counts.get(h.name)?.total ?? 0) ?? [0]));
  const scores = data?.hosts.map((h) => {
    const n = data.counts.get(h.name)?.total ?? 0;
    return {
      host: h,
      n,
      s: h.status === 'Online' ? score(freeMemory({ ...h, instances: n }), n, h.cpus) : undefined,
    };
  });
  const online = scores?.filter((x) => x.s !== undefined) ?? [];
  const best =
    data?.strategy === 'scatter'
      ? online.reduce<(typeof online)[number] | undefined>(
          (a, b) => (a === undefined || (b.s ?? 0) > (a.s ?? 0) ? b : a),
          undefined,
        )
      : data?.strategy === 'gather'
        ? online.reduce<(typeof online)[number] | undefined>(
            (a, b) => (a === undefined || (b.s ?? 0) < (a.s ?? 0) ? b : a),
            undefined,
          )
        : undefined;

  return (
    <>
      <header className="page-header">
        <div>
          <h1>Planner</h1>
          <p className="subtitle">How the manager chooses a host for each new instance.</p>
        </div>
      </header>
      <PageError
        action={error}
        load={live.error}
        onDismiss={() => {
          setError(undefined);
        }}
      />
      {data === undefined && live.error === undefined && <Loading what="the planner" />}
      {data !== undefined && (
        <>
          <fieldset className="strategy-group">
            <legend>Strategy</legend>
            <div className="strategies" role="radiogroup" aria-label="Planner strategy">
              {STRATEGIES.map((s) => (
                <label key={s.id} className={`strategy ${data.strategy === s.id ? 'selected' : ''}`}>
                  <input
                    type="radio"
                    name="strategy"
                    value={s.id}
                    checked={data.strategy === s.id}
                    disabled={saving !== undefined}
                    onChange={() => {
                      choose(s.id);
                    }}
                  />
                  <span className="strategy-title">
                    {s.title}
                    {data.strategy === s.id && <span className="badge">in use</span>}
                    {saving === s.id && <span className="muted small"> saving…</span>}
                  </span>
                  <span className="muted small">{s.text}</span>
                </label>
              ))}
            </div>
          </fieldset>

          <section className="panel" aria-labelledby="per-host">
            <h2 id="per-host" className="panel-title">
              Instances per host
            </h2>
            <div className="chart" role="list">
              {scores?.map(({ host, n, s }) => (
                <div
                  key={host.name}
                  className="chart-row"
                  role="listitem"
                  aria-label={`${host.name}: ${n} instances`}
                >
                  <span className="chart-label">{host.name}</span>
                  <span className="chart-track">
                    <span className="chart-fill" style={{ width: `${(n / max) * 100}%` }} />
                  </span>
                  <span className="chart-value">{n}</span>
                  <span className="chart-note muted small">
                    {s === undefined
                      ? host.status.toLowerCase()
                      : `score ${(s / 2 ** 30).toFixed(1)} · ${formatBytes(host.memory.total - host.memory.used)} free · ${host.cpus} CPUs`}
                    {best?.host.name === host.name && <span className="badge">next</span>}
                  </span>
                </div>
              ))}
            </div>
            <p className="muted small">
              Score f(x,y,z) = x/y + (z/y)·(x/y): x free memory, y instances (at least 1), z CPUs. Scatter
              picks the highest, gather the lowest.
            </p>
          </section>
        </>
      )}
    </>
  );
}
