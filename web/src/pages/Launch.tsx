import { useEffect, useMemo, useState, type SubmitEvent } from 'react';
import { describeRejection, place, type Candidate } from '../../../src/planner/planner.js';
import { api, errorText, instancePath, waitOperation } from '../api';
import { ErrorBox, useNotify } from '../components/Feedback';
import { Bar } from '../components/Bar';
import { useOperation } from '../events';
import { countByHost, loadHosts } from '../fleet-data';
import { useLive } from '../live';
import { navigate } from '../router';
import type { FleetImage, Instance, LxdProfile, Strategy } from '../types';
import { progressOf } from '../progress';

const NAME = /^[a-zA-Z][a-zA-Z0-9-]{0,62}$/;

interface LaunchData {
  images: FleetImage[];
  profiles: LxdProfile[];
  strategy: Strategy;
  candidates: Candidate[];
  /** What could not be read; the form still works with the rest. */
  problems: string[];
}

async function loadLaunchData(): Promise<LaunchData> {
  const problems: string[] = [];
  const soft = <T,>(what: string, p: Promise<T>, fallback: T): Promise<T> =>
    p.catch((err: unknown) => {
      problems.push(`Could not read ${what}: ${errorText(err)}`);
      return fallback;
    });
  const [images, profiles, strategy, hosts, instances] = await Promise.all([
    api.get<FleetImage[]>('/1.0/images?recursion=1'),
    soft('the profiles', api.get<LxdProfile[]>('/1.0/profiles?recursion=1'), [
      { name: 'default' } as LxdProfile,
    ]),
    soft('the planner strategy', api.get<Strategy>('/1.0/planner'), 'random'),
    loadHosts(),
    api.get<Instance[]>('/1.0/instances?recursion=1'),
  ]);
  const counts = countByHost(instances);
  const candidates = hosts.map((h) => ({
    name: h.name,
    status: h.status,
    architectures: h.architectures,
    cpus: h.cpus,
    memory: h.memory,
    instances: counts.get(h.name)?.total ?? 0,
  }));
  return { images, profiles, strategy, candidates, problems };
}

export function imageLabel(img: FleetImage): string {
  const alias = img.aliases?.[0]?.name;
  const desc = img.properties?.description ?? '';
  return [alias, desc || img.fingerprint.slice(0, 12)].filter((x) => x !== undefined && x !== '').join(' — ');
}

