import { useState } from 'react';
import { api, compareTimes, errorText, formatDate, isFinal } from '../api';
import { Bar } from '../components/Bar';
import { Empty, ErrorBox } from '../components/Feedback';
import { Status } from '../components/Status';
import { useOperations } from '../events';
import { progressOf } from '../progress';
import type { LxdOperation } from '../types';

function resourcesOf(op: LxdOperation): string {
  const names = new Set<string>();
  for (const list of Object.values(op.resources ?? {}))
    for (const r of list) names.add(r.split('/').pop() ?? r);
  return [...names].map(decodeURIComponent).join(', ');
}

export function OperationsPage() {
  const ops = [...useOperations().values()].sort((a, b) => compareTimes(b.created_at, a.created_at));
  const running = ops.filter((o) => !isFinal(o));
  const done = ops.filter(isFinal).slice(0, 50);
  const [error, setError] = useState<string>();
  const cancel = (op: LxdOperation) => {
    api.run('DELETE', `/1.0/operations/${encodeURIComponent(op.id)}`).catch((err: unknown) => {
      setError(errorText(err));
    });
  };
  return (
    <>
      <header className="page-header">
        <div>
          <h1>Operations</h1>
          <p className="subtitle">Background work on the manager and the hosts, live.</p>
        </div>
      </header>
      <ErrorBox
        error={error}
        onDismiss={() => {
          setError(undefined);
        }}
      />
      <section aria-labelledby="running-ops">
        <h2 id="running-ops" className="section-title">
          Running <span className="count">{running.length}</span>
        </h2>
        {running.length === 0 && <Empty>Nothing is running right now.</Empty>}
        <div className="op-list">
          {running.map((op) => {
            const progress = progressOf(op);
            return (
              <article key={op.id} className="card op-card" data-operation={op.id}>
                <div className="card-head">
                  <h3>{op.description}</h3>
                  <Status value={op.status} />
                </div>
                <p className="muted small">
                  {resourcesOf(op) || op.class} · {op.location || 'manager'} · since{' '}
                  {formatDate(op.created_at)}
                </p>
                <Bar
                  label="Progress"
                  value={progress?.percent}
                  max={100}
                  tone="progress"
                  detail={progress?.text ?? 'no progress reported'}
                />
                {op.may_cancel && (
                  <div className="card-foot">
                    <span />
                    <button
                      type="button"
                      onClick={() => {
                        cancel(op);
                      }}
                    >
                      Cancel
                    </button>
                  </div>
                )}
              </article>
            );
          })}
        </div>
      </section>
      <section aria-labelledby="done-ops">
        <h2 id="done-ops" className="section-title">
          Recent
        </h2>
        {done.length === 0 ? (
          <Empty>No finished operations since this page was opened.</Empty>
        ) : (
          <table className="table responsive" aria-label="Recent operations">
            <thead>
              <tr>
                <th>Operation</th>
                <th>Status</th>
                <th>Resources</th>
                <th>Where</th>
                <th>Finished</th>
              </tr>
            </thead>
            <tbody>
              {done.map((op) => (
                <tr key={op.id}>
                  <td data-label="Operation">
                    {op.description}
                    {op.err !== '' && <div className="field-error">{op.err}</div>}
                  </td>
                  <td data-label="Status">
                    <Status value={op.status} />
                  </td>
                  <td data-label="Resources">{resourcesOf(op) || '—'}</td>
                  <td data-label="Where">{op.location || 'manager'}</td>
                  <td data-label="Finished">{formatDate(op.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
