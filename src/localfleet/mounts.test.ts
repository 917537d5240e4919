import { describe, expect, it } from 'vitest';
import { mountsUnder, parseMountPoints } from './mounts.js';

const MOUNTINFO = `27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
45 27 0:40 / /tmp/lxdpm-fleet-a/h1/shmounts rw,relatime shared:1 - tmpfs tmpfs rw,size=100k,mode=711
46 27 0:41 / /tmp/lxdpm-fleet-a/h1/devlxd rw,relatime - tmpfs tmpfs rw,size=100k,mode=755
47 45 0:42 / /tmp/lxdpm-fleet-a/h1/shmounts/deep\\040dir rw,relatime - tmpfs tmpfs rw
48 27 0:43 / /tmp/lxdpm-fleet-ab/h1/devlxd rw,relatime - tmpfs tmpfs rw
`;

describe('parseMountPoints', () => {
  it('reads the mount point field and undoes octal escapes', () => {
    expect(parseMountPoints(MOUNTINFO)).toEqual([
      '/',
      '/tmp/lxdpm-fleet-a/h1/shmounts',
      '/tmp/lxdpm-fleet-a/h1/devlxd',
      '/tmp/lxdpm-fleet-a/h1/shmounts/deep dir',
      '/tmp/lxdpm-fleet-ab/h1/devlxd',
    ]);
  });
});

describe('mountsUnder', () => {
  it('keeps only mounts inside the root, deepest first, and not those of a sibling with a longer name', () => {
    expect(mountsUnder(parseMountPoints(MOUNTINFO), '/tmp/lxdpm-fleet-a')).toEqual([
      '/tmp/lxdpm-fleet-a/h1/shmounts/deep dir',
      '/tmp/lxdpm-fleet-a/h1/shmounts',
      '/tmp/lxdpm-fleet-a/h1/devlxd',
    ]);
  });
});
