/**
 * The `lxdpm` command line: `serve` runs the manager, `host …` talks to a running one over its unix
 * socket, `demo` runs everything on embedded defaults.
 */
import { Command } from 'commander';
import { HostUnavailableError, UpstreamError } from '../errors/index.js';
import { startManager } from '../server.js';
import { runDemo } from './demo.js';
import { registerHostCommands } from './hosts.js';
import { registerUiLoginCommand } from './ui-login.js';
import { defaultDataDir } from './manager-client.js';

const program = new Command('lxdpm')
  .description('LXD platform manager: one LXD endpoint in front of many standalone LXD hosts')
  .option('--data-dir <dir>', 'manager data directory (default $LXDPM_DIR or /var/lib/lxdpm)')
  .option('--format <format>', 'output format: table or json', 'table')
  .showHelpAfterError();

program
  .command('serve')
  .description('run the manager')
  .option(
    '--listen <addr:port>',
    'HTTPS listen address (default: stored core.https_address, else 127.0.0.1:8443)',
  )
  .action(async (o: { listen?: string }) => {
    const dataDir = program.opts<{ dataDir?: string }>().dataDir ?? defaultDataDir();
    const manager = await startManager({ dataDir, listen: o.listen });
    const stop = () => {
      manager.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

program
  .command('demo')
  .description('start three local LXD hosts and a manager in front of them, until interrupted')
  .option('--listen <addr:port>', 'HTTPS listen address of the manager', '127.0.0.1:8443')
  .action(async (o: { listen: string }) => {
    await runDemo({ listen: o.listen, dataDir: program.opts<{ dataDir?: string }>().dataDir });
  });

registerHostCommands(program);
registerUiLoginCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof UpstreamError || err instanceof HostUnavailableError || err instanceof Error) {
    process.stderr.write(`Error: ${err.message}\n`);
  } else {
    process.stderr.write(`Error: ${String(err)}\n`);
  }
  process.exit(1);
});
