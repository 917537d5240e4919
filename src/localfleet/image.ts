import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { machine } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { runChecked } from './command.js';

// There is no internet here, so the test image is made from Debian's busybox-static: one static
// binary, a symlink per applet, and an inittab whose respawned sleep keeps the container Running.

const BUSYBOX = '/bin/busybox';

const INITTAB = `# lxdpm test image: nothing to boot, just stay up until stopped.
::respawn:/bin/sleep 1000000
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
`;

function metadataYaml(creationDate: number, version: string): string {
  // os.machine() is what `uname -m` prints; LXD maps it to its own architecture names.
  return [
    `architecture: ${machine()}`,
    `creation_date: ${creationDate}`,
    'properties:',
    '  os: busybox',
    `  release: "${version}"`,
    `  description: "BusyBox ${version} (lxdpm test image)"`,
    '',
  ].join('\n');
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** Applet paths relative to /, e.g. `bin/sh`, `sbin/init`, `usr/bin/env`. */
async function appletPaths(): Promise<string[]> {
  const { stdout } = await runChecked(BUSYBOX, ['--list-full']);
  return stdout.split('\n').filter((line) => line.trim() !== '');
}

async function buildRootfs(rootfs: string): Promise<void> {
  for (const dir of [
    'bin',
    'sbin',
    'usr/bin',
    'usr/sbin',
    'etc',
    'dev',
    'proc',
    'sys',
    'run',
    'var/log',
    'home',
  ]) {
    await mkdir(join(rootfs, dir), { recursive: true, mode: 0o755 });
  }
  await mkdir(join(rootfs, 'root'), { mode: 0o700 });
  await mkdir(join(rootfs, 'tmp'));
  await chmod(join(rootfs, 'tmp'), 0o1777); // mkdir's mode is filtered by the umask, chmod is not

  await copyFile(BUSYBOX, join(rootfs, 'bin/busybox'));
  await chmod(join(rootfs, 'bin/busybox'), 0o755);
  // What `busybox --install -s` does, without running anything inside the rootfs.
  for (const applet of await appletPaths()) {
    const path = join(rootfs, applet);
    if (await exists(path)) continue;
    await mkdir(dirname(path), { recursive: true });
    await symlink('/bin/busybox', path);
  }

  await writeFile(join(rootfs, 'etc/inittab'), INITTAB);
  await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\n');
  await writeFile(join(rootfs, 'etc/hosts'), '127.0.0.1 localhost\n::1 localhost\n');
}

/**
 * Builds a unified LXD image tarball (metadata.yaml + rootfs/) in dir. The result is reproducible
 * for one busybox binary (fixed mtimes, sorted entries, numeric owners), so its fingerprint, which
 * is the sha256 of the tarball, stays the same from run to run.
 */
export async function buildBusyboxImage(dir: string): Promise<{ path: string; fingerprint: string }> {
  const rootfs = join(dir, 'rootfs');
  const path = join(dir, 'busybox.tar.gz');
  await rm(rootfs, { recursive: true, force: true });
  await mkdir(rootfs, { recursive: true });

  const [{ stdout: banner }, binary] = await Promise.all([runChecked(BUSYBOX, ['--help']), stat(BUSYBOX)]);
  const version = /BusyBox (v\S+)/.exec(banner)?.[1] ?? 'unknown';
  const builtAt = Math.floor(binary.mtimeMs / 1000);

  await buildRootfs(rootfs);
  await writeFile(join(dir, 'metadata.yaml'), metadataYaml(builtAt, version));
  await runChecked('tar', [
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    `--mtime=@${builtAt}`,
    '-C',
    dir,
    '-czf',
    path,
    'metadata.yaml',
    'rootfs',
  ]);
  return { path, fingerprint: await sha256File(path) };
}
