import { useEffect, useState, type SubmitEvent } from 'react';
import { api, errorText } from '../api';
import { ConfirmButton } from '../components/ConfirmButton';
import { Empty, ErrorBox, Loading, PageError, useNotify } from '../components/Feedback';
import { useLive } from '../live';
import { navigate, useRoute } from '../router';
import { editable, parseProfile } from '../profile-yaml';
import type { LxdProfile } from '../types';

const loadProfiles = () => api.get<LxdProfile[]>('/1.0/profiles?recursion=1');

export function ProfilesPage() {
  const { query } = useRoute();
  const list = useLive(loadProfiles, []);
  const notify = useNotify();
  const selected = query.get('name') ?? list.data?.[0]?.name;
  const [newName, setNewName] = useState('');
  const [error, setError] = useState<string>();

  const create = (e: SubmitEvent) => {
    e.preventDefault();
    const name = newName.trim();
    if (name === '') return;
    setError(undefined);
    api.run('POST', '/1.0/profiles', { name, description: '', config: {}, devices: {} }).then(
      () => {
        notify(`Profile ${name} created on every host`);
        setNewName('');
        list.reload();
        navigate(`/profiles?name=${encodeURIComponent(name)}`);
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
          <h1>Profiles</h1>
          <p className="subtitle">
            Profiles are the same on every host; a change applies fleet-wide or not at all.
          </p>
        </div>
      </header>
      <PageError
        action={error}
        load={list.error}
        onDismiss={() => {
          setError(undefined);
        }}
      />
      <div className="master-detail">
        <nav className="panel list-panel" aria-label="Profiles">
          {list.data === undefined && <Loading what="profiles" />}
          <ul className="select-list">
            {list.data?.map((p) => (
              <li key={p.name}>
                <a
                  href={`/ui/profiles?name=${encodeURIComponent(p.name)}`}
                  aria-current={p.name === selected ? 'page' : undefined}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate(`/profiles?name=${encodeURIComponent(p.name)}`, { replace: true });
                  }}
                >
                  <span className="strong">{p.name}</span>
                  <span className="muted small">
                    {(p.used_by ?? []).length} user{(p.used_by ?? []).length === 1 ? '' : 's'}
                  </span>
                </a>
              </li>
            ))}
          </ul>
          <form className="inline-form" onSubmit={create} aria-label="Create a profile">
            <label>
              <span className="sr-only">New profile name</span>
              <input
                value={newName}
                onChange={(e) => {
                  setNewName(e.target.value);
                }}
                placeholder="new profile"
              />
            </label>
            <button type="submit">Create</button>
          </form>
        </nav>
        {selected === undefined ? (
          <Empty>Select a profile.</Empty>
        ) : (
          <ProfileEditor key={selected} name={selected} onChanged={list.reload} />
        )}
      </div>
    </>
  );
}

function ProfileEditor({ name, onChanged }: { name: string; onChanged: () => void }) {
  const notify = useNotify();
  const profile = useLive(
    () => api.getWithEtag<LxdProfile>(`/1.0/profiles/${encodeURIComponent(name)}`),
    [name],
    {
      refreshOn: () => false,
    },
  );
  const [text, setText] = useState<string>();
  const [error, setError] = useState<string>();
  const [saving, setSaving] = useState(false);
  const original = profile.data !== undefined ? editable(profile.data.value) : undefined;

  useEffect(() => {
    if (original !== undefined && text === undefined) setText(original);
  }, [original, text]);

  const parsed = text === undefined ? undefined : parseProfile(text);
  const localError = parsed !== undefined && 'error' in parsed ? parsed.error : undefined;

  const save = (e: SubmitEvent) => {
    e.preventDefault();
    if (parsed === undefined || 'error' in parsed) return;
    setSaving(true);
    setError(undefined);
    const etag = profile.data?.etag;
    api
      .run(
        'PUT',
        `/1.0/profiles/${encodeURIComponent(name)}`,
        parsed.body,
        etag !== undefined ? { 'If-Match': etag } : undefined,
      )
      .then(() => {
        notify(`Profile ${name} saved on every host`);
        setText(undefined);
        profile.reload();
        onChanged();
      })
      .catch((err: unknown) => {
        setError(errorText(err));
      })
      .finally(() => {
        setSaving(false);
      });
  };
  const remove = () => {
    api.run('DELETE', `/1.0/profiles/${encodeURIComponent(name)}`).then(
      () => {
        notify(`Profile ${name} deleted`);
        onChanged();
        navigate('/profiles', { replace: true });
      },
      (err: unknown) => {
        setError(errorText(err));
      },
    );
  };

  const usedBy = profile.data?.value.used_by ?? [];
  return (
    <form className="panel editor" onSubmit={save} aria-label={`Edit profile ${name}`}>
      <div className="panel-head">
        <h2 className="panel-title">{name}</h2>
        {name !== 'default' && (
          <ConfirmButton label="Delete" confirmLabel={`Delete ${name}`} onConfirm={remove} />
        )}
      </div>
      <p className="muted small">
        Used by{' '}
        {usedBy.length === 0
          ? 'no instance'
          : usedBy.map((u) => decodeURIComponent(u.split('/').pop() ?? u)).join(', ')}
      </p>
      <ErrorBox error={profile.error} />
      {text !== undefined && (
        <>
          <label className="editor-label">
            <span>Profile as YAML</span>
            <textarea
              className="code"
              spellCheck={false}
              value={text}
              rows={Math.max(12, text.split('\n').length + 2)}
              onChange={(e) => {
                setText(e.target.value);
                setError(undefined);
              }}
              aria-invalid={localError !== undefined || error !== undefined}
              aria-describedby="profile-error"
            />
          </label>
          <div id="profile-error">
            <ErrorBox error={localError ?? error} />
          </div>
          <div className="form-actions">
            <button
              type="submit"
              className="primary"
              disabled={saving || localError !== undefined || text === original}
            >
              {saving ? 'Saving…' : 'Save'}
            </button>
            <button
              type="button"
              disabled={saving || text === original}
              onClick={() => {
                setText(original);
                setError(undefined);
              }}
            >
              Revert
            </button>
          </div>
        </>
      )}
    </form>
  );
}
