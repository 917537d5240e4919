import { useCallback, useEffect, useState } from 'react';
import { api, UNAUTHORIZED_EVENT } from './api';
import { Empty, ToastProvider } from './components/Feedback';
import { EventsProvider, useOperations, useStreamStatus } from './events';
import { FleetPage } from './pages/Fleet';
import { ImagesPage } from './pages/Images';
import { InstanceDetailPage } from './pages/InstanceDetail';
import { InstancesPage } from './pages/Instances';
import { LaunchPage } from './pages/Launch';
import { LoginPage } from './pages/Login';
import { OperationsPage } from './pages/Operations';
import { PlannerPage } from './pages/Planner';
import { ProfilesPage } from './pages/Profiles';
import { Link, navigate, useRoute } from './router';
import type { LxdServer } from './types';

type Auth =
  { kind: 'checking' } | { kind: 'signed-out'; expired: boolean } | { kind: 'signed-in'; server: string };

const NAV = [
  { to: '/', label: 'Fleet' },
  { to: '/instances', label: 'Instances' },
  { to: '/launch', label: 'Launch' },
  { to: '/images', label: 'Images' },
  { to: '/profiles', label: 'Profiles' },
  { to: '/operations', label: 'Operations' },
  { to: '/planner', label: 'Planner' },
];

export function App() {
  const [auth, setAuth] = useState<Auth>({ kind: 'checking' });
  const { path } = useRoute();

  const check = useCallback(() => {
    api.get<LxdServer>('/1.0').then(
      (server) => {
        setAuth(
          server.auth === 'trusted'
            ? { kind: 'signed-in', server: server.environment.server_name }
            : { kind: 'signed-out', expired: false },
        );
      },
      () => {
        setAuth({ kind: 'signed-out', expired: false });
      },
    );
  }, []);

  useEffect(() => {
    const expired = () => {
      setAuth({ kind: 'signed-out', expired: true });
    };
    window.addEventListener(UNAUTHORIZED_EVENT, expired);
    // A sign-in link: the login page trades its token first.
    if (new URLSearchParams(window.location.search).has('token'))
      setAuth({ kind: 'signed-out', expired: false });
    else check();
    return () => {
      window.removeEventListener(UNAUTHORIZED_EVENT, expired);
    };
  }, [check]);

  const signedIn = useCallback(() => {
    check();
    navigate('/', { replace: true });
  }, [check]);

  if (auth.kind === 'checking') return <div className="boot" role="status" aria-label="Loading" />;
  if (auth.kind === 'signed-out') return <LoginPage onSignedIn={signedIn} expired={auth.expired} />;
  if (path === '/login') {
    navigate('/', { replace: true });
    return null;
  }
  return (
    <ToastProvider>
      <EventsProvider>
        <Shell
          server={auth.server}
          onSignOut={() => {
            setAuth({ kind: 'signed-out', expired: false });
          }}
        />
      </EventsProvider>
    </ToastProvider>
  );
}

function Shell({ server, onSignOut }: { server: string; onSignOut: () => void }) {
  const { path } = useRoute();
  const [menuOpen, setMenuOpen] = useState(false);
  const stream = useStreamStatus();
  const running = [...useOperations().values()].filter((o) => o.status_code < 200).length;
  useEffect(() => {
    setMenuOpen(false);
  }, [path]);

  const signOut = () => {
    void api
      .run('DELETE', '/ui/session')
      .catch(() => undefined)
      .finally(onSignOut);
  };
  const active = (to: string) => (to === '/' ? path === '/' : path === to || path.startsWith(`${to}/`));

  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="menu-button"
          aria-expanded={menuOpen}
          aria-controls="nav"
          onClick={() => {
            setMenuOpen((o) => !o);
          }}
        >
          <span className="sr-only">Menu</span>
          <span className="burger" aria-hidden="true" />
        </button>
        <Link to="/" className="brand">
          <span className="logo" aria-hidden="true" />
          lxdpm
        </Link>
        <span className="server-name muted">{server}</span>
        <span className="spacer" />
        <span className={`live live-${stream}`} title="Live updates from the event stream">
          <span className="dot" aria-hidden="true" />
          {stream === 'live' ? 'Live' : stream === 'connecting' ? 'Connecting' : 'Reconnecting'}
        </span>
        <button type="button" className="ghost" onClick={signOut}>
          Sign out
        </button>
      </header>
      <nav id="nav" className={`sidenav ${menuOpen ? 'open' : ''}`} aria-label="Main">
        <ul>
          {NAV.map((n) => (
            <li key={n.to}>
              <Link to={n.to} aria-current={active(n.to) ? 'page' : undefined}>
                {n.label}
                {n.to === '/operations' && running > 0 && (
                  <span className="count" aria-label={`${running} running`}>
                    {running}
                  </span>
                )}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" className="content" tabIndex={-1}>
        <Page path={path} />
      </main>
    </div>
  );
}

function Page({ path }: { path: string }) {
  const detail = /^\/instances\/([^/]+)$/.exec(path);
  if (detail?.[1] !== undefined)
    return <InstanceDetailPage key={detail[1]} name={decodeURIComponent(detail[1])} />;
  switch (path) {
    case '/':
      return <FleetPage />;
    case '/instances':
      return <InstancesPage />;
    case '/launch':
      return <LaunchPage />;
    case '/images':
      return <ImagesPage />;
    case '/profiles':
      return <ProfilesPage />;
    case '/operations':
      return <OperationsPage />;
    case '/planner':
      return <PlannerPage />;
    default:
      return (
        <Empty>
          There is no page at {path}. <Link to="/">Go to the fleet</Link>.
        </Empty>
      );
  }
}
