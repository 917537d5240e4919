import { describe, expect, it } from 'vitest';
import { BadRequestError, InternalError, NotFoundError } from '../errors/index.js';
import type { LxdImage } from '../lxd/index.js';
import { resolveAlias, resolveImage, type FleetImage, type FleetImageScan } from './catalog.js';

function image(fingerprint: string, hosts: string[]): FleetImage {
  const img: LxdImage = {
    fingerprint,
    aliases: [],
    architecture: 'x86_64',
    auto_update: false,
    cached: false,
    filename: '',
    properties: {},
    public: false,
    expires_at: '',
    profiles: [],
    size: 1,
    type: 'container',
    created_at: '',
    last_used_at: '',
    uploaded_at: '',
  };
  return { ...img, lxdpm_hosts: hosts };
}

const scan: FleetImageScan = {
  images: new Map([
    ['abc111', image('abc111', ['h1', 'h2'])],
    ['abc222', image('abc222', ['h3'])],
    ['def333', image('def333', ['h1'])],
  ]),
  aliases: new Map([
    ['web', { name: 'web', description: '', target: 'def333', type: 'container', hosts: ['h1'] }],
  ]),
  byHost: new Map(),
  aliasesByHost: new Map(),
  failed: [],
};

describe('resolving images as LXD does', () => {
  it.each([
    ['abc111', 'abc111'],
    ['ABC111', 'abc111'],
    ['abc2', 'abc222'],
    ['d', 'def333'],
  ])('finds %s by full fingerprint or unique prefix', (query, fingerprint) => {
    expect(resolveImage(scan, query).fingerprint).toBe(fingerprint);
  });

  it.each([
    ['abc', InternalError, 'More than one image matches'],
    ['ff', NotFoundError, 'Image not found'],
    ['', BadRequestError, 'No fingerprint prefix specified for the image'],
  ])('answers %j with LXD’s error', (query, type, message) => {
    expect(() => resolveImage(scan, query)).toThrow(type);
    expect(() => resolveImage(scan, query)).toThrow(message);
  });

  it('resolves aliases by name and answers LXD’s 404 for unknown ones', () => {
    expect(resolveAlias(scan, 'web').target).toBe('def333');
    expect(() => resolveAlias(scan, 'nope')).toThrow('Image alias not found');
  });
});
