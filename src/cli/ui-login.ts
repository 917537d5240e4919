import type { Command } from 'commander';
import type { HostClient } from '../lxd/index.js';
import { defaultDataDir, managerClient } from './manager-client.js';
import { renderTable } from './table.js';

interface GlobalOptions {
  dataDir?: string;
  format?: string;
}

export interface UiLoginLink {
  token: string;
  url: string;
  expires_at: string;
}

interface UiSessionListing {
  id: string;
  created_at: string;
  expires_at: string;
}

/** Asks the manager for a one-time sign-in link of the web UI. */
export async function createUiLoginLink(client: HostClient, address?: string): Promise<UiLoginLink> {
  const { metadata } = await client.call<UiLoginLink>('POST', '/1.0/ui/tokens', address ? { address } : {});
  return metadata;
}

/** `lxdpm ui-login`: prints a one-time link that signs a browser in to the web UI; also lists and revokes sessions. */
export function registerUiLoginCommand(program: Command): void {
  const opts = () => program.opts<GlobalOptions>();
  program
    .command('ui-login')
    .description('print a one-time sign-in link for the web UI (valid for 10 minutes)')
    .option(
      '--address <addr:port>',
      'address the browser reaches the manager at (default: its HTTPS address)',
    )
    .option('--list', 'list the open web UI sessions')
    .option('--revoke <id>', 'sign out one web UI session')
    .option('--revoke-all', 'sign out every web UI session')
    .action(async (o: { address?: string; list?: boolean; revoke?: string; revokeAll?: boolean }) => {
      const client = managerClient(opts().dataDir ?? defaultDataDir());
      const json = opts().format === 'json';
      const out = (value: unknown, text: string) => {
        process.stdout.write(`${json ? JSON.stringify(value, null, 2) : text}\n`);
      };
      try {
        if (o.revokeAll === true) {
          const { metadata } = await client.call<{ revoked: number }>('DELETE', '/1.0/ui/sessions');
          out(metadata, `Signed out ${metadata.revoked} web UI session${metadata.revoked === 1 ? '' : 's'}`);
        } else if (o.revoke !== undefined) {
          await client.call('DELETE', `/1.0/ui/sessions/${encodeURIComponent(o.revoke)}`);
          out(null, `Signed out session ${o.revoke}`);
        } else if (o.list === true) {
          const sessions = await client.get<UiSessionListing[]>('/1.0/ui/sessions');
          out(
            sessions,
            renderTable(
              ['ID', 'SIGNED IN', 'EXPIRES'],
              sessions.map((s) => [s.id, s.created_at, s.expires_at]),
            ),
          );
        } else {
          const link = await createUiLoginLink(client, o.address);
          out(
            link,
            link.url === ''
              ? `The manager has no HTTPS address; sign-in token: ${link.token}`
              : `Open this link in your browser to sign in (valid until ${link.expires_at}, once):\n  ${link.url}`,
          );
        }
      } finally {
        await client.close();
      }
    });
}