export function LaunchPage() {
  const data = useLive(loadLaunchData, []);
  const notify = useNotify();
  const [image, setImage] = useState('');
  const [name, setName] = useState('');
  const [profiles, setProfiles] = useState<string[]>(['default']);
  const [placement, setPlacement] = useState('planner');
  const [start, setStart] = useState(true);
  const [error, setError] = useState<string>();
  const [phase, setPhase] = useState<string>();
  const [opId, setOpId] = useState<string>();
  const op = useOperation(opId);

  useEffect(() => {
    const first = data.data?.images[0];
    if (image === '' && first !== undefined) setImage(first.fingerprint);
  }, [data.data, image]);

  const chosenImage = data.data?.images.find((i) => i.fingerprint === image);
  const preview = useMemo(() => {
    if (data.data === undefined) return undefined;
    const target = placement === 'planner' ? undefined : placement;
    const req = { strategy: data.data.strategy, target, architecture: chosenImage?.architecture };
    const eligible = data.data.candidates.filter(
      (c) => place([c], { ...req, target: c.name }).kind === 'placed',
    );
    const result = place(data.data.candidates, req, { random: () => 0 });
    return { result, eligible, target, strategy: data.data.strategy };
  }, [data.data, placement, chosenImage]);

  const nameError =
    name !== '' && !NAME.test(name) ? 'Use letters, digits and dashes, starting with a letter' : undefined;

  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    if (!NAME.test(name)) {
      setError('Give the instance a name: letters, digits and dashes, starting with a letter.');
      return;
    }
    setError(undefined);
    setPhase('Creating');
    const target = placement === 'planner' ? '' : `?target=${encodeURIComponent(placement)}`;
    const body = {
      name,
      type: 'container',
      profiles,
      source: { type: 'image', fingerprint: image },
    };
    void (async () => {
      try {
        const created = await api.start('POST', `/1.0/instances${target}`, body);
        if (created !== undefined) {
          setOpId(created.id);
          await waitOperation(created);
        }
        if (start) {
          setPhase('Starting');
          await api.run('PUT', `${instancePath(name)}/state`, { action: 'start', timeout: 30 });
        }
        const made = await api.get<Instance>(instancePath(name));
        notify(`Launched ${name} on ${made.location}`);
        navigate(`/instances/${encodeURIComponent(name)}`);
      } catch (err) {
        setError(errorText(err));
        setPhase(undefined);
      }
    })();
  };

  const busy = phase !== undefined;
  const progress = op !== undefined ? progressOf(op) : undefined;

  return (
    <>
      <header className="page-header">
        <div>
          <h1>Launch an instance</h1>
          <p className="subtitle">Pick an image; the planner chooses a host, or you choose one.</p>
        </div>
      </header>
      <ErrorBox error={data.error ?? (data.data?.problems.join('\n') || undefined)} />
      <div className="split">
        <form className="panel form-grid" onSubmit={submit} aria-label="Launch an instance">
          <label>
            Image
            <select
              value={image}
              onChange={(e) => {
                setImage(e.target.value);
              }}
              required
              disabled={busy}
            >
              {data.data?.images.length === 0 && <option value="">No images: import one first</option>}
              {data.data?.images.map((img) => (
                <option key={img.fingerprint} value={img.fingerprint}>
                  {imageLabel(img)}
                </option>
              ))}
            </select>
          </label>
          <label>
            Name
            <input
              value={name}
              onChange={(e) => {
                setName(e.target.value);
              }}
              placeholder="web-1"
              aria-invalid={nameError !== undefined}
              aria-describedby="name-help"
              disabled={busy}
              required
            />
            <span id="name-help" className={nameError ? 'field-error' : 'help'}>
              {nameError ?? 'Unique across the whole fleet.'}
            </span>
          </label>
          <fieldset disabled={busy}>
            <legend>Profiles</legend>
            <div className="checks">
              {data.data?.profiles.map((p) => (
                <label key={p.name} className="check">
                  <input
                    type="checkbox"
                    checked={profiles.includes(p.name)}
                    onChange={(e) => {
                      setProfiles((ps) =>
                        e.target.checked ? [...ps, p.name] : ps.filter((x) => x !== p.name),
                      );
                    }}
                  />
                  {p.name}
                </label>
              ))}
            </div>
          </fieldset>
          <label>
            Placement
            <select
              value={placement}
              onChange={(e) => {
                setPlacement(e.target.value);
              }}
              disabled={busy}
            >
              <option value="planner">Planner decides ({data.data?.strategy ?? '…'})</option>
              {data.data?.candidates.map((c) => (
                <option key={c.name} value={c.name} disabled={c.status !== 'Online'}>
                  Host {c.name}
                  {c.status !== 'Online' ? ` (${c.status.toLowerCase()})` : ''}
                </option>
              ))}
            </select>
          </label>
          <label className="check">
            <input
              type="checkbox"
              checked={start}
              onChange={(e) => {
                setStart(e.target.checked);
              }}
              disabled={busy}
            />
            Start it after creating
          </label>
          <ErrorBox error={error} />
          {busy && (
            <div aria-live="polite">
              <Bar
                label={`${phase}…`}
                value={progress?.percent ?? (phase === 'Starting' ? 1 : undefined)}
                max={phase === 'Starting' ? 1 : 100}
                tone="progress"
                detail={progress?.text ?? (phase === 'Starting' ? 'starting' : 'working')}
              />
            </div>
          )}
          <div className="form-actions">
            <button type="submit" className="primary" disabled={busy || image === ''}>
              {busy ? `${phase}…` : 'Launch'}
            </button>
            <button
              type="button"
              onClick={() => {
                navigate('/instances');
              }}
              disabled={busy}
            >
              Cancel
            </button>
          </div>
        </form>

        <aside className="panel preview" aria-label="Placement preview" aria-live="polite">
          <h2 className="panel-title">Where it would land</h2>
          {preview === undefined ? (
            <p className="muted">Reading the fleet…</p>
          ) : preview.result.kind === 'rejected' ? (
            <div className="preview-bad">
              <p>
                <strong>No host can take it:</strong>
              </p>
              <ul>
                {preview.result.reasons.map((r, i) => (
                  <li key={i}>{describeRejection(r)}</li>
                ))}
              </ul>
            </div>
          ) : preview.target !== undefined ? (
            <p className="landing">
              On <strong data-testid="preview-host">{preview.result.host}</strong>, as you chose.
            </p>
          ) : preview.strategy === 'random' ? (
            <p className="landing">
              On a random host among{' '}
              <strong data-testid="preview-host">{preview.eligible.map((c) => c.name).join(', ')}</strong>{' '}
              (strategy <em>random</em>).
            </p>
          ) : (
            <p className="landing">
              On <strong data-testid="preview-host">{preview.result.host}</strong>, the{' '}
              {preview.strategy === 'scatter' ? 'host with the most room per instance' : 'densest host'}{' '}
              (strategy <em>{preview.strategy}</em>).
            </p>
          )}
          {data.data !== undefined && (
            <ul className="mini-hosts">
              {data.data.candidates.map((c) => (
                <li
                  key={c.name}
                  className={
                    preview?.result.kind === 'placed' &&
                    preview.result.host === c.name &&
                    preview.strategy !== 'random'
                      ? 'chosen'
                      : ''
                  }
                >
                  <span>{c.name}</span>
                  <span className="muted">
                    {c.instances} instance{c.instances === 1 ? '' : 's'} · {c.status}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </aside>
      </div>
    </>
  );
}
