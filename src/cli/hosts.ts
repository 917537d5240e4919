import type { Command } from 'commander';
import type { HostView } from '../fleet/index.js';
import { defaultDataDir, managerClient } from './manager-client.js';
import { formatBytes, renderTable } from './table.js';

interface GlobalOptions {
  dataDir?: string;
  format?: string;
}

function print(format: string | undefined, json: unknown, text: () => string): void {
  process.stdout.write(`${format === 'json' ? JSON.stringify(json, null, 2) : text()}\n`);
}

/** `lxdpm host add|list|remove`: a client of the manager's `/1.0/hosts` API. */
export function registerHostCommands(program: Command): void {
  const host = program.command('host').description('manage the LXD hosts behind the manager');
  const opts = () => program.opts<GlobalOptions>();

  host
    .command('add')
    .argument('<name>', 'name of the host (its cluster member name)')
    .argument('<url>', 'https://ADDR:PORT or unix:///path/unix.socket')
    .option('--password <password>', "the host's core.trust_password")
    .option('--token <token>', 'a join token made on the host with `lxc config trust add`')
    .option('--accept-certificate', 'trust the certificate the host presents')
    .option('--fingerprint <sha256>', "expected fingerprint of the host's certificate")
    .description('pair an LXD host with the manager')
    .action(
      async (
        name: string,
        url: string,
        o: { password?: string; token?: string; acceptCertificate?: boolean; fingerprint?: string },
      ) => {
        const client = managerClient(opts().dataDir ?? defaultDataDir());
        try {
          const { metadata } = await client.call<HostView>('POST', '/1.0/hosts', {
            name,
            url,
            password: o.password,
            token: o.token,
            accept_certificate: o.acceptCertificate === true,
            fingerprint: o.fingerprint,
          });
          print(
            opts().format,
            metadata,
            () => `Host ${metadata.name} added (${metadata.status}, LXD ${metadata.server_version})`,
          );
        } finally {
          await client.close();
        }
      },
    );

  host
    .command('list')
    .description('list the hosts with their status and capacity')
    .action(async () => {
      const client = managerClient(opts().dataDir ?? defaultDataDir());
      try {
        const hosts = await client.get<HostView[]>('/1.0/hosts', { query: { recursion: '1' } });
        print(opts().format, hosts, () =>
          renderTable(
            ['NAME', 'URL', 'STATUS', 'VERSION', 'ARCH', 'CPUS', 'MEMORY', 'MESSAGE'],
            hosts.map((h) => [
              h.name,
              h.url,
              h.status,
              h.server_version,
              h.architecture,
              String(h.cpus),
              h.memory.total > 0 ? `${formatBytes(h.memory.used)}/${formatBytes(h.memory.total)}` : '',
              h.message,
            ]),
          ),
        );
      } finally {
        await client.close();
      }
    });

  host
    .command('remove')
    .argument('<name>')
    .description('stop managing a host (its instances stay on it)')
    .action(async (name: string) => {
      const client = managerClient(opts().dataDir ?? defaultDataDir());
      try {
        await client.call('DELETE', `/1.0/hosts/${encodeURIComponent(name)}`);
        print(opts().format, null, () => `Host ${name} removed`);
      } finally {
        await client.close();
      }
    });
}
