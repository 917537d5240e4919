/**
 * The manager's own server configuration (`GET/PUT/PATCH /1.0` `config`): the keys it understands,
 * their validation, persistence, and applying a change (such as a new listen address) at once.
 */
import { BadRequestError } from '../errors/index.js';
import type { Store } from '../store/index.js';
import { hashPassword } from '../trust/index.js';

export interface ServerConfigHooks {
  /** Applies a new HTTPS listen address (undefined: back to the default); throws if it cannot be bound. */
  applyHttpsAddress(address: string | undefined): Promise<void>;
}

const KEYS = ['core.https_address', 'core.trust_password'] as const;
type Key = (typeof KEYS)[number];

function isKey(key: string): key is Key {
  return (KEYS as readonly string[]).includes(key);
}

export class ServerConfig {
  constructor(
    private readonly store: Store,
    private readonly hooks: ServerConfigHooks,
  ) {}

  async httpsAddress(): Promise<string | undefined> {
    return this.store.getConfig('core.https_address');
  }

  async passwordHash(): Promise<string | undefined> {
    return this.store.getConfig('core.trust_password');
  }

  /** The config map as `GET /1.0` shows it: the password only as `true`. */
  async view(): Promise<Record<string, unknown>> {
    const config: Record<string, unknown> = {};
    const address = await this.httpsAddress();
    if (address !== undefined) config['core.https_address'] = address;
    if ((await this.passwordHash()) !== undefined) config['core.trust_password'] = true;
    return config;
  }

  /**
   * PUT replaces the whole config (keys missing are unset), PATCH merges. Values are validated first so a
   * bad request changes nothing.
   */
  async update(input: unknown, mode: 'put' | 'patch'): Promise<void> {
    if (input !== null && input !== undefined && (typeof input !== 'object' || Array.isArray(input))) {
      throw new BadRequestError('config must be an object');
    }
    const given = (input ?? {}) as Record<string, unknown>;
    const changes = new Map<Key, string | undefined>();
    for (const [key, value] of Object.entries(given)) {
      if (!isKey(key)) throw new BadRequestError(`Invalid config key "${key}"`);
      if (value !== null && typeof value !== 'string' && typeof value !== 'boolean') {
        throw new BadRequestError(`Invalid value for "${key}"`);
      }
      // `lxc config edit` sends the password back as `true`: that means "unchanged".
      if (key === 'core.trust_password' && value === true) continue;
      changes.set(key, value === null || value === '' || value === false ? undefined : String(value));
    }
    if (mode === 'put') for (const key of KEYS) if (!(key in given)) changes.set(key, undefined);

    if (changes.has('core.https_address')) {
      const address = changes.get('core.https_address');
      if (address !== (await this.httpsAddress())) await this.hooks.applyHttpsAddress(address);
      await this.store.setConfig('core.https_address', address);
    }
    if (changes.has('core.trust_password')) {
      const password = changes.get('core.trust_password');
      await this.store.setConfig(
        'core.trust_password',
        password === undefined ? undefined : await hashPassword(password),
      );
    }
  }
}
