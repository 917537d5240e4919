import { useState, type SubmitEvent } from 'react';
import { api, errorText, formatBytes, formatDate, upload, waitOperation } from '../api';
import { Bar } from '../components/Bar';
import { ConfirmButton } from '../components/ConfirmButton';
import { Empty, ErrorBox, Loading, PageError, useNotify } from '../components/Feedback';
import { useOperation } from '../events';
import { loadHosts } from '../fleet-data';
import { useLive } from '../live';
import type { FleetImage, LxdOperation } from '../types';
import { progressOf } from '../progress';

async function loadImages() {
  const [images, hosts] = await Promise.all([api.get<FleetImage[]>('/1.0/images?recursion=1'), loadHosts()]);
  return { images, hosts: hosts.filter((h) => h.status === 'Online').map((h) => h.name) };
}

export function ImagesPage() {
  const live = useLive(loadImages, []);
  const notify = useNotify();
  const [error, setError] = useState<string>();
  const [importing, setImporting] = useState(false);

  const remove = (img: FleetImage) => {
    setError(undefined);
    api.run('DELETE', `/1.0/images/${img.fingerprint}`).then(
      () => {
        notify(`Image ${img.fingerprint.slice(0, 12)} deleted from every host`);
        live.reload();
      },
      (err: unknown) => {
        setError(errorText(err));
      },
    );
  };

  return (
    <>
      <header className="page-header">
        <div>
          <h1>Images</h1>
          <p className="subtitle">Images are distributed to every host, so any host can launch them.</p>
        </div>
        <button
          type="button"
          className="primary"
          onClick={() => {
            setImporting((v) => !v);
          }}
          aria-expanded={importing}
        >
          {importing ? 'Close' : 'Import image'}
        </button>
      </header>
      {importing && <ImportForm onDone={live.reload} />}
      <PageError
        action={error}
        load={live.error}
        onDismiss={() => {
          setError(undefined);
        }}
      />
      {live.data === undefined && live.error === undefined && <Loading what="images" />}
      {live.data?.images.length === 0 && <Empty>No images. Import a unified image tarball to start.</Empty>}
      {live.data !== undefined && live.data.images.length > 0 && (
        <table className="table responsive" aria-label="Images">
          <thead>
            <tr>
              <th>Image</th>
              <th>Fingerprint</th>
              <th>Architecture</th>
              <th>Size</th>
              <th>Uploaded</th>
              <th>Hosts</th>
              <th className="col-actions">Actions</th>
            </tr>
          </thead>
          <tbody>
            {live.data.images.map((img) => {
              const holders = img.lxdpm_hosts ?? [];
              const missing = live.data?.hosts.filter((h) => !holders.includes(h)) ?? [];
              return (
                <tr key={img.fingerprint} data-image={img.fingerprint}>
                  <td data-label="Image">
                    <div className="strong">
                      {(img.aliases ?? []).map((a) => a.name).join(', ') || img.properties?.os || 'unnamed'}
                    </div>
                    <div className="muted small">{img.properties?.description ?? ''}</div>
                  </td>
                  <td data-label="Fingerprint" className="mono" title={img.fingerprint}>
                    {img.fingerprint.slice(0, 12)}
                  </td>
                  <td data-label="Architecture">{img.architecture}</td>
                  <td data-label="Size">{formatBytes(img.size)}</td>
                  <td data-label="Uploaded">{formatDate(img.uploaded_at)}</td>
                  <td data-label="Hosts">
                    <div className="chips">
                      {holders.map((h) => (
                        <span key={h} className="chip">
                          {h}
                        </span>
                      ))}
                      {missing.map((h) => (
                        <span key={h} className="chip chip-missing" title={`Not on ${h}`}>
                          {h} missing
                        </span>
                      ))}
                    </div>
                  </td>
                  <td className="col-actions">
                    <ConfirmButton
                      label="Delete"
                      confirmLabel="Delete everywhere"
                      onConfirm={() => {
                        remove(img);
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

function ImportForm({ onDone }: { onDone: () => void }) {
  const notify = useNotify();
  const [file, setFile] = useState<File>();
  const [alias, setAlias] = useState('');
  const [isPublic, setPublic] = useState(false);
  const [uploaded, setUploaded] = useState<number>();
  const [opId, setOpId] = useState<string>();
  const [finished, setFinished] = useState<LxdOperation>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const live = useOperation(opId);
  const op = finished ?? live;
  const progress = op !== undefined ? progressOf(op) : undefined;

  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    if (file === undefined) {
      setError('Choose an image file (a unified tarball with metadata.yaml and rootfs/).');
      return;
    }
    setBusy(true);
    setError(undefined);
    setFinished(undefined);
    setOpId(undefined);
    setUploaded(0);
    void (async () => {
      try {
        const r = await upload(
          '/1.0/images',
          file,
          {
            'Content-Type': 'application/octet-stream',
            'X-LXD-filename': file.name,
            'X-LXD-public': isPublic ? 'true' : 'false',
          },
          setUploaded,
        );
        let fingerprint: string | undefined;
        if (r.operation !== undefined) {
          setOpId(r.operation.id);
          const done = await waitOperation(r.operation);
          setFinished(done);
          fingerprint = (done.metadata as { fingerprint?: string } | null)?.fingerprint;
        }
        if (alias.trim() !== '' && fingerprint !== undefined) {
          await api.run('POST', '/1.0/images/aliases', {
            name: alias.trim(),
            target: fingerprint,
            description: '',
          });
        }
        notify(`Image ${fingerprint?.slice(0, 12) ?? file.name} imported on every host`);
        onDone();
      } catch (err) {
        setError(errorText(err));
      } finally {
        setBusy(false);
      }
    })();
  };

  return (
    <form className="panel form-grid" onSubmit={submit} aria-label="Import an image">
      <h2 className="panel-title">Import an image</h2>
      <label>
        Image file
        <input
          type="file"
          accept=".tar,.tar.gz,.tgz,.tar.xz,.tar.bz2,.squashfs,application/gzip,application/x-tar"
          onChange={(e) => {
            setFile(e.target.files?.[0]);
          }}
          disabled={busy}
        />
        <span className="help">A unified LXD image tarball: metadata.yaml and rootfs/.</span>
      </label>
      <label>
        Alias (optional)
        <input
          value={alias}
          onChange={(e) => {
            setAlias(e.target.value);
          }}
          placeholder="alpine-edge"
          disabled={busy}
        />
      </label>
      <label className="check">
        <input
          type="checkbox"
          checked={isPublic}
          onChange={(e) => {
            setPublic(e.target.checked);
          }}
          disabled={busy}
        />
        Public (untrusted clients may use it)
      </label>
      {uploaded !== undefined && (
        <div className="progress-stack" aria-live="polite">
          <Bar label="Upload" value={uploaded} max={1} tone="progress" />
          <Bar
            label="Import on every host"
            value={progress?.percent}
            max={100}
            tone="progress"
            detail={
              op === undefined
                ? 'waiting for the upload'
                : op.status === 'Success'
                  ? '100% · done'
                  : (progress?.text ?? op.status.toLowerCase())
            }
          />
        </div>
      )}
      <ErrorBox error={error} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Importing…' : 'Import'}
        </button>
      </div>
    </form>
  );
}
