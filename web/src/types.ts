/** The shapes the UI reads: LXD's wire types (shared with the server) plus the manager's extensions. */
import type {
  HostView,
  LxdEvent,
  LxdImage,
  LxdInstance,
  LxdOperation,
  LxdProfile,
  LxdResponse,
  LxdServer,
} from '../../src/lxd/types.js';

export type { LxdEvent, LxdImage, LxdInstance, LxdOperation, LxdProfile, LxdResponse, LxdServer };

/** `GET /1.0/hosts?recursion=1`: a host behind the manager. */
export type Host = HostView;

export interface InstanceAddress {
  family: string;
  address: string;
  scope: string;
}

export interface InstanceState {
  status: string;
  status_code: number;
  pid?: number;
  cpu?: { usage: number };
  memory?: { usage: number };
  network?: Record<string, { addresses?: InstanceAddress[] | null }> | null;
}

export interface Snapshot {
  name: string;
  created_at: string;
  stateful: boolean;
  expires_at?: string;
}

/** An instance as `recursion=2` returns it: the object plus its state and snapshots. */
export interface Instance extends LxdInstance {
  created_at?: string;
  description?: string;
  profiles?: string[];
  devices?: Record<string, Record<string, string>>;
  expanded_config?: Record<string, string>;
  expanded_devices?: Record<string, Record<string, string>>;
  state?: InstanceState | null;
  snapshots?: Snapshot[] | null;
}

/** An image with the manager's extension field: the hosts that hold it. */
export type FleetImage = LxdImage & { lxdpm_hosts?: string[] };

export type Strategy = 'random' | 'scatter' | 'gather';
