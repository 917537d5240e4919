import { describe, expect, it } from 'vitest';
import { editable, parseProfile } from './profile-yaml';

describe('parseProfile', () => {
  it('turns the edited YAML into a profile body, values as strings', () => {
    expect(
      parseProfile('description: web\nconfig:\n  limits.cpu: 2\ndevices:\n  eth0: {type: nic, mtu: 1500}\n'),
    ).toEqual({
      body: {
        description: 'web',
        config: { 'limits.cpu': '2' },
        devices: { eth0: { type: 'nic', mtu: '1500' } },
      },
    });
  });

  it.each([
    {
      what: 'a YAML syntax error, with its line',
      text: 'config:\n  a: [1, 2\n',
      error: /^YAML error on line \d+/,
    },
    { what: 'a list instead of a mapping', text: '- a\n- b\n', error: /must be a mapping/ },
    { what: 'an unknown top-level key', text: 'confg: {}\n', error: /Unknown top-level key: confg/ },
    { what: 'a device that is not a mapping', text: 'devices:\n  eth0: nic\n', error: /Device "eth0"/ },
  ])('explains $what', ({ text, error }) => {
    const parsed = parseProfile(text);
    expect('error' in parsed ? parsed.error : '').toMatch(error);
  });

  it('reads back what editable() writes', () => {
    const profile = { name: 'p', description: 'd', config: { 'user.a': 'b' }, devices: {}, used_by: [] };
    expect(parseProfile(editable(profile))).toEqual({
      body: { description: 'd', config: { 'user.a': 'b' }, devices: {} },
    });
  });
});
