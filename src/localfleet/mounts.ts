import { readFile } from 'node:fs/promises';
import { runCommand } from './command.js';

// LXD mounts tmpfs on LXD_DIR/shmounts and LXD_DIR/devlxd (and storage volumes on some drivers).
// A daemon that was killed leaves them behind, and `rm -rf` must never descend into a live mount.

/** Mount points listed in a /proc/PID/mountinfo text, with the kernel's octal escapes undone. */
export function parseMountPoints(mountinfo: string): string[] {
  return mountinfo
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) =>
      (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_m, oct: string) =>
        String.fromCharCode(parseInt(oct, 8)),
      ),
    )
    .filter((point) => point !== '');
}

/** Mount points at or below root, deepest first, so children go before their parents. */
export function mountsUnder(mountPoints: readonly string[], root: string): string[] {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return mountPoints
    .filter((point) => point === root || point.startsWith(prefix))
    .sort((a, b) => b.split('/').length - a.split('/').length || b.length - a.length);
}

/** Unmounts everything at or below root: plain umount first, lazy detach when it is busy. */
export async function unmountUnder(root: string, log: (msg: string) => void): Promise<void> {
  // Several rounds: one path can carry stacked mounts, and each umount removes only the top one.
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(parseMountPoints(await readFile('/proc/self/mountinfo', 'utf8')), root);
    if (points.length === 0) return;
    for (const point of points) {
      const plain = await runCommand('umount', [point], { timeoutMs: 30_000 });
      if (plain.code === 0) continue;
      const lazy = await runCommand('umount', ['-l', point], { timeoutMs: 30_000 });
      if (lazy.code !== 0) log(`umount -l ${point} failed: ${lazy.stderr.trim()}`);
    }
  }
  throw new Error(`mounts under ${root} remain after 5 rounds of umount`);
}
